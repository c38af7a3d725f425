"""Reads for the records aggregations: the membership history and the record documents.

Per community: one scroll over its membership events (``COMMUNITY_STATS_AGGREGATION_PAGE_SIZE``
per page) and one ``ids`` search per page of its records. Nothing is truncated.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime

from flask import current_app
from invenio_search import current_search_client
from opensearchpy.helpers import scan

from ..search.paging import composite_buckets
from .record_engine import Membership, membership_from_events
from .record_facts import SOURCE_FIELDS, RecordFacts, facts_from_source, missing_facts

EVENT_FIELDS = [
    "record_id",
    "event_type",
    "event_date",
    "record_created_date",
    "record_published_date",
    "timestamp",
]


def page_size() -> int:
    """Documents per read request."""
    return int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_PAGE_SIZE") or 2000)


def events_alias() -> str:
    """The membership history alias (owned by the events API)."""
    from ..events.api import events_alias as api_alias

    return api_alias()


def records_alias() -> str:
    """The published records' search alias."""
    from invenio_rdm_records.records.api import RDMRecord

    return RDMRecord.index.search_alias


def to_datetime(value: str) -> datetime:
    """Parse a stored date or datetime into a naive UTC datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def to_day(value: str | None) -> date | None:
    """The UTC day of a stored date or datetime."""
    return to_datetime(value).date() if value else None


def history_community_ids(client=None) -> list[str]:
    """Every community id present in the membership history ("global" included)."""
    client = client or current_search_client
    alias = events_alias()
    if not client.indices.exists(index=alias):
        return []
    return [bucket["key"] for bucket in composite_buckets(client, alias, "community_id")]


def load_memberships(community_id: str, client=None) -> dict[str, Membership]:
    """Every record's membership intervals in one community."""
    client = client or current_search_client
    alias = events_alias()
    if not client.indices.exists(index=alias):
        return {}
    by_record: dict[str, list[tuple]] = defaultdict(list)
    hits = scan(
        client,
        index=alias,
        query={"query": {"term": {"community_id": community_id}}},
        size=page_size(),
        _source=EVENT_FIELDS,
    )
    for hit in hits:
        source = hit["_source"]
        by_record[source["record_id"]].append(
            (
                to_datetime(source["event_date"]),
                source.get("timestamp"),
                source["event_type"],
                to_day(source.get("record_created_date")),
                to_day(source.get("record_published_date")),
            )
        )
    return {record_id: membership_from_events(events) for record_id, events in by_record.items()}


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for position in range(0, len(values), size):
        yield values[position : position + size]


def load_facts(
    record_ids: Iterable[str], keys: list[str], client=None
) -> tuple[dict[str, RecordFacts], dict[str, dict[str, str]]]:
    """Facts of the given records (by UUID) and the labels of their subcount values."""
    client = client or current_search_client
    ids = sorted(set(record_ids))
    facts: dict[str, RecordFacts] = {}
    labels: dict[str, dict[str, str]] = {}
    size = min(page_size(), 10000)
    for chunk in _chunks(ids, size):
        response = client.search(
            index=records_alias(),
            body={"size": len(chunk), "query": {"ids": {"values": chunk}}},
            _source_includes=SOURCE_FIELDS,
        )
        for hit in response["hits"]["hits"]:
            facts[hit["_id"]] = facts_from_source(hit["_source"], keys, labels)
    for record_id in ids:
        if record_id not in facts:
            facts[record_id] = missing_facts(record_id)
    return facts, labels
