"""Run aggregations: resolve communities, take the run lock, call the registry in order.

``run_aggregations`` is the one entry point used by the ``aggregate`` command, the
Celery task (scheduled and non-eager runs) and the background process.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import redis
from flask import current_app

from ..communities import GLOBAL
from ..communities import resolve_community_ids as resolve_ids
from ..search.setup import ensure_search_setup
from .base import RunCancelled, RunContext, aggregators
from .bookmarks import BookmarkStore
from .repairs import follow_history_changes
from .sources import history_community_ids

LOCK_NAME = "invenio-stats-dashboard:aggregation-lock"


class AggregationError(Exception):
    """A run cannot start (bad input, disabled, locked); the message says why."""


class AggregationLocked(AggregationError):
    """Another aggregation run holds the lock."""


def resolve_community_ids(values: Iterable[str] | None) -> list[str] | None:
    """Resolve several ids or slugs (None or empty stays None: all communities)."""
    return resolve_ids(values) if values else None


def all_community_ids() -> list[str]:
    """The "global" series and every community with a membership history."""
    found = [c for c in history_community_ids() if c != GLOBAL]
    return [GLOBAL, *sorted(found)]


def _redis():
    return redis.Redis.from_url(current_app.config["CACHE_REDIS_URL"])


@contextmanager
def aggregation_lock():
    """Hold the run lock (raise :class:`AggregationLocked` if another run holds it).

    The lock expires after ``COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT`` seconds unless
    renewed, so a killed run cannot block the next ones for long. Yields a function that
    renews it.
    """
    timeout = int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_LOCK_TIMEOUT") or 900)
    lock = _redis().lock(LOCK_NAME, timeout=timeout, blocking=False)
    if not lock.acquire(blocking=False):
        raise AggregationLocked(
            "Another aggregation run is in progress (lock held); try again when it ends."
        )
    try:
        yield lambda: lock.extend(timeout, replace_ttl=True)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            pass


def lock_is_held() -> bool:
    """True while an aggregation run holds the lock."""
    return bool(_redis().exists(LOCK_NAME))


def _reconcile_membership(keep_alive) -> None:
    """Let the membership history catch up with changes missed by live tracking."""
    if not current_app.config.get("COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION", True):
        return
    from ..events.api import reconcile_membership

    reconcile_membership(progress=lambda done, total: keep_alive())


@dataclass
class RunReport:
    """What a run did, per aggregation and community."""

    results: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    seconds: float = 0.0
    community_ids: list = field(default_factory=list)

    @property
    def documents(self) -> int:
        """Documents written in all."""
        return sum(o.documents for per in self.results.values() for o in per.values())

    @property
    def limited(self) -> bool:
        """True when the catch-up limit stopped some series before the requested end."""
        return any(o.limited for per in self.results.values() for o in per.values())

    def as_dict(self) -> dict:
        """JSON-friendly summary (for Celery results and process status)."""
        return {
            "documents": self.documents,
            "limited": self.limited,
            "seconds": round(self.seconds, 3),
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "communities": len(self.community_ids),
        }


def run_aggregations(
    community_ids: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    names: list[str] | None = None,
    heartbeat=None,
) -> RunReport:
    """Run every registered aggregation (or ``names``) for communities (default: all).

    ``community_ids`` are resolved ids (see :func:`resolve_community_ids`). Dates are
    inclusive UTC days. Raises :class:`AggregationLocked` when another run is active.
    """
    began = time.monotonic()
    chosen = aggregators(names)
    ensure_search_setup()
    with aggregation_lock() as renew:
        checked_at = datetime.now(UTC)
        _reconcile_membership(renew)
        bookmarks = BookmarkStore()
        bookmarks.preload(a.name for a in aggregators())
        follow_history_changes(bookmarks, checked_at)
        ids = community_ids if community_ids is not None else all_community_ids()
        ctx = RunContext(
            start=start,
            end=end,
            end_explicit=end is not None,
            ignore_bookmark=ignore_bookmark,
            update_bookmark=update_bookmark,
            bookmarks=bookmarks,
            heartbeat_callbacks=[renew] + ([heartbeat] if heartbeat else []),
            keep_alive_callbacks=[renew],
        )
        report = RunReport(community_ids=ids)
        batches: dict = {}
        for aggregator in chosen:
            batches.setdefault(aggregator.batch or aggregator.name, []).append(aggregator)
        for members in batches.values():
            report.results.update(type(members[0]).run_batch(members, ctx, ids))
        report.timings = ctx.timings
    report.seconds = time.monotonic() - began
    return report


def run_in_background(
    community_ids: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    progress=None,
    should_stop=None,
) -> dict:
    """Target of the ``aggregation`` background process (see ``processes/runner.py``).

    Reports progress per community and stops cleanly between communities when asked
    (bookmarks then reflect what was fully written; the next run continues).
    """
    ids = community_ids or all_community_ids()
    total = len(ids) * len({a.batch or a.name for a in aggregators()})
    done = [0]

    def heartbeat():
        done[0] += 1
        if progress:
            progress(min(done[0], total), total)
        if should_stop and should_stop():
            raise RunCancelled("stop requested")

    try:
        report = run_aggregations(
            community_ids=ids,
            start=date.fromisoformat(start_date) if start_date else None,
            end=date.fromisoformat(end_date) if end_date else None,
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
            heartbeat=heartbeat,
        )
    except RunCancelled:
        return {"cancelled": True, "communities_done": done[0]}
    return report.as_dict()
