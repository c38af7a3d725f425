"""The six records aggregations: delta and snapshot for the created, published and added bases.

They run as one batch, community by community: one read of the community's membership
history and of its records' facts fills a temporary database (:mod:`.workspace`) that
serves all six; each aggregation then streams its days' sums from it into documents
through the bulk writer. Memory holds a page of records and a day's numbers, whatever
the community's size. Communities with nothing new since their bookmarks are not read
at all: their new days are copies (:mod:`.unchanged`).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta

from flask import current_app

from ...core.bookmarks import AggregationBookmarks
from ...core.bulk import bulk_write
from ...core.days import day_period, days, to_datetime, utc_now
from ...core.engine import search_client
from ..registry import Aggregator, BatchedAggregator, doc_id, register
from ..run import CommunityOutcome, RunContext, Window
from ..subcounts import active, describe, top_limit
from .engine import BASES, SubcountConfig, delta_body
from .sources import RecentEdits
from .unchanged import Unchanged, settings_key, unchanged_communities
from .workspace import RecordsWorkspace

KINDS = ("delta", "snapshot")

DOCUMENT_FIELDS = ("timestamp", "updated_timestamp", "community_id", "snapshot_date")
"""A stored snapshot's fields that are not its numbers."""


def records_aggregation_name(kind: str, basis: str) -> str:
    """Registry (and bookmark) name of the records aggregation of a kind and basis."""
    return f"community-records-{kind}-{basis}"


def bulk_size() -> int:
    """Documents per bulk request (``COMMUNITY_STATS_AGGREGATION_BULK_SIZE``)."""
    return int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_BULK_SIZE") or 500)


class RecordsAggregator(BatchedAggregator):
    """Records delta or snapshot under one date basis."""

    batch = "records"

    def __init__(self, kind: str, basis: str):
        """Name the aggregation after its kind and basis."""
        self.kind = kind
        self.basis = basis
        self.name = records_aggregation_name(kind, basis)
        self.index = f"stats-community-records-{kind}-{basis}"
        self.query_type = f"community-record-{kind}-{basis}"
        self.short_name = f"{kind}-{basis}"
        self.date_field = "period_start" if kind == "delta" else "snapshot_date"
        self.depends_on = records_aggregation_name("delta", basis) if kind == "snapshot" else None
        self.order = (10 if kind == "delta" else 20) + BASES.index(basis)

    @classmethod
    def run_batch(
        cls, aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str]
    ) -> dict[str, dict[str, CommunityOutcome]]:
        """Run the given records aggregations, community by community.

        Communities with nothing new since their bookmarks (:mod:`.unchanged`) get
        copies without reads; the others are read and computed.
        """
        kinds = active("COMMUNITY_STATS_SUBCOUNTS", usage=False)
        limit = top_limit()
        settings = current_settings()

        def subcounts_of(labels: dict) -> SubcountConfig:
            return SubcountConfig(kinds=kinds, limit=limit, labels=labels)

        results: dict[str, dict[str, CommunityOutcome]] = {a.name: {} for a in aggregators}
        written = set()
        began = time.monotonic()
        quiet = unchanged_communities(aggregators, ctx, community_ids, settings)
        ctx.add_time("records: reads", time.monotonic() - began)
        if quiet:
            for aggregator in aggregators:
                began = time.monotonic()
                outcomes = aggregator.copy_communities(ctx, quiet, subcounts_of({}))
                results[aggregator.name].update(outcomes)
                if outcomes:
                    written.add(aggregator.alias)
                ctx.add_time(aggregator.name, time.monotonic() - began)
            for _ in quiet:
                ctx.heartbeat()
        edits = RecentEdits()
        for community_id in community_ids:
            if community_id in quiet:
                continue
            began = time.monotonic()
            computed = utc_now()
            with load_community(community_id, list(kinds), ctx, edits) as workspace:
                ctx.add_time("records: reads", time.monotonic() - began)
                subcounts = subcounts_of(workspace.labels)
                for aggregator in aggregators:
                    began = time.monotonic()
                    outcome = aggregator.aggregate_community(
                        ctx, community_id, workspace, subcounts, computed
                    )
                    if outcome is not None:
                        results[aggregator.name][community_id] = outcome
                        written.add(aggregator.alias)
                    ctx.add_time(aggregator.name, time.monotonic() - began)
            ctx.heartbeat()
        for alias in written:
            search_client.indices.refresh(index=alias)
        if ctx.every_community and ctx.update_bookmark:
            store_settings(aggregators, ctx.bookmarks)
        return results

    def aggregate_community(
        self,
        ctx: RunContext,
        community_id: str,
        workspace: RecordsWorkspace,
        subcounts: SubcountConfig,
        computed: datetime,
    ) -> CommunityOutcome | None:
        """Write one community's documents for the run's window; None if nothing to do.

        ``workspace`` holds the community's records; ``computed``: when their reads
        began (the documents' ``timestamp``).
        """
        first_day = workspace.first_day(self.basis)
        window = ctx.window(self, community_id, first_day)
        if window is None:
            return None
        if window.start <= first_day:
            self._delete_before(community_id, first_day)
        bodies = self._bodies(ctx, workspace, subcounts, window)
        documents = bulk_write(
            self._documents(community_id, bodies, computed), chunk_size=bulk_size()
        )
        outcome = ctx.finish(self, community_id, window, documents)
        if self.kind == "snapshot":
            workspace.keep_totals(self.basis, outcome.bookmark)
        return outcome

    def copy_communities(
        self, ctx: RunContext, unchanged: dict[str, Unchanged], subcounts: SubcountConfig
    ) -> dict[str, CommunityOutcome]:
        """Write unchanged communities' new days: their last snapshot again, empty deltas.

        One bulk stream and one bookmark write serve all of them.
        """
        windows = {}
        for community_id, entry in unchanged.items():
            window = ctx.window(self, community_id, entry.bookmarks[self.name])
            if window is not None:
                windows[community_id] = window
        empty = delta_body([], subcounts)

        def actions() -> Iterator[dict]:
            for community_id, window in windows.items():
                if self.kind == "delta":
                    body, computed = empty, utc_now()
                else:
                    entry = unchanged[community_id]
                    stored = entry.snapshots[self.name]
                    body = {k: v for k, v in stored.items() if k not in DOCUMENT_FIELDS}
                    computed = entry.checked or to_datetime(stored["timestamp"])
                ctx.keep_alive()
                bodies = ((day, body) for day in days(window.start, window.end))
                yield from self._documents(community_id, bodies, computed)

        bulk_write(actions(), chunk_size=bulk_size())
        documents = {cid: (w.end - w.start).days + 1 for cid, w in windows.items()}
        return ctx.finish_many(self, windows, documents)

    def _bodies(
        self,
        ctx: RunContext,
        workspace: RecordsWorkspace,
        subcounts: SubcountConfig,
        window: Window,
    ) -> Iterator[tuple[date, dict]]:
        """``(day, metrics)`` of the window's days.

        A snapshot keeps the totals of the window's last two days: one of them becomes
        the bookmark, where the next run goes on from.
        """
        if self.kind == "delta":
            bodies = workspace.delta_bodies(self.basis, window.start, window.end, subcounts)
        else:
            keep = {window.end, window.end - timedelta(days=1)}
            bodies = workspace.snapshot_bodies(
                self.basis, window.start, window.end, subcounts, keep
            )
        for day, body in bodies:
            ctx.keep_alive()
            yield day, body

    def _documents(
        self, community_id: str, bodies: Iterable[tuple[date, dict]], computed: datetime
    ) -> Iterator[dict]:
        """Index actions of one community's days.

        ``timestamp`` says when the numbers were computed (a copy: when its records were
        last checked for edits), ``updated_timestamp`` when the document was written.
        """
        stamp = computed.isoformat(timespec="milliseconds")
        now = utc_now().isoformat(timespec="seconds")
        for day, body in bodies:
            dates = day_period(day) if self.kind == "delta" else {"snapshot_date": day.isoformat()}
            yield {
                "_op_type": "index",
                "_index": self.index_for(day),
                "_id": doc_id(community_id, day),
                "_source": {
                    "timestamp": stamp,
                    "updated_timestamp": now,
                    "community_id": community_id,
                    **dates,
                    **body,
                },
            }

    def _delete_before(self, community_id: str, first_day: date) -> None:
        """Drop documents dated before the series start (left by an earlier history)."""
        client = search_client
        if not client.indices.exists(index=self.alias):
            return
        client.delete_by_query(
            index=self.alias,
            body={
                "query": {
                    "bool": {
                        "filter": [
                            {"term": {"community_id": community_id}},
                            {"range": {self.date_field: {"lt": first_day.isoformat()}}},
                        ]
                    }
                }
            },
            conflicts="proceed",
            refresh=True,
        )


def load_community(
    community_id: str, keys: list[str], ctx: RunContext, edits: RecentEdits
) -> RecordsWorkspace:
    """The community's workspace, brought up to date (the batch's one read of its records)."""
    workspace = RecordsWorkspace(community_id, keys, ctx.earliest, edits)
    try:
        workspace.load(ctx.keep_alive)
    except BaseException:
        workspace.close()
        raise
    return workspace


def current_settings() -> str:
    """The subcount settings the records aggregations use now."""
    return describe(active("COMMUNITY_STATS_SUBCOUNTS", usage=False), top_limit())


def store_settings(
    aggregators: list[Aggregator], bookmarks: AggregationBookmarks | None = None
) -> None:
    """Record the settings every community's documents at its bookmarks now use.

    Called after a complete run: copies of unchanged communities may then follow them.
    """
    bookmarks = bookmarks or AggregationBookmarks()
    settings = current_settings()
    for aggregator in aggregators:
        if bookmarks.get_setting(settings_key(aggregator)) != settings:
            bookmarks.set_setting(settings_key(aggregator), settings)


RECORDS_AGGREGATORS = [
    register(RecordsAggregator(kind, basis)) for kind in KINDS for basis in BASES
]
