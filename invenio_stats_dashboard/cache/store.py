"""The response cache: query results as JSON bytes in Redis, under readable keys.

Key: ``stats-dashboard:v1:<community id>:<query>:<start>:<end>:<date basis>`` (``v1`` is
the cache format version: a new format never reads an old entry). Entries of a
community or of a query are found with ``SCAN`` by pattern (never ``KEYS``), so
``cache clear-item <community> <stat>`` and the drops after a rewrite can match them.

A whole JSON response, compressed for ``Accept-Encoding``, is kept beside the entries
under its ETag (``stats-dashboard:v1:encoded:<etag>:<br|gzip>``), for
``COMMUNITY_STATS_CACHE_TTL_RECENT`` seconds: a dashboard's repeated request is then
sent without reading or compressing megabytes. The ETag is a hash of the entries'
contents, so a compressed response can never outlive what it encodes.

An entry is written only for complete data (the documents reach the range's last day).
Its lifetime is ``COMMUNITY_STATS_CACHE_TTL_RECENT`` seconds when the range reaches
yesterday or today (the next aggregation run rewrites those days), else
``COMMUNITY_STATS_CACHE_TTL_SETTLED``. Hit and miss counters live beside the entries.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import redis
from flask import current_app

PREFIX = "stats-dashboard"
VERSION = "v1"
COUNTERS = f"{PREFIX}:counters"


def cache_url() -> str:
    """The cache's Redis: its own logical database.

    ``COMMUNITY_STATS_CACHE_REDIS_URL``, else ``CACHE_REDIS_URL`` with its db number
    replaced by ``COMMUNITY_STATS_CACHE_REDIS_DB``.
    """
    url = current_app.config.get("COMMUNITY_STATS_CACHE_REDIS_URL")
    if url:
        return url
    base = current_app.config.get("CACHE_REDIS_URL") or "redis://localhost:6379/0"
    db = int(current_app.config.get("COMMUNITY_STATS_CACHE_REDIS_DB") or 7)
    root, _, last = base.rstrip("/").rpartition("/")
    return f"{root}/{db}" if last.isdigit() else f"{base.rstrip('/')}/{db}"


@dataclass(frozen=True)
class CacheKey:
    """What an entry answers."""

    community_id: str
    stat: str
    start: date
    end: date
    basis: str

    def __str__(self) -> str:
        return ":".join(
            (
                PREFIX,
                VERSION,
                self.community_id,
                self.stat,
                self.start.isoformat(),
                self.end.isoformat(),
                self.basis,
            )
        )

    @classmethod
    def parse(cls, key: str | bytes) -> CacheKey | None:
        """The key's parts, or None for a key that is not an entry of this version."""
        text = key.decode() if isinstance(key, bytes) else key
        parts = text.split(":")
        if len(parts) != 7 or parts[:2] != [PREFIX, VERSION]:
            return None
        try:
            return cls(
                parts[2],
                parts[3],
                date.fromisoformat(parts[4]),
                date.fromisoformat(parts[5]),
                parts[6],
            )
        except ValueError:
            return None


def encoded_key(tag: str, encoding: str) -> str:
    """Where a compressed response of a whole request lives: ``...:encoded:<etag>:<br|gzip>``."""
    return f"{PREFIX}:{VERSION}:encoded:{tag}:{encoding}"


def pattern(community_id: str = "*", stat: str = "*") -> str:
    """A ``SCAN`` pattern over the entries of a community and/or a query."""
    return f"{PREFIX}:{VERSION}:{community_id}:{stat}:*"


@dataclass
class Entry:
    """A cached result: its JSON bytes, ETag and when it was computed."""

    body: bytes
    etag: str
    created: float

    @classmethod
    def of(cls, body: bytes) -> Entry:
        """A result computed just now."""
        return cls(body, hashlib.sha1(body).hexdigest(), time.time())


@lru_cache(maxsize=8)
def _client(url: str) -> redis.Redis:
    """One client (and connection pool) per cache URL and process."""
    return redis.Redis.from_url(url)


class ResponseCache:
    """Get, put and drop entries; counters and listings for the ``cache`` commands."""

    def __init__(self, client: redis.Redis | None = None):
        self.client = client or _client(cache_url())

    # ------------------------------------------------------------------ entries
    def get(self, key: CacheKey) -> Entry | None:
        """The entry, or None (counts a hit or a miss)."""
        found = self.client.hmget(str(key), "body", "etag", "created")
        if found[0] is None:
            self.client.hincrby(COUNTERS, "misses", 1)
            return None
        self.client.hincrby(COUNTERS, "hits", 1)
        return Entry(found[0], found[1].decode(), float(found[2]))

    def put(self, key: CacheKey, body: bytes, settled: bool) -> Entry:
        """Store a result for its lifetime (settled ranges live longer)."""
        config = current_app.config
        ttl = int(
            config.get(
                "COMMUNITY_STATS_CACHE_TTL_SETTLED"
                if settled
                else "COMMUNITY_STATS_CACHE_TTL_RECENT"
            )
            or (7 * 86400 if settled else 600)
        )
        entry = Entry.of(body)
        pipe = self.client.pipeline()
        pipe.hset(str(key), mapping={"body": body, "etag": entry.etag, "created": entry.created})
        pipe.expire(str(key), ttl)
        pipe.execute()
        return entry

    def heads(self, keys: list[CacheKey]) -> list[tuple[str, float] | None]:
        """``(etag, created)`` of each entry, or None where it is missing (no bodies read)."""
        pipe = self.client.pipeline()
        for key in keys:
            pipe.hmget(str(key), "etag", "created")
        return [
            (etag.decode(), float(created)) if etag is not None else None
            for etag, created in pipe.execute()
        ]

    def count_hits(self, hits: int) -> None:
        """Count answers served without reading their entries (an encoded response)."""
        self.client.hincrby(COUNTERS, "hits", hits)

    def get_encoded(self, tag: str, encoding: str) -> bytes | None:
        """A compressed JSON response stored under its ETag, or None."""
        return self.client.get(encoded_key(tag, encoding))

    def put_encoded(self, tag: str, encoding: str, body: bytes) -> None:
        """Keep a compressed JSON response (its ETag names its content, so it is never stale)."""
        ttl = int(current_app.config.get("COMMUNITY_STATS_CACHE_TTL_RECENT") or 600)
        self.client.set(encoded_key(tag, encoding), body, ex=ttl)

    def keys(self, match: str | None = None, count: int = 500) -> Iterator[str]:
        """Entry keys matching a pattern (``SCAN``, never ``KEYS``)."""
        for key in self.client.scan_iter(match=match or pattern(), count=count):
            yield key.decode() if isinstance(key, bytes) else key

    def drop(self, match: str | None = None, until: date | None = None) -> int:
        """Delete the entries matching ``match`` (only those ending on or after ``until``)."""
        removed = 0
        batch: list[str] = []
        for key in self.keys(match):
            parsed = CacheKey.parse(key)
            if until is not None and parsed is not None and parsed.end < until:
                continue
            batch.append(key)
            if len(batch) >= 500:
                removed += self.client.delete(*batch)
                batch.clear()
        if batch:
            removed += self.client.delete(*batch)
        return removed

    def drop_community(self, community_id: str, since: date | None = None) -> int:
        """Drop a community's entries whose range reaches ``since`` or later (all: None)."""
        return self.drop(pattern(community_id), until=since)

    # ------------------------------------------------------------------ figures
    def info(self) -> dict:
        """Entries, compressed responses, their bytes, hit and miss counters, Redis memory."""
        entries = size = encoded = 0
        for key in self.keys():
            if CacheKey.parse(key) is None:
                encoded += 1
            else:
                entries += 1
            size += int(self.client.memory_usage(key) or 0)
        counters = {k.decode(): int(v) for k, v in self.client.hgetall(COUNTERS).items()}
        memory = self.client.info("memory")
        return {
            "entries": entries,
            "compressed_responses": encoded,
            "bytes": size,
            "hits": counters.get("hits", 0),
            "misses": counters.get("misses", 0),
            "redis_used_memory": memory.get("used_memory", 0),
            "url": cache_url(),
        }

    def reset_counters(self) -> None:
        """Forget the hit and miss counters."""
        self.client.delete(COUNTERS)

    def ttl(self, key: str) -> int:
        """Seconds an entry has left (-2: gone)."""
        return int(self.client.ttl(key))
