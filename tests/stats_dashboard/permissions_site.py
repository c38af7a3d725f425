"""The people and communities of a site that tests permissions: what API and COUNTER share.

An owner (of both communities), an outsider, a superuser admin; an open community and a
restricted one. The package's stats indices are dropped first (each module builds its
own numbers).
"""

from __future__ import annotations

from invenio_access.models import ActionUsers
from invenio_access.permissions import superuser_access
from invenio_search import current_search_client

from invenio_stats_dashboard.core.indices import prefixed
from invenio_stats_dashboard.demo import factories


def users_and_communities(app, database, user_fixture, prefix: str) -> tuple[dict, dict]:
    """``(users by role, communities {"open", "closed"})``, slugs ``<prefix>-open|closed``."""
    current_search_client.indices.delete(
        index=prefixed("stats-*") + "," + prefixed("events-stats-*"),
        ignore=[404],
        expand_wildcards="all",
    )
    users = {}
    for name in ("owner", "outsider", "admin"):
        user = user_fixture(
            email=f"{prefix}-{name}@example.org", password="password", active=True, confirmed=True
        )
        user.create(app, database)
        users[name] = user
    database.session.add(ActionUsers.allow(superuser_access, user_id=users["admin"].id))
    database.session.commit()
    owner = users["owner"].identity
    communities = {
        "open": factories.create_community(owner, f"{prefix}-open"),
        "closed": factories.create_community(owner, f"{prefix}-closed", visibility="restricted"),
    }
    return users, communities
