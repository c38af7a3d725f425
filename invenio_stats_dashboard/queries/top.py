"""``top-records``: the most viewed and the most downloaded records of a range.

Counted over the enriched usage events (robots left out, as in the usage statistics) of
the community (its ``community_ids`` on the event's day; global: every event), every
record paged with a composite aggregation and the top kept in a heap (exact at any
number of records, memory bounded by the page). Titles come from the records index.
"""

from __future__ import annotations

import heapq
from datetime import date

from flask import current_app

from ..core import indices
from ..core.days import day_range_query
from ..core.engine import search_client
from ..core.ids import GLOBAL
from ..core.paging import chunks, composite_buckets

TOP_DEFAULT = 10


def top_size() -> int:
    """``COMMUNITY_STATS_TOP_RECORDS``: how many records each list holds."""
    return int(current_app.config.get("COMMUNITY_STATS_TOP_RECORDS") or TOP_DEFAULT)


def _buckets(community_id, start, end, event_type, recids=None):
    """``(recid, events)`` of every record with events of the type in the range."""
    filters = [day_range_query("timestamp", start, end)]
    if community_id != GLOBAL:
        filters.append({"term": {"community_ids": community_id}})
    if recids is not None:
        filters.append({"terms": {"recid": recids}})
    query = {"bool": {"filter": filters, "must_not": [{"term": {"is_robot": True}}]}}
    for bucket in composite_buckets(
        search_client,
        indices.enriched_pattern(event_type),
        "recid",
        query=query,
        ignore_unavailable=True,
        allow_no_indices=True,
    ):
        yield bucket["key"], bucket["doc_count"]


def _top(community_id: str, start: date, end: date, event_type: str) -> list[str]:
    """The ``top_size()`` records with the most events of the type (heap, exact)."""
    size = top_size()
    heap: list[tuple[int, str]] = []
    for recid, count in _buckets(community_id, start, end, event_type):
        item = (count, recid)
        if len(heap) < size:
            heapq.heappush(heap, item)
        elif item > heap[0]:
            heapq.heapreplace(heap, item)
    return [recid for _, recid in heap]


def _counts(community_id, start, end, event_type, recids: list[str]) -> dict[str, int]:
    if not recids:
        return {}
    return dict(_buckets(community_id, start, end, event_type, recids))


def _titles(recids: list[str]) -> dict[str, str]:
    titles = {}
    for chunk in chunks(sorted(set(recids)), 500):
        response = search_client.search(
            index=indices.records_alias(),
            body={
                "query": {"terms": {"id": chunk}},
                "size": len(chunk),
                "_source": ["id", "metadata.title"],
            },
        )
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            titles[source["id"]] = (source.get("metadata") or {}).get("title") or source["id"]
    return titles


def top_records(community_id: str, start: date, end: date) -> dict:
    """The most viewed and the most downloaded records.

    ``{"by_view": [...], "by_download": [...]}``, each item ``{"id", "title", "url",
    "views", "downloads"}`` (exact counts of both), most first (ties: by record id).
    """
    chosen = {
        "by_view": _top(community_id, start, end, "view"),
        "by_download": _top(community_id, start, end, "download"),
    }
    union = sorted({recid for recids in chosen.values() for recid in recids})
    views = _counts(community_id, start, end, "view", union)
    downloads = _counts(community_id, start, end, "download", union)
    titles = _titles(union)
    weight = {"by_view": views, "by_download": downloads}

    def items(kind: str) -> list[dict]:
        ranked = sorted(chosen[kind], key=lambda recid: (-weight[kind].get(recid, 0), recid))
        return [
            {
                "id": recid,
                "title": titles.get(recid, recid),
                "url": f"/records/{recid}",
                "views": views.get(recid, 0),
                "downloads": downloads.get(recid, 0),
            }
            for recid in ranked
        ]

    return {kind: items(kind) for kind in chosen}
