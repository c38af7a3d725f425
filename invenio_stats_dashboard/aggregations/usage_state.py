"""The usage snapshot's cumulative state, kept at each community's snapshot bookmark.

A usage snapshot counts distinct records, parents and files since the series start, so
computing it from scratch reads every event ever. Instead, a run stores each
community's cumulative counters (sums, and the sets of ids the distinct counts need,
per subcount value too) as they stand at the end of the day its snapshot bookmark moves
to; the next run starts from that state and reads only the events after it. A state is
used only when it is dated exactly the day before the snapshot window starts and was
built with the same subcount settings; otherwise (a rewind after a migration or a
history change, ``--ignore-bookmark``, new settings) the run computes from the series
start, as a first run does, and stores a new state.

One state is a compressed document split into chunks (``<community>::<day>::<n>``) of
the ``stats-community-usage-state`` index; older states of a community are deleted once
a newer one is written.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from datetime import date

import orjson

from ..core import indices
from ..core.days import utc_now
from ..core.engine import search_client
from ..core.paging import chunks, search_after_hits
from .subcounts import describe

CHUNK_CHARS = 4 * 1024 * 1024
"""Largest payload per document (the engine's default limit on a request is 100 MB)."""

FORMAT = 1

_ABSENT_OK = {"ignore_unavailable": True, "allow_no_indices": True}


def fingerprint(kinds: dict) -> str:
    """What a state depends on besides the events: the format and the subcount keys."""
    return f"{FORMAT}:{describe(kinds)}"


def _encode_cumulative(counters) -> list:
    files = sorted((list(f) if isinstance(f, tuple) else f for f in counters.files), key=str)
    return [
        counters.events,
        counters.visitor_days,
        counters.volume,
        sorted(counters.records),
        sorted(counters.parents),
        files,
    ]


def _decode_cumulative(cls, data: list):
    counters = cls()
    counters.events, counters.visitor_days, counters.volume = data[0], data[1], data[2]
    counters.records = set(data[3])
    counters.parents = set(data[4])
    counters.files = {tuple(f) if isinstance(f, list) else f for f in data[5]}
    return counters


def encode(total: dict, total_sub: dict, labels: dict) -> str:
    """A community's cumulative counters (and its values' labels) as compressed text."""
    body = {
        "total": {kind: _encode_cumulative(c) for kind, c in total.items()},
        "sub": {
            key: {
                value: {kind: _encode_cumulative(c) for kind, c in pair.items()}
                for value, pair in bucket.items()
            }
            for key, bucket in total_sub.items()
        },
        "labels": [
            [key, value, labels[(key, value)]]
            for key, bucket in total_sub.items()
            for value in bucket
            if (key, value) in labels
        ],
    }
    return base64.b64encode(zlib.compress(orjson.dumps(body), 6)).decode("ascii")


def decode(text: str, cls) -> tuple[dict, dict, dict]:
    """``(total, total_sub, labels)`` back from :func:`encode` (``cls``: the counters)."""
    body = orjson.loads(zlib.decompress(base64.b64decode(text)))
    total = {kind: _decode_cumulative(cls, data) for kind, data in body["total"].items()}
    total_sub = {
        key: {
            value: {kind: _decode_cumulative(cls, data) for kind, data in pair.items()}
            for value, pair in bucket.items()
        }
        for key, bucket in body["sub"].items()
    }
    labels = {(key, value): label for key, value, label in body["labels"]}
    return total, total_sub, labels


def actions(community_id: str, day: date, print_: str, text: str) -> Iterator[dict]:
    """Bulk actions storing one state (one document per chunk)."""
    parts = [text[i : i + CHUNK_CHARS] for i in range(0, len(text), CHUNK_CHARS)] or [""]
    now = utc_now().isoformat()
    for number, part in enumerate(parts):
        yield {
            "_op_type": "index",
            "_index": indices.prefixed(indices.USAGE_STATE_INDEX),
            "_id": f"{community_id}::{day.isoformat()}::{number}",
            "_source": {
                "community_id": community_id,
                "day": day.isoformat(),
                "chunk": number,
                "chunks": len(parts),
                "fingerprint": print_,
                "payload": part,
                "updated_timestamp": now,
            },
        }


def load(wanted: dict[str, date], print_: str) -> dict[str, tuple[date, str]]:
    """``community -> (day, text)`` of the stored states dated as wanted, complete only.

    The chunks of one state share their write time: a state rewritten for the same day
    with fewer chunks leaves none of the older ones mixed in.
    """
    found: dict[str, dict[str, dict[int, str]]] = {}
    counts: dict[tuple[str, str], int] = {}
    alias = indices.usage_state_alias()
    if not wanted or not search_client.indices.exists(index=alias):
        return {}
    for ids in chunks(sorted(wanted), 500):
        body = {
            "query": {
                "bool": {
                    "filter": [
                        {"terms": {"community_id": ids}},
                        {"term": {"fingerprint": print_}},
                    ]
                }
            },
            "sort": [{"community_id": "asc"}, {"day": "asc"}, {"chunk": "asc"}],
        }
        for hit in search_after_hits(search_client, alias, body, 10, **_ABSENT_OK):
            source = hit["_source"]
            cid, stamp = source["community_id"], source["updated_timestamp"]
            if date.fromisoformat(source["day"][:10]) != wanted[cid]:
                continue
            found.setdefault(cid, {}).setdefault(stamp, {})[source["chunk"]] = source["payload"]
            counts[(cid, stamp)] = source["chunks"]
    states = {}
    for cid, writes in found.items():
        for stamp in sorted(writes, reverse=True):  # the latest complete write
            parts, count = writes[stamp], counts[(cid, stamp)]
            if len(parts) == count:
                states[cid] = (wanted[cid], "".join(parts[n] for n in range(count)))
                break
    return states


def drop(community_ids: list[str]) -> None:
    """Delete every state of these communities (their next run starts from the series)."""
    if not community_ids or not search_client.indices.exists(index=indices.usage_state_alias()):
        return
    for ids in chunks(sorted(community_ids), 500):
        search_client.delete_by_query(
            index=indices.usage_state_alias(),
            body={"query": {"terms": {"community_id": ids}}},
            conflicts="proceed",
            refresh=True,
            **_ABSENT_OK,
        )


def prune(kept: dict[str, date]) -> None:
    """Delete every other state of these communities (one request per 500 communities)."""
    if not kept:
        return
    alias = indices.usage_state_alias()
    for ids in chunks(sorted(kept), 500):
        search_client.delete_by_query(
            index=alias,
            body={
                "query": {
                    "bool": {
                        "should": [
                            {
                                "bool": {
                                    "filter": [{"term": {"community_id": cid}}],
                                    "must_not": [{"term": {"day": kept[cid].isoformat()}}],
                                }
                            }
                            for cid in ids
                        ],
                        "minimum_should_match": 1,
                    }
                }
            },
            conflicts="proceed",
            refresh=True,
            **_ABSENT_OK,
        )
