"""Daily documents of one community over a date range, per query type.

Query types are the registered aggregators' ``query_type`` names
(``community-record-delta-created``, ..., ``community-usage-snapshot``).
"""

from __future__ import annotations

from datetime import date

from invenio_search import current_search_client

from ..aggregations.base import Aggregator, by_query_type

PAGE_SIZE = 500


class UnknownQueryType(ValueError):
    """A query type no aggregator provides."""


def query_types() -> list[str]:
    """Every available query type, in aggregation order."""
    return list(by_query_type())


def read_documents(aggregator: Aggregator, community_id: str, start: date, end: date) -> list[dict]:
    """The community's documents dated ``start``..``end`` (inclusive), oldest first.

    Paged with ``search_after`` on the day, so a long range is never truncated.
    """
    if not current_search_client.indices.exists(index=aggregator.alias):
        return []
    field = aggregator.date_field
    query = {
        "bool": {
            "filter": [
                {"term": {"community_id": community_id}},
                {
                    "range": {
                        field: {"gte": start.isoformat(), "lte": f"{end.isoformat()}T23:59:59"}
                    }
                },
            ]
        }
    }
    documents: list[dict] = []
    after = None
    while True:
        body = {"size": PAGE_SIZE, "query": query, "sort": [{field: "asc"}]}
        if after is not None:
            body["search_after"] = after
        hits = current_search_client.search(index=aggregator.alias, body=body)["hits"]["hits"]
        documents.extend(hit["_source"] for hit in hits)
        if len(hits) < PAGE_SIZE:
            return documents
        after = hits[-1]["sort"]


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
