"""Stats follow changes to the past: repairs, late membership history, migrated events.

An incremental run starts after each bookmark, so a change dated before it (a record
joining today that counts from its created or publication day years back, a removal
the reconciliation dates in the past, a repaired ``created``) would never reach the
documents already written. Both paths below move the bookmarks back instead; the next
run rewrites from there (the catch-up limit does not count rewritten days).

History written since the last run: every run first looks at the membership events
written or changed since the previous run (their ``updated_timestamp``, one paged
composite aggregation) and moves each community's records bookmarks back to the day
before the earliest day those events touch under each basis.

Migrated events: ``usage-events migrate`` calls :func:`rewind_usage_bookmarks` with the
day of the earliest event it wrote, so usage aggregated before the migration is redone.

Late usage events: every run also looks at the enriched events indexed since the
previous run (their ``updated_timestamp``, stamped by invenio-stats when it indexes
them; one request) and moves the usage bookmarks back to the day before the earliest
day among them. Events indexed within the usage settle days change nothing (those
days are rewritten anyway); older ones (a stalled ``stats-process-events`` queue,
events indexed by hand) make the next run recount from there.

Repairs: when ``invenio importer update_created_dates`` changes records' ``created``, the
membership history's ``record_created_date`` is updated and the bookmarks of the
aggregations that depend on ``created`` move back to the day before the earliest
changed day (old or new), for every community holding those records and for global.
The next ``aggregate`` then recomputes from there, no ``--ignore-bookmark`` needed.
The importer works without this package: it only sends the signal.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from flask import current_app

from ..core.bookmarks import AggregationBookmarks
from ..core.days import day_of
from ..core.ids import GLOBAL
from ..counter.aggregation import COUNTER_ITEMS
from ..membership.store import communities_of_records, earliest_changed_days
from .records.aggregators import KINDS, records_aggregation_name
from .run import earliest_date
from .usage import UsageDeltaAggregator, UsageSnapshotAggregator, earliest_day_indexed_since

HISTORY_MARKER = "membership-history"
"""Marker name: when the last run looked at the membership history."""

USAGE_MARKER = "usage-events"
"""Marker name: when the last run looked at the enriched usage events."""

CLOCK_MARGIN = timedelta(seconds=10)
"""Events are dated by the clock of the host that wrote them: look a little further back
(hosts are expected to keep NTP time; a history written in bulk just before a run is
looked at once more by the next run, which costs a rewrite, never a wrong number)."""

BASIS_FIELDS = {
    "created": "record_created_date",
    "published": "record_published_date",
    "added": None,
}
"""Under the created and published bases a record counts from that date, not from when
it joined (for global, the added basis is the created date too)."""

CREATED_BASIS_AGGREGATIONS = tuple(records_aggregation_name(k, "created") for k in KINDS)
GLOBAL_ADDED_AGGREGATIONS = tuple(records_aggregation_name(k, "added") for k in KINDS)
"""For global, the added basis is the record's created day."""


def earliest_days_per_basis(since: datetime) -> dict[str, dict[str, date]]:
    """``community -> basis -> earliest day`` touched by history written since ``since``."""
    found: dict[str, dict[str, date]] = {}
    earliest = earliest_date()
    for community_id, days in earliest_changed_days(since).items():
        if community_id == GLOBAL:
            days["added"] = days.get("created")  # global's added basis is the created day
        per_basis = {}
        for basis in BASIS_FIELDS:
            candidates = [d for d in (days.get("event"), days.get(basis)) if d]
            if candidates:
                per_basis[basis] = max(min(candidates), earliest)
        found[community_id] = per_basis
    return found


def follow_history_changes(
    store: AggregationBookmarks, checked_at: datetime
) -> dict[str, list[str]]:
    """Move bookmarks back for history written since the last run; remember ``checked_at``.

    ``checked_at`` is taken before this run's reconciliation, so what the run itself
    writes from then on is looked at again by the next run. Returns ``aggregation name
    -> communities whose bookmark moved``.
    """
    since = store.get_marker(HISTORY_MARKER)
    moved: dict[str, list[str]] = {}
    if since is not None:
        for community_id, days in earliest_days_per_basis(since - CLOCK_MARGIN).items():
            for basis, day in days.items():
                for kind in KINDS:
                    name = records_aggregation_name(kind, basis)
                    if store.move_back(name, [community_id], day - timedelta(days=1)):
                        moved.setdefault(name, []).append(community_id)
    store.set_marker(HISTORY_MARKER, checked_at)
    return moved


USAGE_AGGREGATIONS = (UsageDeltaAggregator.name, UsageSnapshotAggregator.name)


def follow_late_usage_events(
    store: AggregationBookmarks, checked_at: datetime
) -> dict[str, list[str]]:
    """Move usage bookmarks back for events indexed late since the last run.

    ``checked_at`` is taken before the run reads anything, so events indexed during the
    run are looked at again by the next one. Returns ``aggregation name -> communities
    whose bookmark moved``.
    """
    since = store.get_marker(USAGE_MARKER)
    moved: dict[str, list[str]] = {}
    if since is not None:
        day = earliest_day_indexed_since(since - CLOCK_MARGIN)
        if day is not None:
            moved = {k: v for k, v in rewind_usage_bookmarks(day, store).items() if v}
    store.set_marker(USAGE_MARKER, checked_at)
    return moved


def rewind_usage_bookmarks(
    day: date, store: AggregationBookmarks | None = None
) -> dict[str, list[str]]:
    """Move every community's usage bookmarks back to before ``day``.

    Called when events dated ``day`` or later reach the enriched indices late (the
    migration of past months, a stalled event queue): the usage documents and COUNTER's
    item counts of those days must be redone. ``store``: the run's bookmarks, when a run
    calls it.
    """
    store = store or AggregationBookmarks()
    names = (*USAGE_AGGREGATIONS, COUNTER_ITEMS.name)
    store.preload(names)
    return {
        name: store.move_back(name, sorted(store.all(name)), day - timedelta(days=1))
        for name in names
    }


def rewind_created_bookmarks(changes: list[dict]) -> dict[str, list[str]]:
    """Move the created-basis bookmarks back for the records in ``changes``.

    Returns ``aggregation name -> communities whose bookmark moved``.
    """
    if not changes:
        return {}
    earliest = min(min(day_of(c["old_created"]), day_of(c["new_created"])) for c in changes)
    day = earliest - timedelta(days=1)
    store = AggregationBookmarks()
    names = (*CREATED_BASIS_AGGREGATIONS, *GLOBAL_ADDED_AGGREGATIONS)
    store.preload(names)
    if not any(store.all(name) for name in names):
        return {}  # nothing aggregated yet: nothing to rewind
    communities = communities_of_records(str(c["record_id"]) for c in changes)
    communities.add(GLOBAL)
    moved = {}
    for name in CREATED_BASIS_AGGREGATIONS:
        moved[name] = store.move_back(name, sorted(communities), day)
    for name in GLOBAL_ADDED_AGGREGATIONS:
        moved[name] = store.move_back(name, [GLOBAL], day)
    return moved


def on_record_created_dates_updated(sender, changes: list[dict] | None = None, **kwargs):
    """Signal receiver: update the membership history, then rewind the bookmarks."""
    if not changes:
        return
    from ..membership.service import update_record_created_dates

    update_record_created_dates(
        [{"record_id": str(c["record_id"]), "new_created": c["new_created"]} for c in changes]
    )
    moved = rewind_created_bookmarks(changes)
    current_app.logger.info(
        "created dates of %d records changed; bookmarks moved back: %s",
        len(changes),
        {name: len(ids) for name, ids in moved.items()},
    )


def connect_repair_receiver() -> None:
    """Connect the receiver to the importer's signal (when the importer is installed)."""
    try:
        from invenio_record_importer_kcworks.signals import record_created_dates_updated
    except ImportError:
        return
    record_created_dates_updated.connect(on_record_created_dates_updated, weak=False)
