"""The membership history's service: what the CLI, the tasks and other modules call."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date

from ..core.days import check_range, parse_day, to_datetime
from ..core.engine import search_client
from ..core.ids import GLOBAL, resolve_community_ids
from ..core.indices import records_alias
from ..core.locks import held_while_working
from ..core.paging import chunks
from .backfill import ProgressCallback, run_backfill
from .plan import plan_created_change
from .sources import RecordFilter
from .store import community_event_details, read_history, refresh_history, write_plans
from .sync import utcnow

__all__ = (
    "community_details",
    "community_events_status",
    "generate_community_events",
    "reconcile_membership",
    "update_record_created_dates",
)


BACKFILL_LOCK = "membership-backfill"
"""The lock a backfill holds: two at once would plan the same missing events."""


def _filter_and_scope(
    community_ids: Iterable[str] | None,
    record_ids: Iterable[str] | None,
    start_date: str | date | None,
    end_date: str | date | None,
) -> tuple[RecordFilter, set[str] | None]:
    """The records filter and event scope; raises ``InvalidDate`` / ``CommunityNotFound``."""
    start = parse_day(start_date, "start date")
    end = parse_day(end_date, "end date")
    check_range(start, end)
    communities = resolve_community_ids(community_ids or [])
    scope = set(communities) or None
    record_filter = RecordFilter(
        community_ids=tuple(c for c in communities if c != GLOBAL),
        record_ids=tuple(dict.fromkeys(r.strip() for r in record_ids or [] if r.strip())),
        start=start,
        end=end,
    )
    return record_filter, scope


def generate_community_events(
    community_ids: list[str] | None = None,
    record_ids: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> dict:
    """Backfill: write the membership events the covered records lack.

    ``community_ids`` (UUIDs or slugs) limit both the records (members of any of them)
    and the events (those communities only; add ``global`` for global). ``record_ids``
    are record UUIDs or PID values. ``start_date`` / ``end_date`` (inclusive) filter on
    the record's ``created``. Returns the run summary (see ``RunSummary.as_dict``).
    Holds the backfill lock (``LockHeld`` when another backfill runs).
    """
    record_filter, scope = _filter_and_scope(community_ids, record_ids, start_date, end_date)
    with held_while_working(BACKFILL_LOCK, "community-events generate") as keep_alive:

        def on_batch(*args, **kwargs) -> None:
            keep_alive()
            if progress is not None:
                progress(*args, **kwargs)

        summary = run_backfill(record_filter, scope, progress=on_batch, should_stop=should_stop)
    return summary.as_dict()


def community_events_status(
    community_ids: list[str] | None = None,
    record_ids: list[str] | None = None,
    start_date: str | None = None,
    end_date: str | None = None,
    progress: ProgressCallback | None = None,
) -> dict:
    """What ``generate_community_events`` would write, without writing (same filters)."""
    record_filter, scope = _filter_and_scope(community_ids, record_ids, start_date, end_date)
    return run_backfill(record_filter, scope, dry_run=True, progress=progress).as_dict()


def reconcile_membership(progress=None) -> dict:
    """Compare every record's current membership with the history; write what is missing.

    Covers the changes no hook sees (see docs/membership-history.md) and any live write
    that failed. Aggregations call it at the start of each run (``progress`` is then
    their lock keep-alive, called after every batch).
    """
    return run_backfill(RecordFilter(), progress=progress).as_dict()


def update_record_created_dates(changes: list[dict]) -> dict:
    """Set ``record_created_date`` on the events of records whose ``created`` changed.

    ``changes``: ``[{"record_id": <UUID or PID value>, "new_created": <ISO datetime>}]``.
    Global's entry event (dated by ``created``) moves to the new date. Bulk: one search
    per 500 records and one bulk write. Returns ``{"records": n, "events_updated": n}``.
    """
    wanted = {str(change["record_id"]): to_datetime(change["new_created"]) for change in changes}
    by_uuid = _record_uuids(list(wanted))
    now = utcnow()
    records = updated = 0
    for chunk in chunks(list(by_uuid), 500):
        history = read_history(chunk)
        plans = []
        for record_uuid in chunk:
            plan = plan_created_change(
                record_uuid, history.get(record_uuid, []), wanted[by_uuid[record_uuid]], now
            )
            if plan:
                plans.append(plan)
                records += 1
                updated += len(plan.updates) + len(plan.new_events)
        write_plans(plans)
    if updated:
        refresh_history()
    return {"records": records, "events_updated": updated}


def _record_uuids(values: list[str]) -> dict[str, str]:
    """Record UUID -> the value given, for UUIDs or PID values (one search per 500 PIDs)."""
    found: dict[str, str] = {}
    pids = []
    for value in values:
        try:
            found[str(uuid.UUID(value))] = value
        except ValueError:
            pids.append(value)
    for chunk in chunks(pids, 500):
        response = search_client.search(
            index=records_alias(),
            body={"query": {"terms": {"id": chunk}}, "size": len(chunk), "_source": ["id"]},
        )
        for hit in response["hits"]["hits"]:
            found[hit["_id"]] = hit["_source"]["id"]
    return found


def community_details(community_ids: list[str]) -> dict[str, dict]:
    """Slug, title, stored events and first/last event day of each community.

    One SQL query and one paged composite aggregation (exact at any size).
    """
    from invenio_communities.communities.records.models import CommunityMetadata

    details: dict[str, dict] = {cid: {} for cid in community_ids}
    if GLOBAL in details:
        details[GLOBAL].update(slug="-", title="all records")
    keys = []
    for cid in community_ids:
        try:
            keys.append(uuid.UUID(cid))
        except ValueError:
            continue
    if keys:
        for row in CommunityMetadata.query.filter(CommunityMetadata.id.in_(keys)):
            title = ((row.json or {}).get("metadata") or {}).get("title", "-")
            details[str(row.id)].update(slug=row.slug or "-", title=title)
    for cid, found in community_event_details(community_ids).items():
        details.setdefault(cid, {}).update(
            events=found["events"],
            first_event=found["first_event"].isoformat() if found["first_event"] else "-",
            last_event=found["last_event"].isoformat() if found["last_event"] else "-",
        )
    return details
