"""Reads of aggregation documents: what ``read``, ``status``, the runs and the API share.

Query types are the registered aggregators' ``query_type`` names
(``community-record-delta-created``, ..., ``community-usage-snapshot``).
"""

from __future__ import annotations

from datetime import date

from ..core.days import day_of, day_range_query
from ..core.engine import search_client
from ..core.paging import composite_buckets, search_after_hits
from .registry import Aggregator, by_query_type

PAGE_SIZE = 500


class UnknownQueryType(ValueError):
    """A query type no aggregator provides (the message lists the valid ones)."""


def query_types() -> list[str]:
    """Every available query type, in aggregation order."""
    return list(by_query_type())


def document_day(document: dict) -> date:
    """The day a daily document stands for (its snapshot date or period start)."""
    return day_of(document.get("snapshot_date") or document.get("period_start"))


def flat_metrics(value, prefix: str = "") -> dict[str, int | float]:
    """A document's numbers by dotted path (``totals.view.total_events``), for tables."""
    flat: dict[str, int | float] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(flat_metrics(inner, f"{prefix}{key}."))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        flat[prefix[:-1]] = value
    return flat


def read_documents(
    aggregator: Aggregator,
    community_id: str,
    start: date,
    end: date,
    *,
    days: list[date] | None = None,
    exclude: list[str] | None = None,
) -> list[dict]:
    """The community's documents dated ``start``..``end`` (inclusive), oldest first.

    ``days``: only these days of the range; ``exclude``: source fields left out.
    """
    if not search_client.indices.exists(index=aggregator.alias):
        return []
    field = aggregator.date_field
    filters = [{"term": {"community_id": community_id}}, day_range_query(field, start, end)]
    if days is not None:
        should = [day_range_query(field, day, day) for day in days]
        filters.append({"bool": {"should": should, "minimum_should_match": 1}})
    body: dict = {"query": {"bool": {"filter": filters}}, "sort": [{field: "asc"}]}
    if exclude:
        body["_source"] = {"excludes": exclude}
    return [
        hit["_source"]
        for hit in search_after_hits(search_client, aggregator.alias, body, PAGE_SIZE)
    ]


def read_stats(
    community_id: str, start: date, end: date, query_type: str | None = None
) -> dict[str, list[dict]]:
    """``query type -> documents`` for one query type, or for all of them (the meta-query)."""
    available = by_query_type()
    if query_type is not None and query_type not in available:
        raise UnknownQueryType(
            f"unknown query type {query_type!r}; choose from: {', '.join(available)}"
        )
    chosen = [query_type] if query_type else list(available)
    return {name: read_documents(available[name], community_id, start, end) for name in chosen}


def documents_by_community(
    aggregator: Aggregator, community_ids: list[str] | None = None
) -> dict[str, tuple[int, date | None, date | None]]:
    """``community_id -> (documents, first day, last day)`` (one paged composite aggregation).

    Empty when the aggregation's index does not exist yet.
    """
    if not search_client.indices.exists(index=aggregator.alias):
        return {}
    query = {"terms": {"community_id": community_ids}} if community_ids else None
    aggs = {
        "first": {"min": {"field": aggregator.date_field}},
        "last": {"max": {"field": aggregator.date_field}},
    }
    return {
        bucket["key"]: (
            bucket["doc_count"],
            day_of(bucket["first"].get("value")),
            day_of(bucket["last"].get("value")),
        )
        for bucket in composite_buckets(
            search_client, aggregator.alias, "community_id", query, aggs, size=500
        )
    }
