"""The run rules: which days an aggregation writes for a community, when its bookmark moves.

- A series starts at the community's first day with data, never before
  ``COMMUNITY_STATS_EARLIEST_DATE``, and runs to the run's end day (default today).
- Without ``--start-date`` a run starts the day after the bookmark (``--ignore-bookmark``:
  at the series start).
- A snapshot never runs past what its delta has reached.
- ``catchup_limit`` (the scheduled task's ``COMMUNITY_STATS_CATCHUP_INTERVAL``; a
  command-line run has none) caps the *new* days one run writes per series; days that
  already have documents and are rewritten after a change to the past do not count.
- The bookmark moves only when the written days connect to it, and never past the last
  settled day (``settle_days`` before today), so today's documents are rewritten by the
  next run instead of being frozen by the first one of the day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

from flask import current_app

from ..core.bookmarks import AggregationBookmarks
from ..core.days import parse_day, utc_today
from ..core.locks import RENEW_SECONDS
from .registry import Aggregator


def earliest_date() -> date:
    """``COMMUNITY_STATS_EARLIEST_DATE`` as a date: no series starts before it."""
    value = current_app.config.get("COMMUNITY_STATS_EARLIEST_DATE") or "2000-01-01"
    return parse_day(str(value)[:10], "COMMUNITY_STATS_EARLIEST_DATE")


@dataclass
class CommunityOutcome:
    """What one aggregator did for one community."""

    start: date | None = None
    end: date | None = None
    documents: int = 0
    bookmark: date | None = None
    limited: bool = False
    """True when the catch-up limit stopped before the requested end."""


@dataclass
class Window:
    """The days to write for one (aggregation, community)."""

    start: date
    end: date
    limited: bool
    connects: bool
    """The window starts at or before the day after the bookmark (or at the series start)."""


class RunCancelled(Exception):
    """Raised by ``heartbeat`` when the run was asked to stop."""


@dataclass
class RunContext:
    """Options and shared state of one aggregation run."""

    start: date | None = None
    end: date | None = None
    ignore_bookmark: bool = False
    update_bookmark: bool = True
    catchup_limit: int = 0
    """Most new days per series in this run (0: no limit)."""
    every_community: bool = False
    """The run covers every community (not a ``--community`` selection)."""
    today: date = field(default_factory=utc_today)
    bookmarks: AggregationBookmarks = field(default_factory=AggregationBookmarks)
    reached: dict = field(default_factory=dict)
    """``(aggregation name, community id) -> last day written by this run``."""
    written: dict = field(default_factory=dict)
    """``aggregation name -> {community id: last day with a document}`` (read lazily)."""
    heartbeat_callbacks: list[Callable[[], None]] = field(default_factory=list)
    keep_alive_callbacks: list[Callable[[], None]] = field(default_factory=list)
    """Renew the run lock (called within long per-community work, at most every 30 s)."""
    _kept_alive: float = 0.0
    timings: dict = field(default_factory=dict)
    """``aggregation name -> seconds`` spent (for ``--verbose``)."""
    earliest: date = field(default_factory=earliest_date)

    def heartbeat(self) -> None:
        """Keep the run lock alive; raise :class:`RunCancelled` if asked to stop."""
        for callback in self.heartbeat_callbacks:
            callback()

    def keep_alive(self) -> None:
        """Renew the run lock during long work on one community (throttled, cheap)."""
        now = time.monotonic()
        if now - self._kept_alive >= RENEW_SECONDS:
            self._kept_alive = now
            for callback in self.keep_alive_callbacks:
                callback()

    def add_time(self, name: str, seconds: float) -> None:
        """Add to an aggregator's timing."""
        self.timings[name] = self.timings.get(name, 0.0) + seconds

    def dependency_limit(self, aggregator: Aggregator, community_id: str) -> date | None:
        """Last day the aggregator's ``depends_on`` has reached (this run or bookmark)."""
        if not aggregator.depends_on:
            return None
        reached = self.reached.get((aggregator.depends_on, community_id))
        bookmark = self.bookmarks.get(aggregator.depends_on, community_id)
        days = [d for d in (reached, bookmark) if d is not None]
        return max(days) if days else date.min

    def last_written(self, aggregator: Aggregator, community_id: str) -> date | None:
        """The latest day that has a document (before this run), or None.

        One paged query per aggregation serves every community.
        """
        if aggregator.name not in self.written:
            from .documents import documents_by_community

            self.written[aggregator.name] = {
                cid: last for cid, (_, _, last) in documents_by_community(aggregator).items()
            }
        return self.written[aggregator.name].get(community_id)

    def window(
        self, aggregator: Aggregator, community_id: str, first_day: date | None
    ) -> Window | None:
        """Days to write for one community, or None when there is nothing to do.

        ``first_day`` is the community's first day with data (its series start) before
        clamping to ``COMMUNITY_STATS_EARLIEST_DATE``; None means no data at all.
        """
        if first_day is None:
            return None
        series_start = max(first_day, self.earliest)
        stored = self.bookmarks.get(aggregator.name, community_id)
        bookmark = None if self.ignore_bookmark else stored
        if self.start is not None:
            start = max(self.start, series_start)
        elif bookmark is not None:
            start = max(bookmark + timedelta(days=1), series_start)
        else:
            start = series_start
        end = self.end or self.today
        limited = False
        limit = self.dependency_limit(aggregator, community_id)
        if limit is not None and limit < end:
            end = limit
        if self.catchup_limit > 0:
            # the limit counts new days only: days that already have documents (a
            # bookmark moved back by a history change or a repair) are rewritten freely
            written = self.last_written(aggregator, community_id)
            fresh = start if written is None or written < start else written + timedelta(days=1)
            capped = fresh + timedelta(days=self.catchup_limit - 1)
            if capped < end:
                end, limited = capped, True
        if end < start:
            return None
        # the bookmark may only move if every day before ``start`` is already written
        connects = start <= series_start or (
            stored is not None and start <= stored + timedelta(days=1)
        )
        return Window(start=start, end=end, limited=limited, connects=connects)

    def next_bookmark(
        self, aggregator: Aggregator, community_id: str, window: Window
    ) -> date | None:
        """The day :meth:`finish` will move the bookmark to (None: it stays where it is).

        The window's end, never past the last settled day, and only forward (unless the
        run ignores the bookmarks).
        """
        if not self.update_bookmark or not window.connects:
            return None
        bookmark = self.bookmarks.get(aggregator.name, community_id)
        last = min(window.end, self.today - timedelta(days=aggregator.settle_days))
        if bookmark is None or last > bookmark or self.ignore_bookmark:
            return last
        return None

    def finish(
        self, aggregator: Aggregator, community_id: str, window: Window, documents: int
    ) -> CommunityOutcome:
        """Record that a window is written; move the bookmark when allowed."""
        return self.finish_many(aggregator, {community_id: window}, {community_id: documents})[
            community_id
        ]

    def finish_many(
        self, aggregator: Aggregator, windows: dict[str, Window], documents: dict[str, int]
    ) -> dict[str, CommunityOutcome]:
        """:meth:`finish` for several communities' written windows (one bookmark write)."""
        moves = {}
        for community_id, window in windows.items():
            self.reached[(aggregator.name, community_id)] = window.end
            moved = self.next_bookmark(aggregator, community_id, window)
            if moved is not None:
                moves[community_id] = moved
        self.bookmarks.set_many(aggregator.name, moves)
        return {
            community_id: CommunityOutcome(
                start=window.start,
                end=window.end,
                documents=documents[community_id],
                bookmark=self.bookmarks.get(aggregator.name, community_id),
                limited=window.limited,
            )
            for community_id, window in windows.items()
        }
