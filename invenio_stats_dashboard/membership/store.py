"""Reads and writes of the membership history (``stats-community-events-YYYY``).

This module owns the history indices: every query on them lives here. Reads are paged
(``core.paging``), writes go through the one bulk writer, and a missing index is an
empty history.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

from flask import current_app

from ..core import indices
from ..core.bulk import bulk_write
from ..core.days import day_of, to_datetime
from ..core.engine import search_client
from ..core.paging import chunks, composite_buckets, scroll_hits, search_after_pages
from ..search.setup import ensure_search_setup
from .model import Change
from .plan import HistoryEvent, RecordPlan

HISTORY_PAGE_SIZE = 5000
"""Events read per request when loading the history of a batch of records."""

TERMS_CHUNK = 1000
"""Record ids per ``terms`` query."""

_HISTORY_SORT = [
    {"record_id": "asc"},
    {"community_id": "asc"},
    {"event_date": "asc"},
    {"event_type": "asc"},
]
"""Unique per event (ids are made of these fields), so search_after never skips one."""

_ABSENT_OK = {"ignore_unavailable": True, "allow_no_indices": True}


def history_exists() -> bool:
    """True once the history has an index."""
    return bool(search_client.indices.exists(index=indices.events_alias()))


# --------------------------------------------------------------------------- records' history
def read_history(record_ids: Iterable[str]) -> dict[str, list[HistoryEvent]]:
    """All stored events of the given records, grouped by record id.

    A batch of records costs one request unless it holds more than
    ``HISTORY_PAGE_SIZE`` events.
    """
    history: dict[str, list[HistoryEvent]] = defaultdict(list)
    for chunk in chunks(sorted(set(record_ids)), TERMS_CHUNK):
        body = {"query": {"terms": {"record_id": chunk}}, "sort": _HISTORY_SORT}
        for page in search_after_pages(
            search_client, indices.events_alias(), body, HISTORY_PAGE_SIZE, **_ABSENT_OK
        ):
            for hit in page:
                history[hit["_source"]["record_id"]].append(HistoryEvent.from_hit(hit))
    return history


def changes_by_community(events: Iterable[HistoryEvent]) -> dict[str, list[Change]]:
    """One record's events as membership changes per community."""
    found: dict[str, list[Change]] = defaultdict(list)
    for event in events:
        found[event.community_id].append(Change(event.event_date, event.event_type))
    return found


# --------------------------------------------------------------------------- one community
@dataclass(slots=True)
class MemberHistory:
    """One record's history in one community, as the records aggregations need it."""

    changes: list[Change]
    created: date | None = None
    published: date | None = None
    _written: str = ""

    def add(self, source: dict) -> None:
        """Take one stored event; the record's dates come from its latest written event.

        (A repair updates them all; a half-finished one never mixes old and new.)
        """
        self.changes.append(Change(to_datetime(source["event_date"]), source["event_type"]))
        written = str(source.get("updated_timestamp") or source.get("timestamp") or "")
        if written >= self._written:
            self._written = written
            self.created = day_of(source.get("record_created_date")) or self.created
            self.published = day_of(source.get("record_published_date")) or self.published


HISTORY_FIELDS = [
    "record_id",
    "event_type",
    "event_date",
    "record_created_date",
    "record_published_date",
    "updated_timestamp",
    "timestamp",
]


def community_events(community_id: str, page_size: int = 2000) -> Iterator[dict]:
    """Every stored event of one community (``HISTORY_FIELDS``), in no order (a scroll)."""
    for hit in scroll_hits(
        search_client,
        indices.events_alias(),
        {"term": {"community_id": community_id}},
        size=page_size,
        source=HISTORY_FIELDS,
        **_ABSENT_OK,
    ):
        yield hit["_source"]


def member_histories(events: Iterable[dict]) -> Iterator[tuple[str, MemberHistory]]:
    """``(record id, history)`` of events sorted (at least grouped) by record id."""
    record_id, entry = None, None
    for source in events:
        if source["record_id"] != record_id:
            if entry is not None:
                yield record_id, entry
            record_id, entry = source["record_id"], MemberHistory(changes=[])
        entry.add(source)
    if entry is not None:
        yield record_id, entry


def community_history(
    community_id: str, record_ids: Iterable[str], page_size: int = 2000
) -> Iterator[tuple[str, MemberHistory]]:
    """The history of the given records in one community, record by record."""

    def sources() -> Iterator[dict]:
        for chunk in chunks(sorted(set(record_ids)), TERMS_CHUNK):
            query = {
                "bool": {
                    "filter": [
                        {"term": {"community_id": community_id}},
                        {"terms": {"record_id": chunk}},
                    ]
                }
            }
            body = {"query": query, "sort": _HISTORY_SORT, "_source": HISTORY_FIELDS}
            for page in search_after_pages(
                search_client, indices.events_alias(), body, page_size, **_ABSENT_OK
            ):
                for hit in page:
                    yield hit["_source"]

    return member_histories(sources())


def records_written_since(community_id: str, since: datetime) -> set[str]:
    """Records with an event in the community written or changed at or after ``since``."""
    if not history_exists():
        return set()
    query = {
        "bool": {
            "filter": [
                {"term": {"community_id": community_id}},
                {"range": {"updated_timestamp": {"gte": since.isoformat()}}},
            ]
        }
    }
    return {
        bucket["key"]
        for bucket in composite_buckets(
            search_client, indices.events_alias(), "record_id", query=query
        )
    }


def history_indices() -> dict[str, str]:
    """The history indices' identities (name -> uuid).

    An index deleted and created again has a new identity; a new year's index is a new
    name, not a different one.
    """
    found = search_client.indices.get(index=indices.events_alias())
    return {
        name: str(settings.get("settings", {}).get("index", {}).get("uuid", ""))
        for name, settings in found.items()
    }


def history_events_before(moment: datetime) -> int:
    """How many stored events were last written before ``moment``."""
    if not history_exists():
        return 0
    query = {"range": {"updated_timestamp": {"lt": moment.isoformat()}}}
    found = search_client.count(index=indices.events_alias(), body={"query": query})
    return int(found["count"])


def history_fingerprint(community_id: str) -> tuple[int, dict[str, str]]:
    """The number of a community's stored events, and the history indices' identities.

    A copy of a community's history (the records aggregations keep one) is complete
    while its events add up to this count and the indices it was read from are still
    there with the same identity (an index deleted and created again has a new one; a
    new year's index is new, not different).
    """
    if not history_exists():
        return 0, {}
    alias = indices.events_alias()
    search_client.indices.refresh(index=alias)
    query = {"term": {"community_id": community_id}}
    count = search_client.count(index=alias, body={"query": query})
    return int(count["count"]), history_indices()


def history_community_ids(since: datetime | None = None) -> list[str]:
    """Every community id present in the history (``global`` included), sorted.

    ``since``: only those with an event written at or after that moment.
    """
    if not history_exists():
        return []
    query = None
    if since is not None:
        query = {"range": {"updated_timestamp": {"gte": since.isoformat()}}}
    return sorted(
        bucket["key"]
        for bucket in composite_buckets(
            search_client, indices.events_alias(), "community_id", query=query
        )
    )


def communities_of_records(record_ids: Iterable[str]) -> set[str]:
    """Communities (``global`` included) appearing in the records' history."""
    return set().union(*communities_by_record(record_ids).values())


def communities_by_record(record_ids: Iterable[str]) -> dict[str, set[str]]:
    """``record -> communities`` (``global`` included) in the records' history."""
    found: dict[str, set[str]] = defaultdict(set)
    if not history_exists():
        return found
    for chunk in chunks(sorted(set(record_ids)), TERMS_CHUNK):
        for bucket in composite_buckets(
            search_client,
            indices.events_alias(),
            [("record", "record_id"), ("community", "community_id")],
            query={"terms": {"record_id": chunk}},
        ):
            found[bucket["key"]["record"]].add(bucket["key"]["community"])
    return found


BASIS_FIELDS = {"created": "record_created_date", "published": "record_published_date"}


def earliest_changed_days(since: datetime) -> dict[str, dict[str, date]]:
    """Earliest days of the events written or changed since ``since``, per community.

    ``community -> {"event" | "created" | "published": day}`` (one paged composite
    aggregation).
    """
    if not history_exists():
        return {}
    search_client.indices.refresh(index=indices.events_alias())
    fields = {"event": "event_date", **BASIS_FIELDS}
    found: dict[str, dict[str, date]] = {}
    for bucket in composite_buckets(
        search_client,
        indices.events_alias(),
        "community_id",
        query={"range": {"updated_timestamp": {"gte": since.isoformat()}}},
        aggs={name: {"min": {"field": field}} for name, field in fields.items()},
    ):
        found[bucket["key"]] = {
            name: day_of(bucket[name].get("value"))
            for name in fields
            if bucket[name].get("value") is not None
        }
    return found


def latest_change_days(since: date) -> dict[str, date]:
    """``community -> latest day`` an event counts from, where that is ``since`` or later.

    An event counts from its own day, or its record's created or publication day. A
    community missing here has no history touching ``since`` or later under any date
    basis (one paged composite aggregation over the communities that do).
    """
    if not history_exists():
        return {}
    fields = ("event_date", *BASIS_FIELDS.values())
    after = since.isoformat()
    found: dict[str, date] = {}
    for bucket in composite_buckets(
        search_client,
        indices.events_alias(),
        "community_id",
        query={
            "bool": {
                "should": [{"range": {field: {"gte": after}}} for field in fields],
                "minimum_should_match": 1,
            }
        },
        aggs={field: {"max": {"field": field}} for field in fields},
    ):
        days = [day_of(bucket[field].get("value")) for field in fields]
        found[bucket["key"]] = max(d for d in days if d is not None)
    return found


def community_event_details(community_ids: list[str]) -> dict[str, dict]:
    """Stored events and first/last event day per community (paged, exact at any size)."""
    details: dict[str, dict] = {}
    if not community_ids or not history_exists():
        return details
    for bucket in composite_buckets(
        search_client,
        indices.events_alias(),
        "community_id",
        query={"terms": {"community_id": list(community_ids)}},
        aggs={
            "first": {"min": {"field": "event_date"}},
            "last": {"max": {"field": "event_date"}},
        },
        size=500,
    ):
        details[bucket["key"]] = {
            "events": bucket["doc_count"],
            "first_event": day_of(bucket["first"].get("value")),
            "last_event": day_of(bucket["last"].get("value")),
        }
    return details


# --------------------------------------------------------------------------- writes
def plan_actions(plans: Iterable[RecordPlan]) -> Iterator[dict]:
    """Bulk actions for the plans: index new events, delete re-dated ones, update flags."""
    for plan in plans:
        for index, doc_id in plan.deletes:
            yield {"_op_type": "delete", "_index": index, "_id": doc_id}
        for doc in plan.new_events:
            source = {k: v for k, v in doc.items() if k != "_id"}
            yield {
                "_op_type": "index",
                "_index": indices.events_index(to_datetime(doc["event_date"]).year),
                "_id": doc["_id"],
                "_source": source,
            }
        for index, doc_id, changes in plan.updates:
            yield {"_op_type": "update", "_index": index, "_id": doc_id, "doc": changes}


def write_plans(plans: Iterable[RecordPlan], refresh: bool = False) -> int:
    """Write the plans (one batch, in memory); returns the actions written.

    Raises :class:`~invenio_stats_dashboard.core.bulk.BulkWriteError` if any action
    fails (nothing is lost: a re-run plans the same writes again).
    """
    ensure_search_setup()
    # grouped by index (stable: one document's actions keep their order): the engine
    # handles a bulk request faster when each index's actions are together
    actions = sorted(plan_actions(plans), key=lambda action: action["_index"])
    written = bulk_write(
        actions,
        chunk_size=int(current_app.config.get("COMMUNITY_STATS_EVENTS_BULK_CHUNK_SIZE", 2000)),
    )
    if written and refresh:
        refresh_history()
    return written


def refresh_history() -> None:
    """Make written events searchable (a no-op when no index exists yet)."""
    search_client.indices.refresh(index=indices.events_alias(), **_ABSENT_OK)
