"""Community ids given by users: one resolver for every command and service.

Commands accept a community's UUID or its slug, and ``global`` for the instance-wide
series. Deleted communities are unknown. One database query per value, no search.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

GLOBAL = "global"


class CommunityNotFound(ValueError):
    """One or more community ids or slugs that do not exist (the message names them)."""


def _lookup(value: str) -> str | None:
    from invenio_communities.communities.records.models import CommunityMetadata

    query = CommunityMetadata.query.filter(CommunityMetadata.is_deleted.is_(False))
    try:
        match = query.filter(CommunityMetadata.id == uuid.UUID(value)).one_or_none()
    except ValueError:
        match = query.filter(CommunityMetadata.slug == value).one_or_none()
    return None if match is None else str(match.id)


def resolve_community_ids(values: Iterable[str]) -> list[str]:
    """Community UUIDs for UUIDs or slugs, in the given order, without duplicates.

    ``global`` passes through. Raises :class:`CommunityNotFound` naming every unknown
    value at once, so a user fixes a mistyped list in one go.
    """
    resolved, unknown = [], []
    for value in values:
        value = value.strip()
        found = GLOBAL if value == GLOBAL else _lookup(value)
        if found is None:
            unknown.append(value)
        else:
            resolved.append(found)
    if unknown:
        noun = "Community" if len(unknown) == 1 else "Communities"
        raise CommunityNotFound(f"{noun} not found: {', '.join(unknown)}")
    return list(dict.fromkeys(resolved))


def resolve_community_id(value: str) -> str:
    """The UUID of one community given by UUID or slug (or ``global``)."""
    return resolve_community_ids([value])[0]
