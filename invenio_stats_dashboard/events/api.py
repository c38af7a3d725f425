"""Public API of the membership history (used by the CLI, tasks and other modules)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import date

from invenio_search import current_search_client

from ..communities import CommunityNotFound
from ..communities import resolve_community_ids as resolve_ids
from .backfill import ProgressCallback, run_backfill
from .history import events_alias, events_index_for, read_history, refresh_history, write_plans
from .model import GLOBAL, parse_datetime, plan_created_change
from .sources import RecordFilter, records_alias
from .sync import utcnow
from .tracking import register_membership_hooks, sync_parents

__all__ = (
    "GLOBAL",
    "InvalidFilterError",
    "community_events_status",
    "events_alias",
    "events_index_for",
    "generate_community_events",
    "parse_day",
    "reconcile_membership",
    "register_membership_hooks",
    "resolve_community_ids",
    "sync_parents",
    "update_record_created_dates",
)


class InvalidFilterError(ValueError):
    """A filter given by the user is not valid (unknown community, bad dates)."""


def parse_day(value: str | date | None, name: str = "date") -> date | None:
    """Parse ``YYYY-MM-DD``; raise :class:`InvalidFilterError` with a clear message."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidFilterError(f"{name} must be a date as YYYY-MM-DD, not {value!r}") from None


def resolve_community_ids(values: Iterable[str]) -> list[str]:
    """Community UUIDs for UUIDs or slugs; unknown ones raise :class:`InvalidFilterError`."""
    try:
        return resolve_ids(values)
    except CommunityNotFound as error:
        raise InvalidFilterError(str(error)) from None


def _filter_and_scope(
    community_ids: Iterable[str] | None,
    record_ids: Iterable[str] | None,
    start_date: str | date | None,
    end_date: str | date | None,
) -> tuple[RecordFilter, set[str] | None]:
    start = parse_day(start_date, "start date")
    end = parse_day(end_date, "end date")
    if start and end and start > end:
        raise InvalidFilterError(f"start date {start} is after end date {end}")
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
    """
    record_filter, scope = _filter_and_scope(community_ids, record_ids, start_date, end_date)
    summary = run_backfill(record_filter, scope, progress=progress, should_stop=should_stop)
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
    wanted = {}
    for change in changes:
        wanted[str(change["record_id"])] = parse_datetime(change["new_created"])
    by_uuid = _record_uuids(list(wanted))
    now = utcnow()
    records = updated = 0
    ids = list(by_uuid)
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
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
    for start in range(0, len(pids), 500):
        chunk = pids[start : start + 500]
        response = current_search_client.search(
            index=records_alias(),
            body={"query": {"terms": {"id": chunk}}, "size": len(chunk), "_source": ["id"]},
        )
        for hit in response["hits"]["hits"]:
            found[hit["_id"]] = hit["_source"]["id"]
    return found
