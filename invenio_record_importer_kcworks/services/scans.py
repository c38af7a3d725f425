"""Streaming reads of the records and communities indices.

Every read here is one scroll over an index, restricted with ``_source`` includes to
the few fields the repair needs. The legacy fields are mapped ``text`` on the live
site (analyzed: a term query for group ``25`` also matches ``25-b``, and text cannot
be sorted), so the search engine only narrows the candidates; dates are parsed and
group identifiers compared exactly in Python.

"Published, non-deleted" is ``is_published: true`` and ``deletion_status: "P"`` in the
records index (tombstones stay in that index with ``"D"``); drafts live in a separate
index (``rdmrecords-drafts``) that is never read.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from invenio_search.engine import search

from invenio_stats_dashboard.core.indices import communities_alias, records_alias

from .legacy_dates import InvalidLegacyDate, as_utc, parse_legacy_date

LEGACY_DATE_FIELD = "hclegacy:record_creation_date"
GROUPS_FIELD = "hclegacy:groups_for_deposit"
GROUP_ID_FIELD = "kcr:commons_group_id"

SCAN_PAGE_SIZE = 1000
"""Documents per scroll page."""

SCROLL_KEEPALIVE = "10m"
"""How long a scroll stays open between two pages (batches, pauses and delays run
between pages)."""

_RECORD_SOURCE = [
    "uuid",
    "id",
    "created",
    "parent.uuid",
    f"custom_fields.{LEGACY_DATE_FIELD}",
    f"custom_fields.{GROUPS_FIELD}.group_identifier",
]
_COMMUNITY_SOURCE = ["id", "slug", "created", f"custom_fields.{GROUP_ID_FIELD}"]


@dataclass(frozen=True)
class LegacyRecord:
    """A published record carrying the legacy creation date, as the index has it.

    ``legacy_date`` is the parsed instant (UTC), or ``None`` with ``error`` set when
    the value is not a date.
    """

    id: str
    pid: str
    parent_id: str | None
    created: datetime
    legacy_value: object
    legacy_date: datetime | None
    error: str | None
    groups: frozenset[str]


@dataclass(frozen=True)
class GroupCommunity:
    """A community that was a Commons group, as the index has it."""

    id: str
    slug: str
    group_id: str
    created: datetime


def _range(created_from: datetime | None, created_before: datetime | None) -> list[dict]:
    bounds = {}
    if created_from is not None:
        bounds["gte"] = created_from.isoformat()
    if created_before is not None:
        bounds["lt"] = created_before.isoformat()
    return [{"range": {"created": bounds}}] if bounds else []


def legacy_records_query(
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    group_id: str | None = None,
) -> dict:
    """Published, non-deleted records with the legacy date, ``created`` in ``[from, before)``.

    With ``group_id``, only records whose groups may contain it: a phrase match on the
    (analyzed) identifier finds every exact match plus look-alikes such as ``25-b``,
    which :func:`iter_legacy_records`' callers drop by comparing exactly. An
    identifier without letters or digits analyzes to nothing, so it is not narrowed.
    """
    filters = [
        {"term": {"is_published": True}},
        {"term": {"deletion_status": "P"}},
        {"exists": {"field": f"custom_fields.{LEGACY_DATE_FIELD}"}},
        *_range(created_from, created_before),
    ]
    if group_id is not None:
        field = f"custom_fields.{GROUPS_FIELD}.group_identifier"
        if any(ch.isalnum() for ch in group_id):
            filters.append({"match_phrase": {field: group_id}})
        else:
            filters.append({"exists": {"field": field}})
    return {"bool": {"filter": filters}}


def count_legacy_records(
    client, created_from: datetime | None = None, created_before: datetime | None = None
) -> int:
    """How many documents :func:`iter_legacy_records` will yield (one count request)."""
    body = {"query": legacy_records_query(created_from, created_before)}
    return client.count(index=records_alias(), body=body)["count"]


def _group_ids(custom_fields: dict) -> frozenset[str]:
    groups = custom_fields.get(GROUPS_FIELD) or []
    if isinstance(groups, dict):
        groups = [groups]
    found = set()
    for group in groups:
        value = group.get("group_identifier") if isinstance(group, dict) else None
        if value not in (None, ""):
            found.add(str(value))
    return frozenset(found)


def _legacy_record(hit: dict) -> LegacyRecord:
    source = hit["_source"]
    custom_fields = source.get("custom_fields") or {}
    raw = custom_fields.get(LEGACY_DATE_FIELD)
    try:
        legacy_date, error = parse_legacy_date(raw), None
    except InvalidLegacyDate as exc:
        legacy_date, error = None, str(exc)
    return LegacyRecord(
        id=source.get("uuid") or hit["_id"],
        pid=str(source.get("id")),
        parent_id=(source.get("parent") or {}).get("uuid"),
        created=as_utc(datetime.fromisoformat(source["created"])),
        legacy_value=raw,
        legacy_date=legacy_date,
        error=error,
        groups=_group_ids(custom_fields),
    )


def iter_legacy_records(
    client,
    created_from: datetime | None = None,
    created_before: datetime | None = None,
    group_id: str | None = None,
) -> Iterator[LegacyRecord]:
    """Stream the records of :func:`legacy_records_query` (one scroll)."""
    hits = search.helpers.scan(
        client,
        index=records_alias(),
        query={"query": legacy_records_query(created_from, created_before, group_id)},
        size=SCAN_PAGE_SIZE,
        scroll=SCROLL_KEEPALIVE,
        _source_includes=_RECORD_SOURCE,
    )
    try:
        for hit in hits:
            yield _legacy_record(hit)
    finally:
        hits.close()  # clears the scroll now, not whenever the generator is collected


def oldest_legacy_dates_by_group(client, group_id: str | None = None) -> dict[str, datetime]:
    """Oldest valid legacy creation date per group identifier, in one pass.

    Counts published, non-deleted records only, whatever their current ``created``.
    Unparseable dates never count. Group identifiers are compared exactly. With
    ``group_id``, only that group is computed (the scan is narrowed, not widened).
    """
    oldest: dict[str, datetime] = {}
    for record in iter_legacy_records(client, group_id=group_id):
        if record.legacy_date is None:
            continue
        groups = record.groups if group_id is None else record.groups & {group_id}
        for group in groups:
            if group not in oldest or record.legacy_date < oldest[group]:
                oldest[group] = record.legacy_date
    return oldest


def _group_communities_query() -> dict:
    return {
        "bool": {
            "filter": [{"exists": {"field": f"custom_fields.{GROUP_ID_FIELD}"}}],
            "must_not": [{"term": {"is_deleted": True}}],
        }
    }


def count_group_communities(client) -> int:
    """How many communities :func:`iter_group_communities` will yield."""
    body = {"query": _group_communities_query()}
    return client.count(index=communities_alias(), body=body)["count"]


def iter_group_communities(client) -> Iterator[GroupCommunity]:
    """Stream the non-deleted communities carrying a Commons group id (one scroll)."""
    hits = search.helpers.scan(
        client,
        index=communities_alias(),
        query={"query": _group_communities_query()},
        size=SCAN_PAGE_SIZE,
        scroll=SCROLL_KEEPALIVE,
        _source_includes=_COMMUNITY_SOURCE,
    )
    try:
        for hit in hits:
            source = hit["_source"]
            yield GroupCommunity(
                id=source.get("id") or hit["_id"],
                slug=source.get("slug", ""),
                group_id=str((source.get("custom_fields") or {}).get(GROUP_ID_FIELD)),
                created=as_utc(datetime.fromisoformat(source["created"])),
            )
    finally:
        hits.close()
