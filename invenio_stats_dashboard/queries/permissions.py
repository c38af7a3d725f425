"""Who may read statistics: a permission policy in Invenio's style.

A community's statistics are readable by whoever may read the community itself (its
own permission policy decides: a restricted community's members, and admins); the
instance-wide ("global") statistics by everyone. A site changes either by configuring
``COMMUNITY_STATS_PERMISSION_POLICY`` with its own subclass.
"""

from __future__ import annotations

from flask import current_app
from invenio_records_permissions.generators import AnyUser, Generator, SystemProcess
from invenio_records_permissions.policies import BasePermissionPolicy
from werkzeug.utils import import_string


class CommunityReaders(Generator):
    """Whoever the community's own policy lets read the community (``record=community``)."""

    @staticmethod
    def _policy(community):
        from invenio_communities.proxies import current_communities

        return current_communities.service.config.permission_policy_cls("read", record=community)

    def needs(self, community=None, **kwargs):
        """The needs of the community's read permission."""
        return self._policy(community).needs if community is not None else []

    def excludes(self, community=None, **kwargs):
        """The excludes of the community's read permission."""
        return self._policy(community).excludes if community is not None else []


class CommunityStatsPermissionPolicy(BasePermissionPolicy):
    """Default policy: global statistics for all, a community's for its readers."""

    can_read_global = [AnyUser(), SystemProcess()]
    can_read_community = [CommunityReaders(), SystemProcess()]


def permission_policy() -> type[BasePermissionPolicy]:
    """The configured policy class (``COMMUNITY_STATS_PERMISSION_POLICY``)."""
    policy = current_app.config.get("COMMUNITY_STATS_PERMISSION_POLICY")
    if policy is None:
        return CommunityStatsPermissionPolicy
    return import_string(policy) if isinstance(policy, str) else policy


def can_read(identity, community) -> bool:
    """True when ``identity`` may read the statistics of ``community`` (None: global)."""
    if community is None:
        return permission_policy()("read_global").allows(identity)
    return permission_policy()("read_community", community=community).allows(identity)


def is_public(community) -> bool:
    """True when anyone may read these statistics (responses may then be shared caches')."""
    from flask_principal import Identity
    from invenio_access.permissions import any_user

    anonymous = Identity(None)
    anonymous.provides.add(any_user)
    return can_read(anonymous, community)
