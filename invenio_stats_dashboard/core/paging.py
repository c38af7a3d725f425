"""Paged reads: every hit and every bucket, never a truncated page.

The package has no hand-written paging loop outside this module:

- :func:`composite_buckets`: every bucket of a composite aggregation (one request per
  ``size`` buckets), for counts and per-key minima/maxima at any number of keys;
- :func:`search_after_pages`: pages of hits sorted on a total order (the caller's sort
  must end on fields that make each document unique), for streams in a known order;
- :func:`scroll_hits`: every hit in no particular order, for whole-index reads;
- :func:`chunks`: values cut into lists (``ids`` / ``terms`` queries of bounded size);
- :func:`search`: one search request with the package's timeout, decoded with orjson
  (the pages above use it).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import batched
from urllib.parse import quote

import orjson
from invenio_search.engine import search as search_engine

from .retries import with_retries
from .timeouts import search_timeout


def search(client, index: str, body: dict, **params) -> dict:
    """``client.search(index=index, body=body, **params)``, decoded with orjson.

    Statistics reads bring back megabytes of JSON, which orjson decodes in two thirds of
    the client's time. The request goes through one of the client's own connections
    (its hosts, auth, TLS, compression; another one on each retry). Transient failures
    are retried with backoff (``core.retries``); a timeout is not.
    """
    timeout = params.pop("request_timeout", None) or search_timeout()
    query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
    path = f"/{quote(index, safe=',*')}/_search"

    def once() -> bytes:
        connection = client.transport.get_connection()
        _, _, data = connection.perform_request(
            "POST", path, params=query or None, body=orjson.dumps(body), timeout=timeout
        )
        return data

    return orjson.loads(with_retries(once))


def composite_buckets(
    client,
    index: str,
    sources: str | Sequence[tuple[str, str]],
    query: dict | None = None,
    aggs: dict | None = None,
    size: int = 1000,
    missing_bucket: bool = False,
    **search_kwargs,
) -> Iterator[dict]:
    """Every bucket of a composite aggregation, page by page.

    ``sources``: one field name (the bucket's ``key`` is then that field's value) or
    ``(name, field)`` pairs (``key`` is then the dict of values by name). Each bucket
    is ``{"key": ..., "doc_count": n, <sub-aggregation>: {...}}``. ``search_kwargs``
    go to the search call (e.g. ``ignore_unavailable=True``).
    """
    single = isinstance(sources, str)
    pairs = [("key", sources)] if single else list(sources)
    composite: dict = {
        "size": size,
        "sources": [
            {
                name: {
                    "terms": {
                        "field": field,
                        **({"missing_bucket": True} if missing_bucket else {}),
                    }
                }
            }
            for name, field in pairs
        ],
    }
    body: dict = {"size": 0, "aggs": {"paged": {"composite": composite}}}
    if query is not None:
        body["query"] = query
    if aggs:
        body["aggs"]["paged"]["aggs"] = aggs
    while True:
        response = search(client, index, body, **search_kwargs)
        agg = (response.get("aggregations") or {}).get("paged")
        if not agg:
            return
        for bucket in agg["buckets"]:
            key = bucket["key"]["key"] if single else bucket["key"]
            yield {**bucket, "key": key}
        after = agg.get("after_key")
        if not after or not agg["buckets"]:
            return
        composite["after"] = after


def search_after_pages(
    client, index: str, body: dict, size: int, **search_kwargs
) -> Iterator[list[dict]]:
    """Pages of hits of ``body`` (which must hold a total ``sort``), ``size`` per page.

    Stops after the first short page; a page is never empty. ``body`` is not changed.
    """
    if not body.get("sort"):
        raise ValueError("search_after paging needs a sort")
    body = {**body, "size": size}
    while True:
        hits = search(client, index, body, **search_kwargs)["hits"]["hits"]
        if hits:
            yield hits
        if len(hits) < size:
            return
        body["search_after"] = hits[-1]["sort"]


def search_after_hits(client, index: str, body: dict, size: int, **search_kwargs) -> Iterator[dict]:
    """Every hit of :func:`search_after_pages`, one by one."""
    for page in search_after_pages(client, index, body, size, **search_kwargs):
        yield from page


def scroll_hits(
    client,
    index: str,
    query: dict | None = None,
    size: int = 1000,
    source: list[str] | bool | None = None,
    scroll: str = "5m",
    **search_kwargs,
) -> Iterator[dict]:
    """Every hit of ``query`` in no particular order (a scroll); closes it when done."""
    body: dict = {"query": query or {"match_all": {}}}
    kwargs = dict(search_kwargs) if source is None else {**search_kwargs, "_source": source}
    hits = search_engine.helpers.scan(
        client,
        index=index,
        query=body,
        size=size,
        scroll=scroll,
        request_timeout=search_timeout(),
        **kwargs,
    )
    try:
        yield from hits
    finally:
        hits.close()


def chunks(values: Iterable, size: int) -> Iterator[list]:
    """``values`` cut into lists of at most ``size`` (for ``ids``/``terms`` queries)."""
    for chunk in batched(values, size):
        yield list(chunk)
