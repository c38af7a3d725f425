"""The six records aggregations: delta and snapshot for the created, published and added bases.

They run as one batch, community by community: one read of the community's membership
history and one of its records' facts serve all six; each aggregation then walks its
days in Python (:mod:`.record_engine`) and streams its documents with ``streaming_bulk``.
Memory holds one community's records at a time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

from flask import current_app
from invenio_search import current_search_client
from opensearchpy.helpers import streaming_bulk

from ..communities import GLOBAL
from .base import (
    Aggregator,
    BatchedAggregator,
    CommunityOutcome,
    RunContext,
    Window,
    doc_id,
    earliest_date,
    register,
)
from .record_engine import (
    BASES,
    DayChanges,
    SnapshotState,
    SubcountConfig,
    day_changes,
    delta_body,
    walk_days,
)
from .record_facts import SUBCOUNT_EXTRACTORS, RecordFacts
from .sources import load_facts, load_memberships


def subcount_kinds() -> dict[str, str]:
    """``COMMUNITY_STATS_SUBCOUNTS`` restricted to the keys records can be counted by."""
    configured = current_app.config.get("COMMUNITY_STATS_SUBCOUNTS") or {}
    return {key: kind for key, kind in configured.items() if key in SUBCOUNT_EXTRACTORS}


def bulk_size() -> int:
    """Documents per bulk request."""
    return int(current_app.config.get("COMMUNITY_STATS_AGGREGATION_BULK_SIZE") or 500)


class RecordsAggregator(BatchedAggregator):
    """Records delta or snapshot under one date basis."""

    batch = "records"

    def __init__(self, kind: str, basis: str):
        """Name the aggregation after its kind and basis."""
        self.kind = kind
        self.basis = basis
        self.name = f"community-records-{kind}-{basis}"
        self.index = f"stats-community-records-{kind}-{basis}"
        self.query_type = f"community-record-{kind}-{basis}"
        self.short_name = f"{kind}-{basis}"
        self.date_field = "period_start" if kind == "delta" else "snapshot_date"
        self.depends_on = f"community-records-delta-{basis}" if kind == "snapshot" else None
        self.order = (10 if kind == "delta" else 20) + BASES.index(basis)

    @classmethod
    def run_batch(
        cls, aggregators: list[Aggregator], ctx: RunContext, community_ids: list[str]
    ) -> dict[str, dict[str, CommunityOutcome]]:
        """Run the given records aggregations, community by community."""
        kinds = subcount_kinds()
        limit = int(current_app.config.get("COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT") or 20)
        results: dict[str, dict[str, CommunityOutcome]] = {a.name: {} for a in aggregators}
        written = set()
        for community_id in community_ids:
            began = time.monotonic()
            memberships = load_memberships(community_id)
            facts: dict[str, RecordFacts] = {}
            labels: dict = {}
            if memberships:
                facts, labels = load_facts(memberships, list(kinds))
            ctx.add_time("records: reads", time.monotonic() - began)
            subcounts = SubcountConfig(kinds=kinds, limit=limit, labels=labels)
            for aggregator in aggregators:
                began = time.monotonic()
                outcome = aggregator.aggregate_community(
                    ctx, community_id, memberships, facts, subcounts
                )
                if outcome is not None:
                    results[aggregator.name][community_id] = outcome
                    written.add(aggregator.alias)
                ctx.add_time(aggregator.name, time.monotonic() - began)
            ctx.heartbeat()
        for alias in written:
            current_search_client.indices.refresh(index=alias)
        return results

    def aggregate_community(
        self,
        ctx: RunContext,
        community_id: str,
        memberships: dict,
        facts: dict[str, RecordFacts],
        subcounts: SubcountConfig,
    ) -> CommunityOutcome | None:
        """Write one community's documents for the run's window; None if nothing to do."""
        earliest = earliest_date()
        changes = day_changes(memberships, self.basis, community_id == GLOBAL, earliest)
        window = ctx.window(self, community_id, changes.first_day)
        if window is None:
            return None
        if window.start <= changes.first_day:
            self._delete_before(community_id, changes.first_day)
        actions = self._actions(ctx, community_id, changes, facts, subcounts, window)
        documents = sum(
            1
            for _ in streaming_bulk(
                current_search_client,
                actions,
                chunk_size=bulk_size(),
                max_retries=3,
                request_timeout=300,
            )
        )
        return ctx.finish(self, community_id, window, documents)

    def _actions(
        self,
        ctx: RunContext,
        community_id: str,
        changes: DayChanges,
        facts: dict[str, RecordFacts],
        subcounts: SubcountConfig,
        window: Window,
    ) -> Iterator[dict]:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        state = SnapshotState(facts, subcounts) if self.kind == "snapshot" else None
        cached = None
        for day, entering, leaving, changed in walk_days(changes, state, window.start, window.end):
            ctx.keep_alive()
            if self.kind == "delta":
                body = delta_body(entering, leaving, facts, subcounts)
                dates = {
                    "period_start": f"{day.isoformat()}T00:00:00",
                    "period_end": f"{day.isoformat()}T23:59:59",
                }
            else:
                if changed or cached is None:
                    cached = state.body()
                body = cached
                dates = {"snapshot_date": day.isoformat()}
            yield {
                "_op_type": "index",
                "_index": self.index_for(day),
                "_id": doc_id(community_id, day),
                "_source": {
                    "timestamp": now,
                    "updated_timestamp": now,
                    "community_id": community_id,
                    **dates,
                    **body,
                },
            }

    def _delete_before(self, community_id: str, first_day: date) -> None:
        """Drop documents dated before the series start (left by an earlier history)."""
        client = current_search_client
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


RECORDS_AGGREGATORS = [
    register(RecordsAggregator(kind, basis)) for kind in ("delta", "snapshot") for basis in BASES
]
