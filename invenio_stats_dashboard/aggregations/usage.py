"""Usage aggregations: ``stats-community-usage-delta`` and ``stats-community-usage-snapshot``.

Both are computed together (registry batch ``"usage"``) from ONE sorted pass over the
enriched view and download events of the run's range (``search_after`` pages on
``[timestamp, _id]``), whatever the number of communities: an event counts for every
community in its ``community_ids`` (membership on the event's day, set at enrichment)
and for "global". Events flagged ``is_robot`` are left out; machines are counted.

- delta (one document per community per day): ``total_events``, ``total_volume``
  (downloads), and the day's distinct visitors, records, parents and files;
- snapshot (cumulative up to the day): sums of events and volume, *true* distinct
  records, parents and files since the series start, and ``unique_visitors`` as
  visitor-days (invenio-stats salts visitor ids per day, so a visitor cannot be followed
  across days: the cumulative figure is the sum of the daily distinct visitors).

Subcounts (``COMMUNITY_STATS_USAGE_SUBCOUNTS``) split the same metrics by the enriched
fields, plus country and referrer host. A series starts at the community's first day with
a (non-robot) enriched event ("global": the first event overall) and has a document for
every day up to the run's end, zeros included. Memory: one day of events at a time, plus
the distinct record/parent/file ids per community (and subcount value) for the snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from flask import current_app

from ..core import indices
from ..core.bulk import bulk_write
from ..core.days import day_of, day_period, day_range_query, utc_now
from ..core.engine import search_client
from ..core.ids import GLOBAL
from ..core.paging import composite_buckets, search, search_after_pages
from ..core.timeouts import search_timeout
from . import usage_state
from .registry import Aggregator, BatchedAggregator, doc_id, register
from .run import CommunityOutcome, RunContext
from .subcounts import SOURCES, active, ranked, top_limit

SOURCE_FIELDS = [
    "timestamp",
    "community_ids",
    "visitor_id",
    "record_id",
    "recid",
    "parent_id",
    "parent_recid",
    "file_id",
    "file_key",
    "size",
    "resource_type",
    "access_status",
    "file_types",
    "languages",
    "subjects",
    "rights",
    "funders",
    "journal_title",
    "publisher",
    "affiliations",
    "country",
    "referrer",
]


# --------------------------------------------------------------------------- metrics


class DayMetrics:
    """One event type's counters for one community (or subcount value) on one day."""

    __slots__ = ("events", "visitors", "records", "parents", "files", "volume")

    def __init__(self):
        self.events = 0
        self.visitors: set = set()
        self.records: set = set()
        self.parents: set = set()
        self.files: set = set()
        self.volume = 0

    def add(self, event: dict, download: bool) -> None:
        """Count one event."""
        self.events += 1
        if event.get("visitor_id"):
            self.visitors.add(event["visitor_id"])
        record = event.get("record_id") or event.get("recid")
        if record:
            self.records.add(record)
        parent = event.get("parent_id") or event.get("parent_recid")
        if parent:
            self.parents.add(parent)
        if download:
            file_id = event.get("file_id") or (record, event.get("file_key"))
            self.files.add(file_id)
            self.volume += int(float(event.get("size") or 0))  # bytes: whole numbers

    def doc(self, download: bool) -> dict:
        """The delta metrics."""
        return _metrics(self, len(self.visitors), download)


def _metrics(counters: DayMetrics | Cumulative, visitors: int, download: bool) -> dict:
    """The metrics of a delta or snapshot document (files and volume for downloads)."""
    out = {
        "total_events": counters.events,
        "unique_visitors": visitors,
        "unique_records": len(counters.records),
        "unique_parents": len(counters.parents),
    }
    if download:
        out["unique_files"] = len(counters.files)
        out["total_volume"] = counters.volume
    return out


class Cumulative:
    """One event type's counters from the series start (snapshot)."""

    __slots__ = ("events", "visitor_days", "records", "parents", "files", "volume")

    def __init__(self):
        self.events = 0
        self.visitor_days = 0
        self.records: set = set()
        self.parents: set = set()
        self.files: set = set()
        self.volume = 0

    def absorb(self, day: DayMetrics) -> None:
        """Add one day."""
        self.events += day.events
        self.visitor_days += len(day.visitors)
        self.records |= day.records
        self.parents |= day.parents
        self.files |= day.files
        self.volume += day.volume

    def doc(self, download: bool) -> dict:
        """The snapshot metrics."""
        return _metrics(self, self.visitor_days, download)


def _pair(cls) -> dict:
    return {"view": cls(), "download": cls()}


@dataclass
class CommunityState:
    """A community's counters: the current day's, and the cumulative ones."""

    day: dict = field(default_factory=lambda: _pair(DayMetrics))
    day_sub: dict = field(default_factory=dict)
    total: dict = field(default_factory=lambda: _pair(Cumulative))
    total_sub: dict = field(default_factory=dict)

    def add(self, event: dict, download: bool, values: dict[str, list]) -> None:
        """Count an event of the current day."""
        kind = "download" if download else "view"
        self.day[kind].add(event, download)
        for key, items in values.items():
            bucket = self.day_sub.setdefault(key, {})
            for value, _ in items:
                metrics = bucket.get(value)
                if metrics is None:
                    metrics = bucket[value] = _pair(DayMetrics)
                metrics[kind].add(event, download)

    def close_day(self) -> None:
        """Fold the current day into the cumulative counters and start a new day."""
        for kind in ("view", "download"):
            self.total[kind].absorb(self.day[kind])
        for key, bucket in self.day_sub.items():
            totals = self.total_sub.setdefault(key, {})
            for value, metrics in bucket.items():
                cumulative = totals.get(value)
                if cumulative is None:
                    cumulative = totals[value] = _pair(Cumulative)
                for kind in ("view", "download"):
                    cumulative[kind].absorb(metrics[kind])
        self.day = _pair(DayMetrics)
        self.day_sub = {}


def _subcount_docs(buckets: dict, kinds: dict, labels: dict, limit: int) -> dict:
    out = {}
    for key, kind in kinds.items():
        items = ranked(
            buckets.get(key) or {},
            lambda metrics: metrics["view"].events + metrics["download"].events,
            kind,
            limit,
        )
        out[key] = [
            {
                "id": value,
                "label": labels.get((key, value)) or value,
                "view": metrics["view"].doc(False),
                "download": metrics["download"].doc(True),
            }
            for value, metrics in items
        ]
    return out


# --------------------------------------------------------------------------- reading


def _filter(community_ids: list[str], start: date | None = None, end: date | None = None):
    filters = []
    if GLOBAL not in community_ids:
        filters.append({"terms": {"community_ids": [c for c in community_ids if c != GLOBAL]}})
    span = day_range_query("timestamp", start, end)
    if span:
        filters.append(span)
    return {"bool": {"filter": filters, "must_not": [{"term": {"is_robot": True}}]}}


_ABSENT_OK = {"ignore_unavailable": True, "allow_no_indices": True}


class UsageReader:
    """The enriched events a run reads: first days, then one sorted stream."""

    def __init__(self, page_size: int):
        self.page_size = page_size

    def first_days(self, community_ids: list[str]) -> dict[str, date]:
        """First day with a non-robot enriched event, per community (and global)."""
        found: dict[str, date] = {}
        query = _filter(community_ids)
        if GLOBAL in community_ids:
            aggs = (
                search_client.search(
                    index=indices.enriched_patterns(),
                    body={
                        "size": 0,
                        "query": query,
                        "aggs": {"first": {"min": {"field": "timestamp"}}},
                    },
                    request_timeout=search_timeout(),
                    **_ABSENT_OK,
                ).get("aggregations")
                or {}
            )
            first = (aggs.get("first") or {}).get("value")
            if first is not None:
                found[GLOBAL] = day_of(first)
        wanted = {c for c in community_ids if c != GLOBAL}
        if not wanted:
            return found
        for bucket in composite_buckets(
            search_client,
            indices.enriched_patterns(),
            "community_ids",
            query=query,
            aggs={"first": {"min": {"field": "timestamp"}}},
            **_ABSENT_OK,
        ):
            if bucket["key"] in wanted and bucket["first"].get("value") is not None:
                found[bucket["key"]] = day_of(bucket["first"]["value"])
        return found

    def stream(self, community_ids: list[str], start: date, end: date) -> Iterator[tuple]:
        """``(day, event, is_download)`` in time order over ``[start, end]``."""
        body = {
            "query": _filter(community_ids, start, end),
            "sort": [{"timestamp": "asc"}, {"_id": "asc"}],
            "_source": SOURCE_FIELDS,
        }
        for hits in search_after_pages(
            search_client, indices.enriched_patterns(), body, self.page_size, **_ABSENT_OK
        ):
            for hit in hits:
                event = hit["_source"]
                yield day_of(event["timestamp"]), event, indices.is_download_index(hit["_index"])


def earliest_day_indexed_since(since: datetime) -> date | None:
    """The earliest day of the enriched events indexed at or after ``since``, or None.

    invenio-stats stamps each event with the moment it indexed it (``updated_timestamp``);
    one request, whatever the number of events.
    """
    response = search(
        search_client,
        indices.enriched_patterns(),
        {
            "size": 0,
            "query": {"range": {"updated_timestamp": {"gte": since.isoformat()}}},
            "aggs": {"first": {"min": {"field": "timestamp"}}},
        },
        **_ABSENT_OK,
    )
    first = ((response.get("aggregations") or {}).get("first") or {}).get("value")
    return day_of(first)


# --------------------------------------------------------------------------- aggregators


class UsageAggregator(BatchedAggregator):
    """Shared run of the usage delta and snapshot (one pass over the events)."""

    batch = "usage"
    settle_days = 2
    """invenio-stats indexes events from its queue on a schedule: yesterday's can still
    arrive after the first run of today, so yesterday is rewritten too."""

    @classmethod
    def run_batch(
        cls, aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str]
    ) -> dict[str, dict[str, CommunityOutcome]]:
        """Compute the usage aggregations of all given communities in one pass."""
        return UsageRun(aggregators, ctx, community_ids).run()


class UsageDeltaAggregator(UsageAggregator):
    """Views and downloads per community per day."""

    name = "community-usage-delta"
    index = "stats-community-usage-delta"
    query_type = "community-usage-delta"
    short_name = "usage-delta"
    kind = "delta"
    date_field = "period_start"
    order = 70


class UsageSnapshotAggregator(UsageAggregator):
    """Cumulative views and downloads per community up to each day."""

    name = "community-usage-snapshot"
    index = "stats-community-usage-snapshot"
    query_type = "community-usage-snapshot"
    short_name = "usage-snapshot"
    kind = "snapshot"
    date_field = "snapshot_date"
    depends_on = "community-usage-delta"
    order = 71


class UsageRun:
    """One run of the usage aggregators over a set of communities."""

    def __init__(self, aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str]):
        self.ctx = ctx
        self.community_ids = list(community_ids)
        self.delta = next((a for a in aggregators if a.kind == "delta"), None)
        self.snapshot = next((a for a in aggregators if a.kind == "snapshot"), None)
        cfg = current_app.config
        self.reader = UsageReader(int(cfg.get("COMMUNITY_STATS_USAGE_PAGE_SIZE") or 5000))
        self.kinds = active("COMMUNITY_STATS_USAGE_SUBCOUNTS", usage=True)
        self.limit = top_limit()
        self.bulk_size = int(cfg.get("COMMUNITY_STATS_AGGREGATION_BULK_SIZE") or 500)
        self.labels: dict = {}
        self.continued: set[str] = set()
        """Communities whose series go on from their bookmarks."""

    def windows(self, first_days: dict[str, date]) -> tuple[dict, dict]:
        """Delta and snapshot windows per community (the snapshot follows the delta)."""
        delta_windows, snapshot_windows = {}, {}
        for cid in self.community_ids:
            first = first_days.get(cid)
            if self.delta is not None:
                window = self.ctx.window(self.delta, cid, first)
                if window is not None:
                    delta_windows[cid] = window
                    # what finish() will record once the delta is written (the snapshot
                    # of this run may then go as far)
                    self.ctx.reached[(self.delta.name, cid)] = window.end
            if self.snapshot is not None:
                window = self.ctx.window(self.snapshot, cid, first)
                if window is not None:
                    snapshot_windows[cid] = window
        return delta_windows, snapshot_windows

    def run(self) -> dict[str, dict[str, CommunityOutcome]]:
        """Read once, write both aggregations and the states, move the bookmarks."""
        results = {a.name: {} for a in (self.delta, self.snapshot) if a is not None}
        first_days = self.first_days()
        delta_windows, snapshot_windows = self.windows(first_days)
        if not delta_windows and not snapshot_windows:
            return results
        restored = self.restore(snapshot_windows)
        checkpoints = self.checkpoints(snapshot_windows)
        usage_state.drop(self.stale_states(snapshot_windows, checkpoints))
        unknown = [c for c in snapshot_windows if c in self.continued and c not in restored]
        if unknown:  # no state to go on from: the snapshot starts from the series start
            first_days.update(self.reader.first_days(unknown))
        starts = [w.start for w in delta_windows.values()]
        starts += [
            restored[c][0] + timedelta(days=1) if c in restored else first_days[c]
            for c in snapshot_windows
        ]
        start = min(starts)
        end = max(w.end for w in [*delta_windows.values(), *snapshot_windows.values()])
        active = sorted(set(delta_windows) | set(snapshot_windows))
        counts = {name: dict.fromkeys(active, 0) for name in results}
        actions = self.actions(
            start, end, active, delta_windows, snapshot_windows, counts, restored, checkpoints
        )
        bulk_write(actions, chunk_size=self.bulk_size)
        for aggregator, windows in ((self.delta, delta_windows), (self.snapshot, snapshot_windows)):
            if aggregator is None:
                continue
            search_client.indices.refresh(index=aggregator.alias)
            for cid, window in windows.items():
                results[aggregator.name][cid] = self.ctx.finish(
                    aggregator, cid, window, counts[aggregator.name][cid]
                )
        if checkpoints:
            usage_state.prune(checkpoints)
        return results

    def first_days(self) -> dict[str, date]:
        """Each community's first day with events, where the windows need it.

        Finding first days reads every event on the engine's side, so a series that goes
        on from its bookmarks (no ``--start-date``, no ``--ignore-bookmark``) stands in
        its earliest bookmark: the windows then start after the bookmarks all the same.
        """
        self.continued = set()
        if self.ctx.start is None and not self.ctx.ignore_bookmark:
            for cid in self.community_ids:
                marks = [
                    self.ctx.bookmarks.get(a.name, cid)
                    for a in (self.delta, self.snapshot)
                    if a is not None
                ]
                if marks and None not in marks:
                    self.continued.add(cid)
        found = self.reader.first_days([c for c in self.community_ids if c not in self.continued])
        for cid in self.continued:
            found[cid] = min(
                self.ctx.bookmarks.get(a.name, cid) for a in (self.delta, self.snapshot) if a
            )
        return found

    def restore(self, snapshot_windows: dict) -> dict[str, tuple]:
        """``community -> (day, total, total_sub)`` of the states the snapshots go on from.

        A state counts only when dated the day before the snapshot window (see
        :mod:`.usage_state`); its values' labels join the run's.
        """
        wanted = {cid: w.start - timedelta(days=1) for cid, w in snapshot_windows.items()}
        restored = {}
        print_ = usage_state.fingerprint(self.kinds)
        for cid, (day, text) in usage_state.load(wanted, print_).items():
            total, total_sub, labels = usage_state.decode(text, Cumulative)
            for key, label in labels.items():
                self.labels.setdefault(key, label)
            restored[cid] = (day, total, total_sub)
        return restored

    def checkpoints(self, snapshot_windows: dict) -> dict[str, date]:
        """``community -> day`` whose end-of-day state this run stores.

        The day the snapshot bookmark stands at after the run (moved or not), when this
        run computes that day: a run that rewrites the bookmark's day (``--start-date``,
        ``--no-update-bookmark``) rewrites its state too.
        """
        out = {}
        for cid, window in snapshot_windows.items():
            day = self.ctx.next_bookmark(self.snapshot, cid, window)
            if day is None:
                day = self.ctx.bookmarks.get(self.snapshot.name, cid)
            if day is not None and window.start <= day <= window.end:
                out[cid] = day
        return out

    def stale_states(self, snapshot_windows: dict, checkpoints: dict) -> list[str]:
        """Communities whose stored state this run makes stale without rewriting it.

        A window that starts at or before the bookmark rewrites days the state has
        counted (late events may be among them); unless the run stores the state again,
        the next run must not go on from it.
        """
        stale = []
        for cid, window in snapshot_windows.items():
            bookmark = self.ctx.bookmarks.get(self.snapshot.name, cid)
            if cid not in checkpoints and bookmark is not None and window.start <= bookmark:
                stale.append(cid)
        return stale

    def actions(
        self, start, end, active, delta_windows, snapshot_windows, counts, restored, checkpoints
    ):
        """Bulk actions for every day of ``[start, end]``, day by day (states included)."""
        states = {cid: CommunityState() for cid in active}
        for cid, (day, total, total_sub) in restored.items():
            if day < start:  # nothing to read before it: the state is where to begin
                states[cid].total, states[cid].total_sub = total, total_sub
        print_ = usage_state.fingerprint(self.kinds)
        wanted = set(active)
        stream = self.reader.stream(active, start, end)
        pending = next(stream, None)
        day = start
        now = utc_now().isoformat()
        while day <= end:
            while pending is not None and pending[0] == day:
                _, event, download = pending
                values = {key: SOURCES[key](event) for key in self.kinds}
                for key, items in values.items():
                    for value, label in items:
                        if label and (key, value) not in self.labels:
                            self.labels[(key, value)] = label
                targets = wanted.intersection(event.get("community_ids") or [])
                if GLOBAL in wanted:
                    targets.add(GLOBAL)
                for cid in targets:
                    states[cid].add(event, download, values)
                pending = next(stream, None)
            for cid in active:
                state = states[cid]
                window = delta_windows.get(cid)
                if window and window.start <= day <= window.end:
                    counts[self.delta.name][cid] += 1
                    yield self._doc(self.delta, cid, day, now, state.day, state.day_sub, True)
                state.close_day()
                if cid in restored and restored[cid][0] == day:
                    # read for other series only: the stored state replaces the days so far
                    state.total, state.total_sub = restored[cid][1], restored[cid][2]
                window = snapshot_windows.get(cid)
                if window and window.start <= day <= window.end:
                    counts[self.snapshot.name][cid] += 1
                    yield self._doc(
                        self.snapshot, cid, day, now, state.total, state.total_sub, False
                    )
                if checkpoints.get(cid) == day:
                    text = usage_state.encode(state.total, state.total_sub, self.labels)
                    yield from usage_state.actions(cid, day, print_, text)
            self.ctx.heartbeat()
            day += timedelta(days=1)

    def _doc(self, aggregator, cid, day, now, totals, subcounts, delta: bool) -> dict:
        source = {"timestamp": now, "updated_timestamp": now, "community_id": cid}
        if delta:
            source.update(day_period(day))
        else:
            source["snapshot_date"] = day.isoformat()
        source["totals"] = {
            "view": totals["view"].doc(False),
            "download": totals["download"].doc(True),
        }
        source["subcounts"] = _subcount_docs(subcounts, self.kinds, self.labels, self.limit)
        return {
            "_index": aggregator.index_for(day),
            "_id": doc_id(cid, day),
            "_source": source,
        }


register(UsageDeltaAggregator())
register(UsageSnapshotAggregator())
