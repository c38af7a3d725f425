"""Backfill, status and reconciliation of the membership history, in bulk.

Records are read from the records index in batches (``search_after``); per batch one
search loads the history of all its records, two SQL queries load the evidence (accepted
requests, parents' last change), and one ``streaming_bulk`` writes the missing events.
Memory holds one batch. Only missing events are written, so re-running creates nothing
new, and a run stopped between batches leaves a consistent history that a re-run
completes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import current_app

from ..core.ids import GLOBAL
from .plan import RecordPlan
from .sources import RecordFilter, count_records, scan_record_states
from .store import write_plans
from .sync import plan_batch, utcnow

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: records processed so far, records to process."""


@dataclass
class CommunityCount:
    """Per-community figures of a run."""

    records: int = 0
    """Records checked that are members now (global: not deleted)."""
    missing_records: int = 0
    """Records that lacked at least one event for this community."""
    missing_events: int = 0
    """Events that were missing (written, unless a dry run)."""


@dataclass
class RunSummary:
    """What a backfill / status / reconciliation run found and wrote."""

    records_total: int = 0
    records_checked: int = 0
    records_missing: int = 0
    events_missing: int = 0
    events_updated: int = 0
    actions_written: int = 0
    cancelled: bool = False
    dry_run: bool = False
    communities: dict[str, CommunityCount] = field(default_factory=dict)

    def add(self, plans: list[RecordPlan], states, scope: set[str] | None = None) -> None:
        """Count one batch (communities outside ``scope`` are not reported)."""
        self.records_checked += len(states)
        for state in states:
            members = set(state.communities) if not state.deleted else set()
            if not state.deleted:
                members.add(GLOBAL)
            if scope is not None:
                members &= scope
            for community_id in members:
                self.communities.setdefault(community_id, CommunityCount()).records += 1
        for plan in plans:
            if plan.new_events:
                self.records_missing += 1
            self.events_missing += len(plan.new_events)
            self.events_updated += len(plan.updates)
            per_record = Counter(doc["community_id"] for doc in plan.new_events)
            for community_id, missing in per_record.items():
                count = self.communities.setdefault(community_id, CommunityCount())
                count.missing_records += 1
                count.missing_events += missing

    def as_dict(self) -> dict:
        """Plain summary (JSON-able), as returned by the API functions."""
        return {
            "records_total": self.records_total,
            "records_checked": self.records_checked,
            "records_missing_events": self.records_missing,
            "events_created": 0 if self.dry_run else self.events_missing,
            "events_missing": self.events_missing,
            "events_updated": 0 if self.dry_run else self.events_updated,
            "cancelled": self.cancelled,
            "dry_run": self.dry_run,
            "communities": {
                cid: {
                    "records": c.records,
                    "records_missing_events": c.missing_records,
                    "events_missing": c.missing_events,
                }
                for cid, c in sorted(self.communities.items())
            },
        }


def run_backfill(
    record_filter: RecordFilter,
    scope: set[str] | None = None,
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> RunSummary:
    """Compare every covered record with its history; write what is missing.

    ``scope``: communities whose events are considered (``None``: all and global).
    ``should_stop`` is asked between batches: the run then ends after a fully written
    batch, with ``cancelled`` set.
    """
    config = current_app.config
    batch_size = int(config.get("COMMUNITY_STATS_EVENTS_BATCH_SIZE", 500))
    delay = float(config.get("COMMUNITY_STATS_EVENTS_BATCH_DELAY", 0))
    summary = RunSummary(dry_run=dry_run)
    summary.records_total = count_records(record_filter)
    if progress:
        progress(0, summary.records_total)
    now = utcnow()
    written = 0
    for states in scan_record_states(record_filter, batch_size):
        if should_stop and should_stop():
            summary.cancelled = True
            break
        plans = plan_batch(states, now, scope=scope)
        summary.add(plans, states, scope)
        if plans and not dry_run:
            # refreshed before the next batch reads: a real engine shows writes only
            # after a refresh (a batch reads its own records' history only, but a run
            # must never depend on what it cannot see)
            written += write_plans(plans, refresh=True)
        if progress:
            progress(summary.records_checked, summary.records_total)
        if delay:
            time.sleep(delay)
    summary.actions_written = written
    return summary
