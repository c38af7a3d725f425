"""The aggregator registry: every daily per-community aggregation plugs in here.

An *aggregator* writes one document per community per day (plus ``"global"``) into
yearly indices ``<index>-YYYY`` behind the alias ``<index>``, with the deterministic id
``{community_id}-{YYYY-MM-DD}``, and keeps one bookmark per community: the last day
fully written. The ``aggregate``, ``status``, ``read`` and ``destroy-indices`` commands
and the scheduled task know aggregations only through this registry.

Adding an aggregation (e.g. the usage aggregations)::

    from invenio_stats_dashboard.aggregations.base import Aggregator, register

    class UsageDeltaAggregator(Aggregator):
        name = "community-usage-delta"          # registry key and bookmark key
        index = "stats-community-usage-delta"   # alias, without SEARCH_INDEX_PREFIX
        query_type = "community-usage-delta"    # name used by ``read --query-type``
        short_name = "usage-delta"              # label in ``status``
        kind = "delta"                          # or "snapshot"
        date_field = "period_start"             # "snapshot_date" for snapshots
        order = 70                              # run order (deltas before snapshots)

        def run(self, ctx, community_ids):
            ...  # write documents, then ctx.bookmarks.set(self.name, cid, last_day)
            return {cid: CommunityOutcome(...)}

    register(UsageDeltaAggregator())

Contract of ``run(ctx, community_ids) -> dict[str, CommunityOutcome]``:

- ``community_ids``: community UUIDs and/or ``"global"``, already resolved.
- ``ctx`` (:class:`RunContext`) carries the run's options: ``start`` / ``end``
  (``date`` or ``None``), ``end_explicit``, ``ignore_bookmark``, ``update_bookmark``, the
  bookmark store ``ctx.bookmarks``, ``ctx.reached`` (what earlier aggregators of this run
  wrote, see :meth:`RunContext.dependency_limit`) and ``ctx.heartbeat()`` (call it
  between communities: it keeps the run lock alive and lets a cancel stop the run).
- Use :meth:`RunContext.window` to turn options + bookmark + the community's first day
  into the days to write (applies ``COMMUNITY_STATS_EARLIEST_DATE`` and the catch-up
  limit), and :meth:`RunContext.finish` after the documents of a community are
  written: it moves the bookmark (only when the written window connects to it) and
  records ``ctx.reached``.
- A snapshot aggregator sets ``depends_on`` to its delta's name; ``window`` then never
  lets it run past what the delta has reached.

Where to register: the package's modules listed in ``BUILTIN_MODULES`` are imported
before the registry is read (``aggregations/records.py`` for the six records
aggregations; the usage aggregations in ``aggregations/usage.py`` or
``usage/aggregations.py``). A site can register more from its own extension.

Aggregators with the same ``batch`` value are handed to one ``run_batch`` call (the
records aggregators share one read of the membership history and the records per
community that way). The default ``run_batch`` simply calls ``run`` for each.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app

KEEP_ALIVE_SECONDS = 30.0


def prefixed(name: str) -> str:
    """The index or alias name with the instance's ``SEARCH_INDEX_PREFIX``."""
    return f"{current_app.config.get('SEARCH_INDEX_PREFIX', '')}{name}"


def doc_id(community_id: str, day: date) -> str:
    """Deterministic document id of one community-day."""
    return f"{community_id}-{day.isoformat()}"


def earliest_date() -> date:
    """``COMMUNITY_STATS_EARLIEST_DATE`` as a date: no series starts before it."""
    value = current_app.config.get("COMMUNITY_STATS_EARLIEST_DATE") or "2000-01-01"
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def utc_today() -> date:
    """Today's UTC day (every day in this package is a UTC day)."""
    return datetime.now(UTC).date()


def catchup_days() -> int:
    """``COMMUNITY_STATS_CATCHUP_INTERVAL``: most days one run writes per community."""
    return int(current_app.config.get("COMMUNITY_STATS_CATCHUP_INTERVAL") or 0)


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
    end_explicit: bool = False
    ignore_bookmark: bool = False
    update_bookmark: bool = True
    today: date = field(default_factory=utc_today)
    bookmarks: object = None
    """A :class:`~invenio_stats_dashboard.aggregations.bookmarks.BookmarkStore`."""
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

    def heartbeat(self) -> None:
        """Keep the run lock alive; raise :class:`RunCancelled` if asked to stop."""
        for callback in self.heartbeat_callbacks:
            callback()

    def keep_alive(self) -> None:
        """Renew the run lock during long work on one community (throttled, cheap)."""
        now = time.monotonic()
        if now - self._kept_alive >= KEEP_ALIVE_SECONDS:
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
            from .status import documents_by_community

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
        series_start = max(first_day, earliest_date())
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
        interval = catchup_days()
        if interval > 0 and not self.end_explicit:
            # the limit counts new days only: days that already have documents (a
            # bookmark moved back by a history change or a repair) are rewritten freely
            written = self.last_written(aggregator, community_id)
            fresh = start if written is None or written < start else written + timedelta(days=1)
            capped = fresh + timedelta(days=interval - 1)
            if capped < end:
                end, limited = capped, True
        if end < start:
            return None
        # the bookmark may only move if every day before ``start`` is already written
        connects = start <= series_start or (
            stored is not None and start <= stored + timedelta(days=1)
        )
        return Window(start=start, end=end, limited=limited, connects=connects)

    def finish(
        self, aggregator: Aggregator, community_id: str, window: Window, documents: int
    ) -> CommunityOutcome:
        """Record that a window is written; move the bookmark when allowed.

        The bookmark never passes the last settled day (``aggregator.settle_days``
        before today): today's documents, and yesterday's for late usage events, are
        rewritten by the next run instead of being frozen by the first run of the day.
        """
        self.reached[(aggregator.name, community_id)] = window.end
        bookmark = self.bookmarks.get(aggregator.name, community_id)
        last = min(window.end, self.today - timedelta(days=aggregator.settle_days))
        if self.update_bookmark and window.connects:
            if bookmark is None or last > bookmark or self.ignore_bookmark:
                self.bookmarks.set(aggregator.name, community_id, last)
                bookmark = last
        return CommunityOutcome(
            start=window.start,
            end=window.end,
            documents=documents,
            bookmark=bookmark,
            limited=window.limited,
        )


class Aggregator:
    """One daily aggregation; subclass, set the attributes, implement ``run``."""

    name: str = ""
    index: str = ""
    query_type: str = ""
    short_name: str = ""
    kind: str = "delta"
    date_field: str = "period_start"
    depends_on: str | None = None
    order: int = 100
    batch: str | None = None
    settle_days: int = 1
    """Days before today that count as final: 1 means today's documents are rewritten
    by every run of the day (the bookmark stops at yesterday)."""

    @property
    def alias(self) -> str:
        """The prefixed alias over the yearly indices."""
        return prefixed(self.index)

    def index_for(self, day: date) -> str:
        """The prefixed yearly index holding ``day``'s documents."""
        return prefixed(f"{self.index}-{day.year}")

    def run(self, ctx: RunContext, community_ids: list[str]) -> dict[str, CommunityOutcome]:
        """Write documents and bookmarks for the given communities."""
        raise NotImplementedError

    @classmethod
    def run_batch(
        cls, aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str]
    ) -> dict[str, dict[str, CommunityOutcome]]:
        """Run several aggregators of the same batch; default: one after the other."""
        results = {}
        for aggregator in aggregators:
            began = time.monotonic()
            results[aggregator.name] = aggregator.run(ctx, community_ids)
            ctx.add_time(aggregator.name, time.monotonic() - began)
        return results


class BatchedAggregator(Aggregator):
    """An aggregator whose work is done by ``run_batch``, shared with its batch."""

    def run(self, ctx: RunContext, community_ids: list[str]) -> dict[str, CommunityOutcome]:
        """Run this aggregation alone (a batch of one)."""
        return self.run_batch([self], ctx, community_ids)[self.name]


_REGISTRY: dict[str, Aggregator] = {}


def register(aggregator: Aggregator) -> Aggregator:
    """Add (or replace) an aggregator in the registry."""
    _REGISTRY[aggregator.name] = aggregator
    return aggregator


BUILTIN_MODULES = (
    "invenio_stats_dashboard.aggregations.records",
    "invenio_stats_dashboard.aggregations.usage",
    "invenio_stats_dashboard.usage.aggregations",
)
"""Modules that register the package's aggregators when imported (missing ones are skipped)."""


def _load_builtin() -> None:
    """Import the modules that register the package's aggregators."""
    for module in BUILTIN_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name != module:
                raise


def aggregators(names: Iterable[str] | None = None) -> list[Aggregator]:
    """Registered aggregators in run order (deltas before their snapshots)."""
    _load_builtin()
    chosen = list(_REGISTRY.values())
    if names is not None:
        wanted = set(names)
        unknown = wanted - set(_REGISTRY)
        if unknown:
            raise KeyError(", ".join(sorted(unknown)))
        chosen = [a for a in chosen if a.name in wanted]
    return sorted(chosen, key=lambda a: (a.order, a.name))


def get_aggregator(name: str) -> Aggregator:
    """One aggregator by registry name."""
    _load_builtin()
    return _REGISTRY[name]


def by_query_type() -> dict[str, Aggregator]:
    """``read --query-type`` names to aggregators, in run order."""
    return {a.query_type: a for a in aggregators()}
