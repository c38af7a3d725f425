"""The monthly per-item COUNTER index: one document per (community, month, item, access method).

A document keeps each day's four counts (``daily``, not indexed) and their month sums
(``metrics``), so writing a day again (a re-run, a rewind after late events) replaces
that day's contribution instead of adding to it: writes are idempotent. ``days`` lists
the days that contributed, which finds the documents a rewritten day must leave.
Reports read these documents only: a paged read or one composite aggregation.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import date

from ..core.bulk import bulk_write
from ..core.days import day_of, utc_now
from ..core.engine import search_client
from ..core.indices import COUNTER_ITEMS, counter_items_alias, yearly_index
from ..core.paging import chunks, composite_buckets, search_after_hits
from .rules import METRICS, UsageKey

MGET_CHUNK = 500
_ABSENT_OK = {"ignore_unavailable": True, "allow_no_indices": True}


def month_of(day: date) -> str:
    """``YYYY-MM``."""
    return f"{day.year:04d}-{day.month:02d}"


def doc_id(community_id: str, month: str, recid: str, method: str) -> str:
    """Deterministic id (hashed: recids and community ids have no fixed length)."""
    return hashlib.sha1(f"{community_id}|{month}|{recid}|{method}".encode()).hexdigest()


def index_of(month: str) -> str:
    """The prefixed yearly index of a month."""
    return yearly_index(COUNTER_ITEMS, int(month[:4]))


def _exists() -> bool:
    return bool(search_client.indices.exists(index=counter_items_alias()))


def write_day(day: date, metrics: dict[UsageKey, list[int]], descriptions: dict[str, dict]) -> int:
    """Store one day's counts in the monthly documents; returns documents written.

    Documents that had counts for ``day`` but none now lose that day (and go when
    nothing is left).
    """
    month, key = month_of(day), day.isoformat()
    wanted = {doc_id(c, month, r, m): (c, r, m) for c, r, m in metrics}
    stale = _ids_with_day(month, key) - set(wanted)
    existing = _get(month, [*wanted, *stale])
    now = utc_now().isoformat()
    actions = []
    for _id in stale:
        doc = existing.get(_id)
        if doc is None:
            continue
        doc["daily"].pop(key, None)
        if doc["daily"]:
            actions.append(_index_action(month, _id, _summed(doc, now)))
        else:
            actions.append({"_op_type": "delete", "_index": index_of(month), "_id": _id})
    for _id, (community_id, recid, method) in wanted.items():
        doc = existing.get(_id) or {
            "community_id": community_id,
            "month": month,
            "recid": recid,
            "access_method": method,
            "daily": {},
        }
        doc.update(descriptions[recid])
        doc["daily"][key] = list(metrics[(community_id, recid, method)])
        actions.append(_index_action(month, _id, _summed(doc, now)))
    return bulk_write(actions)


def _summed(doc: dict, now: str) -> dict:
    days = sorted(doc["daily"])
    doc["metrics"] = {
        name: sum(values[i] for values in doc["daily"].values()) for i, name in enumerate(METRICS)
    }
    doc["days"] = days
    doc["last_day"] = days[-1]
    doc["updated_timestamp"] = now
    return doc


def _index_action(month: str, _id: str, doc: dict) -> dict:
    return {"_index": index_of(month), "_id": _id, "_source": doc}


def _ids_with_day(month: str, day: str) -> set[str]:
    if not _exists():
        return set()
    body = {
        "query": {"term": {"days": day}},
        "sort": [{"community_id": "asc"}, {"recid": "asc"}, {"access_method": "asc"}],
        "_source": False,
    }
    index = index_of(month)
    if not search_client.indices.exists(index=index):
        return set()
    return {hit["_id"] for hit in search_after_hits(search_client, index, body, 1000)}


def _get(month: str, ids: list[str]) -> dict[str, dict]:
    index = index_of(month)
    if not ids or not search_client.indices.exists(index=index):
        return {}
    found = {}
    for chunk in chunks(ids, MGET_CHUNK):
        response = search_client.mget(index=index, body={"ids": chunk})
        for doc in response["docs"]:
            if doc.get("found"):
                found[doc["_id"]] = doc["_source"]
    return found


# --------------------------------------------------------------------------- reading
def _filters(community_id: str, first: str, last: str, terms: dict[str, list[str]]) -> list:
    filters: list = [
        {"term": {"community_id": community_id}},
        {"range": {"month": {"gte": first, "lte": last}}},
    ]
    for field, values in terms.items():
        if values:
            filters.append({"terms": {field: values}})
    return filters


def platform_rows(
    community_id: str, first: str, last: str, terms: dict[str, list[str]]
) -> Iterator[dict]:
    """``{"month", "data_type", "access_method", <metric>: sum}`` (one composite aggregation)."""
    if not _exists():
        return
    sums = {name: {"sum": {"field": f"metrics.{name}"}} for name in METRICS}
    for bucket in composite_buckets(
        search_client,
        counter_items_alias(),
        [(name, name) for name in ("month", "data_type", "access_method")],
        query={"bool": {"filter": _filters(community_id, first, last, terms)}},
        aggs=sums,
        **_ABSENT_OK,
    ):
        yield {
            **bucket["key"],
            **{name: int(bucket[name]["value"] or 0) for name in METRICS},
        }


def item_documents(
    community_id: str, first: str, last: str, terms: dict[str, list[str]]
) -> Iterator[dict]:
    """The monthly documents, item by item (recid order), then access method and month."""
    if not _exists():
        return
    body = {
        "query": {"bool": {"filter": _filters(community_id, first, last, terms)}},
        "sort": [{"recid": "asc"}, {"access_method": "asc"}, {"month": "asc"}],
        "_source": {"excludes": ["daily", "days"]},
    }
    for hit in search_after_hits(search_client, counter_items_alias(), body, 1000):
        yield hit["_source"]


def months_available(community_id: str) -> tuple[str, str] | None:
    """First and last month with usage of a community (or global), or None."""
    if not _exists():
        return None
    response = search_client.search(
        index=counter_items_alias(),
        body={
            "size": 0,
            "query": {"term": {"community_id": community_id}},
            "aggs": {
                "first": {"min": {"field": "last_day"}},
                "last": {"max": {"field": "last_day"}},
            },
        },
        **_ABSENT_OK,
    )
    aggs = response.get("aggregations") or {}
    first = (aggs.get("first") or {}).get("value")
    last = (aggs.get("last") or {}).get("value")
    if first is None or last is None:
        return None
    return month_of(day_of(first)), month_of(day_of(last))
