"""Paged composite aggregations: every bucket, never a truncated terms list."""

from __future__ import annotations

from collections.abc import Iterator


def composite_buckets(
    client,
    index: str,
    field: str,
    query: dict | None = None,
    aggs: dict | None = None,
    size: int = 1000,
) -> Iterator[dict]:
    """Every bucket of a composite aggregation on ``field``, page by page.

    Each bucket is ``{"key": value, "doc_count": n, <sub-aggregation>: {...}}``; one
    search request per ``size`` buckets.
    """
    composite: dict = {"size": size, "sources": [{"key": {"terms": {"field": field}}}]}
    body: dict = {"size": 0, "aggs": {"paged": {"composite": composite}}}
    if query is not None:
        body["query"] = query
    if aggs:
        body["aggs"]["paged"]["aggs"] = aggs
    while True:
        agg = client.search(index=index, body=body)["aggregations"]["paged"]
        for bucket in agg["buckets"]:
            yield {**bucket, "key": bucket["key"]["key"]}
        after = agg.get("after_key")
        if not after or not agg["buckets"]:
            return
        composite["after"] = after
