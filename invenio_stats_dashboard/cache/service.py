"""Answers through the cache: get, or compute and store; drops after rewrites; warm-up.

Used by the REST API, the ``cache`` commands and the warm-up task chained after
``aggregate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import orjson
from flask import current_app

from ..core.collector import collector_paused
from ..core.days import utc_today
from ..queries.service import CATEGORY_QUERIES, StatsQuery, compute, follows_basis
from .store import CacheKey, Entry, ResponseCache, pattern


def cache_enabled() -> bool:
    """``COMMUNITY_STATS_CACHE_ENABLED`` (default True)."""
    return bool(current_app.config.get("COMMUNITY_STATS_CACHE_ENABLED", True))


def key_of(query: StatsQuery) -> CacheKey:
    """The cache key of a query."""
    return CacheKey(query.community_id, query.stat, query.start, query.end, query.basis)


def to_json(result) -> bytes:
    """A result as compact JSON bytes."""
    return orjson.dumps(result)


def answer(query: StatsQuery, cache: ResponseCache | None = None) -> Entry:
    """A query's JSON answer with its ETag and when it was computed, from the cache or fresh.

    A computed answer is stored when complete (its documents reach the range's last day).
    """
    if not cache_enabled():
        with collector_paused():
            return Entry.of(to_json(compute(query)[0]))
    cache = cache or ResponseCache()
    key = key_of(query)
    entry = cache.get(key)
    if entry is not None:
        return entry
    with collector_paused():
        result, last = compute(query)
        body = to_json(result)
        del result  # freed here, by reference counting
    if last is not None and last >= query.end:
        return cache.put(key, body, settled=query.settled)
    return Entry.of(body)


STAT_GROUPS = {
    "record_deltas": ("community-record-delta-", "record-delta-category"),
    "record_snapshots": ("community-record-snapshot-", "record-snapshot-category"),
    "usage_deltas": ("community-usage-delta", "usage-delta-category"),
    "usage_snapshots": ("community-usage-snapshot", "usage-snapshot-category"),
}
"""The reference implementation's statistic names and the queries each covers."""


def stats_named(name: str) -> list[str]:
    """The queries a name covers: a query name, or a group (``record_snapshots``...).

    Raises ``ValueError`` listing the valid names.
    """
    from ..queries.service import query_names

    names = query_names()
    if name in names:
        return [name]
    if name in STAT_GROUPS:
        return [q for q in names if q.startswith(STAT_GROUPS[name])]
    raise ValueError(
        f"unknown statistic {name!r}; give a query ({', '.join(names)}) "
        f"or a group ({', '.join(STAT_GROUPS)})"
    )


def clear(community_id: str = "*", stats: list[str] | None = None) -> int:
    """Drop the entries of a community (``*``: all) and statistics (None: all)."""
    cache = ResponseCache()
    if not stats:
        return cache.drop(pattern(community_id))
    return sum(cache.drop(pattern(community_id, stat)) for stat in stats)


def drop_rewritten(outcomes: dict[str, dict]) -> int:
    """After an aggregation run: drop each community's entries that reach a rewritten day.

    ``outcomes``: ``aggregation name -> {community id: CommunityOutcome}``.
    """
    if not cache_enabled():
        return 0
    since: dict[str, date] = {}
    for per_community in outcomes.values():
        for community_id, outcome in per_community.items():
            if outcome.documents and outcome.start is not None:
                current = since.get(community_id)
                since[community_id] = min(current, outcome.start) if current else outcome.start
    cache = ResponseCache()
    return sum(cache.drop_community(cid, day) for cid, day in since.items())


def warm_bases() -> list[str]:
    """``COMMUNITY_STATS_CACHE_WARM_BASES``: the date bases the warm-up computes."""
    return list(current_app.config.get("COMMUNITY_STATS_CACHE_WARM_BASES") or ["added"])


def warm(community_ids: Iterable[str], year: int | None = None) -> dict[str, int]:
    """Compute and store the dashboard's category queries of a year for each community.

    Default year: the current one, up to today. Returns ``{"stored": n, "skipped": m}``
    (skipped: incomplete data, never cached).
    """
    today = utc_today()
    year = year or today.year
    start = date(year, 1, 1)
    end = min(date(year, 12, 31), today)
    cache = ResponseCache()
    counts = {"stored": 0, "skipped": 0}
    for community_id in community_ids:
        for stat in CATEGORY_QUERIES:
            for basis in warm_bases() if follows_basis(stat) else ["-"]:
                query = StatsQuery(stat, community_id, start, end, basis)
                result, last = compute(query)
                if last is None or last < end:
                    counts["skipped"] += 1
                    continue
                cache.put(key_of(query), to_json(result), settled=query.settled)
                counts["stored"] += 1
    return counts
