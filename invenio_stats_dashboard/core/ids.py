"""Community ids: ``global`` and the one resolver for ids given by users.

Commands, services and the API accept a community's UUID or its slug, and ``global``
for the instance-wide series. Deleted communities are unknown. One SQL query for any
number of values, no search.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

GLOBAL = "global"
"""The pseudo-community id of the instance-wide series."""


class CommunityNotFound(ValueError):
    """One or more community ids or slugs that do not exist (the message names them)."""


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _existing(values: list[str]) -> dict[str, str]:
    """``given value -> community UUID`` for the values naming a live community."""
    from invenio_communities.communities.records.models import CommunityMetadata

    uuids = [uuid.UUID(v) for v in values if _is_uuid(v)]
    slugs = [v for v in values if not _is_uuid(v)]
    live = CommunityMetadata.query.filter(CommunityMetadata.is_deleted.is_(False))
    found: dict[str, str] = {}
    if uuids:
        for row in live.filter(CommunityMetadata.id.in_(uuids)):
            found[str(row.id)] = str(row.id)
    if slugs:
        for row in live.filter(CommunityMetadata.slug.in_(slugs)):
            found[row.slug] = str(row.id)
    # a UUID given in another spelling (upper case) still names the community
    for value in values:
        if value not in found and _is_uuid(value) and str(uuid.UUID(value)) in found:
            found[value] = found[str(uuid.UUID(value))]
    return found


def resolve_community_ids(values: Iterable[str]) -> list[str]:
    """Community UUIDs for UUIDs or slugs, in the given order, without duplicates.

    ``global`` passes through. Raises :class:`CommunityNotFound` naming every unknown
    value at once, so a user fixes a mistyped list in one go.
    """
    given = [value.strip() for value in values if value and value.strip()]
    found = _existing([v for v in given if v != GLOBAL])
    resolved, unknown = [], []
    for value in given:
        if value == GLOBAL:
            resolved.append(GLOBAL)
        elif value in found:
            resolved.append(found[value])
        else:
            unknown.append(value)
    if unknown:
        noun = "Community" if len(unknown) == 1 else "Communities"
        raise CommunityNotFound(f"{noun} not found: {', '.join(unknown)}")
    return list(dict.fromkeys(resolved))


def resolve_community_id(value: str) -> str:
    """The UUID of one community given by UUID or slug (or ``global``)."""
    return resolve_community_ids([value])[0]


def community_slugs(community_ids: Iterable[str] | None = None) -> dict[str, str]:
    """``community id -> slug`` (``global`` -> ``global``); default: every live community.

    Unknown ids map to themselves.
    """
    from invenio_communities.communities.records.models import CommunityMetadata

    live = CommunityMetadata.query.filter(CommunityMetadata.is_deleted.is_(False))
    if community_ids is None:
        rows = live.order_by(CommunityMetadata.slug)
        return {GLOBAL: GLOBAL, **{str(row.id): row.slug for row in rows}}
    ids = list(dict.fromkeys(community_ids))
    keys = [uuid.UUID(c) for c in ids if c != GLOBAL and _is_uuid(c)]
    rows = live.filter(CommunityMetadata.id.in_(keys)) if keys else []
    slugs = {str(row.id): row.slug for row in rows}
    return {c: GLOBAL if c == GLOBAL else slugs.get(c, c) for c in ids}
