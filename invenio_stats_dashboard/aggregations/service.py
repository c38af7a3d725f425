"""Run aggregations: the policy (enabled, scheduled, forced), the run lock, the registry.

:func:`run_aggregations` is the one entry point of the ``aggregate`` command, the Celery
task (scheduled and queued runs) and the background process. The command and the task
both ask :func:`check_may_run` first, so the switches mean the same everywhere.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, datetime

from flask import current_app

from ..core.bookmarks import AggregationBookmarks
from ..core.days import parse_day, utc_now, utc_today
from ..core.locks import LockHeld, held_locks, lock_is_held, lock_timeout, run_lock
from ..counter.aggregation import counter_enabled, run_counter
from ..proxies import DISABLED_MESSAGE, current_stats_dashboard
from ..search.setup import ensure_search_setup
from .community_list import all_community_ids
from .registry import aggregators, batches
from .rewinds import follow_history_changes, follow_late_usage_events
from .run import CommunityOutcome, RunCancelled, RunContext

LOCK_NAME = "aggregation-lock"


class AggregationError(Exception):
    """A run cannot start (disabled, locked); the message says why."""


class AggregationDisabled(AggregationError):
    """``COMMUNITY_STATS_ENABLED`` or the scheduled-tasks switch forbids the run."""


class AggregationLocked(AggregationError):
    """Another aggregation run holds the lock."""


def check_enabled() -> None:
    """Raise :class:`AggregationDisabled` while ``COMMUNITY_STATS_ENABLED`` is False."""
    if not current_stats_dashboard.enabled:
        raise AggregationDisabled(DISABLED_MESSAGE)


def check_may_run(force: bool = False) -> bool:
    """The run policy: enabled, and scheduled tasks enabled unless ``force``.

    Raises :class:`AggregationDisabled`; returns True when ``force`` bypassed the
    scheduled-tasks switch (callers say so).
    """
    check_enabled()
    if current_stats_dashboard.scheduled_tasks_enabled:
        return False
    if not force:
        raise AggregationDisabled(
            "Scheduled aggregation tasks are disabled "
            "(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED is False); use --force to run anyway."
        )
    return True


def scheduled_catchup_limit() -> int:
    """``COMMUNITY_STATS_CATCHUP_INTERVAL``: new days per series in one scheduled run."""
    return int(current_app.config.get("COMMUNITY_STATS_CATCHUP_INTERVAL") or 0)


def aggregation_lock_held() -> bool:
    """True while an aggregation run holds the lock."""
    return lock_is_held(LOCK_NAME)


def _reconcile_membership(keep_alive) -> None:
    """Let the membership history catch up with changes missed by live tracking."""
    if not current_app.config.get("COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION", True):
        return
    from ..membership.service import reconcile_membership

    reconcile_membership(progress=lambda done, total: keep_alive())


@dataclass
class RunReport:
    """What a run did, per aggregation and community."""

    results: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    seconds: float = 0.0
    community_ids: list = field(default_factory=list)
    counter: CommunityOutcome | None = None
    notices: list[str] = field(default_factory=list)
    """One-line notices for the operator (a future end clamped, a dead run's lock taken)."""
    """The COUNTER step (runs without ``names`` and community restriction only)."""

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
            "counter_documents": self.counter.documents if self.counter else 0,
            "notices": self.notices,
        }


def clamp_end(end: date | None) -> tuple[date | None, str | None]:
    """An end day after today becomes today (no document is ever written for a future day).

    Returns the end to use and, when it was moved, the one-line notice saying so.
    """
    today = utc_today()
    if end is None or end <= today:
        return end, None
    return today, f"The end date {end} is after today: aggregating through today ({today})."


PART_LOCK_PREFIX = f"{LOCK_NAME}:"
"""Locks of the parts of a run split over Celery tasks (``aggregation-lock:<part>``)."""


def prepare_run(renew, notice=None) -> AggregationBookmarks:
    """What every run does first, under the run lock.

    Refuses while parts of a split run still work, lets the membership history catch
    up, follows changes to the past. Returns the run's bookmarks (preloaded, rewinds applied).
    """
    working = held_locks(PART_LOCK_PREFIX, notice)
    if working:
        raise LockHeld(
            f"{working[0].describe()} still works on a part of an aggregation run; try "
            "again when it ends (or, if it is not running, invenio community-stats "
            "clear-lock)."
        )
    checked_at: datetime = utc_now()
    _reconcile_membership(renew)
    bookmarks = run_bookmarks()
    follow_history_changes(bookmarks, checked_at)
    follow_late_usage_events(bookmarks, checked_at)
    return bookmarks


def run_bookmarks() -> AggregationBookmarks:
    """Every aggregation's bookmarks, read at once (a run reads them after taking its lock)."""
    bookmarks = AggregationBookmarks()
    bookmarks.preload(a.name for a in aggregators())
    return bookmarks


def run_units(
    ctx: RunContext,
    chosen: list,
    community_ids: list[str],
    counter: bool,
    notices: list[str] | None = None,
) -> RunReport:
    """Run the chosen aggregators' batches for the communities (and COUNTER if asked)."""
    report = RunReport(community_ids=community_ids, notices=notices or [])
    for members in batches(chosen):
        report.results.update(type(members[0]).run_batch(members, ctx, community_ids))
    if counter and counter_enabled():
        report.counter = run_counter(ctx)
    report.timings = ctx.timings
    return report


def run_aggregations(
    community_ids: list[str] | None = None,
    start: date | None = None,
    end: date | None = None,
    *,
    update_bookmark: bool = True,
    ignore_bookmark: bool = False,
    catchup_limit: int = 0,
    names: list[str] | None = None,
    heartbeat=None,
) -> RunReport:
    """Run every registered aggregation (or ``names``) for communities (default: all).

    ``community_ids`` are resolved ids. Dates are inclusive UTC days. ``catchup_limit``
    caps the new days per series (0: none; the scheduled task passes its limit).
    Raises :class:`AggregationLocked` when another run is active.
    """
    began = time.monotonic()
    notices: list[str] = []
    end, clamped = clamp_end(end)
    if clamped:
        notices.append(clamped)
    chosen = aggregators(names)
    ensure_search_setup()
    try:
        with run_lock(LOCK_NAME, lock_timeout(), "aggregation", notices.append) as renew:
            bookmarks = prepare_run(renew, notices.append)
            ids = community_ids if community_ids is not None else all_community_ids()
            ctx = RunContext(
                start=start,
                end=end,
                ignore_bookmark=ignore_bookmark,
                update_bookmark=update_bookmark,
                catchup_limit=catchup_limit,
                every_community=community_ids is None,
                bookmarks=bookmarks,
                heartbeat_callbacks=[renew] + ([heartbeat] if heartbeat else []),
                keep_alive_callbacks=[renew],
            )
            # COUNTER's item counts cover every community in one pass
            counter = names is None and community_ids is None
            report = run_units(ctx, chosen, ids, counter, notices)
    except LockHeld as error:
        raise AggregationLocked(f"Another aggregation run is in progress: {error}") from None
    after_run(report)
    report.seconds = time.monotonic() - began
    return report


def after_run(report: RunReport, warm: bool = True) -> None:
    """Cached API answers that reach a rewritten day go; the warm-up is queued."""
    from ..cache.service import cache_enabled, drop_rewritten

    if not report.documents or not cache_enabled():
        return
    drop_rewritten(report.results)
    if warm:
        warm_cache(report.community_ids)


def warm_cache(community_ids: list[str]) -> None:
    """Queue the cache warm-up (``COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION``)."""
    from ..cache.service import cache_enabled

    if cache_enabled() and current_app.config.get(
        "COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION", True
    ):
        from ..cache.tasks import warm_stats_cache

        warm_stats_cache.delay(community_ids)


class RunProgress:
    """A run's heartbeat as progress: ``progress(done, total)`` over communities x batches.

    The aggregations call the heartbeat once per community and batch of aggregators.
    """

    def __init__(self, community_ids: list[str] | None, progress=None):
        ids = community_ids if community_ids is not None else all_community_ids()
        self.total = len(ids) * len(batches(aggregators()))
        self.done = 0
        self.progress = progress

    def __call__(self) -> None:
        """One unit of work done (usage beats once per day: the total then grows with it)."""
        self.done += 1
        self.total = max(self.total, self.done)
        if self.progress:
            self.progress(self.done, self.total)


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
    counter = RunProgress(ids, progress)

    def heartbeat():
        counter()
        if should_stop and should_stop():
            raise RunCancelled("stop requested")

    try:
        report = run_aggregations(
            community_ids=community_ids or None,
            start=parse_day(start_date),
            end=parse_day(end_date),
            update_bookmark=update_bookmark,
            ignore_bookmark=ignore_bookmark,
            heartbeat=heartbeat,
        )
    except RunCancelled:
        return {"cancelled": True, "communities_done": counter.done}
    return report.as_dict()
