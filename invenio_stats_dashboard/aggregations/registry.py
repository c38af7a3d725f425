"""The aggregator registry: every daily per-community aggregation plugs in here.

An *aggregator* writes one document per community per day (plus ``"global"``) into
yearly indices ``<index>-YYYY`` behind the alias ``<index>``, with the deterministic id
``{community_id}-{YYYY-MM-DD}``, and keeps one bookmark per community: the last day
fully written. The ``aggregate``, ``status``, ``read`` and ``destroy-indices`` commands
and the scheduled task know aggregations only through this registry.

Adding an aggregation::

    from invenio_stats_dashboard.aggregations.registry import Aggregator, register

    class MyAggregator(Aggregator):
        name = "community-my-delta"          # registry key and bookmark key
        index = "stats-community-my-delta"   # alias, without SEARCH_INDEX_PREFIX
        query_type = "community-my-delta"    # name used by ``read --query-type``
        short_name = "my-delta"              # label in ``status``
        kind = "delta"                       # or "snapshot"
        date_field = "period_start"          # "snapshot_date" for snapshots
        order = 90                           # run order (deltas before snapshots)

        def run(self, ctx, community_ids):
            ...  # for each community: window = ctx.window(...), write, ctx.finish(...)
            return {cid: outcome, ...}

    register(MyAggregator())

``run(ctx, community_ids)`` gets resolved community ids (``"global"`` included) and the
run's :class:`~invenio_stats_dashboard.aggregations.run.RunContext`, which turns options,
bookmarks and a community's first day into the days to write (``ctx.window``) and moves
the bookmark once they are written (``ctx.finish``). Aggregators with the same ``batch``
value are handed to one ``run_batch`` call, so they can share their reads (the six
records aggregations share one read per community; the two usage ones one pass over the
events). The package's aggregators are registered by the modules in
:data:`BUILTIN_MODULES`; a site can register more from its own extension.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from ..core.indices import prefixed, yearly_index

if TYPE_CHECKING:
    from .run import CommunityOutcome, RunContext


def doc_id(community_id: str, day: date) -> str:
    """Deterministic document id of one community-day."""
    return f"{community_id}-{day.isoformat()}"


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
        return yearly_index(self.index, day)

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
)
"""Modules that register the package's aggregators when imported."""


def _load_builtin() -> None:
    for module in BUILTIN_MODULES:
        importlib.import_module(module)


def aggregators(names: Iterable[str] | None = None) -> list[Aggregator]:
    """Registered aggregators in run order (deltas before their snapshots).

    Raises ``KeyError`` naming unknown ``names``.
    """
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


def batches(chosen: list[Aggregator]) -> list[list[Aggregator]]:
    """The aggregators grouped by ``batch`` (in run order of each group's first member)."""
    groups: dict[str, list[Aggregator]] = {}
    for aggregator in chosen:
        groups.setdefault(aggregator.batch or aggregator.name, []).append(aggregator)
    return list(groups.values())
