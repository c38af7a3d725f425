"""What the membership history of one record should gain: a pure planning function.

The history of a record is a list of "added" / "removed" events per community (and for the
pseudo-community ``global``). :func:`plan_record` compares that history with the record's
current state (its parent's communities, its deletion status, its dates) and returns the
events that are missing and the flag changes the existing events need. It does no I/O, so
live tracking, the backfill and the reconciliation share it and it is unit tested alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

from ..core.days import iso, to_datetime
from ..core.ids import GLOBAL
from .model import ADDED, REMOVED, Change, is_member_after, last_moment


def event_id(record_id: str, community_id: str, event_type: str, when: datetime) -> str:
    """Deterministic document id: record, community, type and the event's moment.

    The same change, dated from the same evidence, always gets the same id (re-runs
    overwrite instead of duplicating); distinct changes on one day keep distinct ids, so
    a record removed and re-added on the same day keeps both events in order.
    """
    return f"{record_id}-{community_id}-{event_type}-{when:%Y-%m-%dT%H:%M:%S.%f}"


@dataclass(frozen=True)
class RecordState:
    """What a published record is now (from the records index or the database)."""

    record_id: str
    communities: frozenset[str]
    created: datetime
    published_date: date | None = None
    deleted: bool = False
    deleted_date: datetime | None = None
    updated: datetime | None = None
    parent_id: str | None = None


@dataclass(frozen=True)
class Evidence:
    """Database facts that date changes the history missed."""

    request_times: Mapping[str, datetime] = field(default_factory=dict)
    """Community id -> when the request that brought the parent in was accepted."""
    parent_updated: datetime | None = None
    """Last change of the parent (membership changes commit the parent)."""


@dataclass(frozen=True)
class HistoryEvent:
    """One stored membership event (the fields planning needs)."""

    doc_id: str
    index: str
    community_id: str
    event_type: str
    event_date: datetime
    record_created_date: datetime | None = None
    record_published_date: datetime | None = None
    is_deleted: bool = False
    deleted_date: datetime | None = None
    timestamp: datetime | None = None

    @classmethod
    def from_hit(cls, hit: Mapping) -> HistoryEvent:
        """Build from a search hit (``_id``, ``_index``, ``_source``)."""
        src = hit["_source"]
        return cls(
            doc_id=hit["_id"],
            index=hit["_index"],
            community_id=src["community_id"],
            event_type=src["event_type"],
            event_date=to_datetime(src["event_date"]),
            record_created_date=to_datetime(src.get("record_created_date")),
            record_published_date=to_datetime(src.get("record_published_date")),
            is_deleted=bool(src.get("is_deleted")),
            deleted_date=to_datetime(src.get("deleted_date")),
            timestamp=to_datetime(src.get("timestamp")),
        )


@dataclass
class RecordPlan:
    """Writes that bring one record's history up to date."""

    record_id: str
    new_events: list[dict] = field(default_factory=list)
    """Full event documents, each with its ``_id``."""
    updates: list[tuple[str, str, dict]] = field(default_factory=list)
    """Partial updates of existing events: (index, id, changed fields)."""
    deletes: list[tuple[str, str]] = field(default_factory=list)
    """Events replaced by a re-dated copy: (index, id)."""

    @property
    def communities_missing(self) -> set[str]:
        """Communities for which this record lacks events."""
        return {doc["community_id"] for doc in self.new_events}

    def __bool__(self) -> bool:
        """True when something has to be written."""
        return bool(self.new_events or self.updates or self.deletes)


def _order(event: HistoryEvent) -> tuple:
    """A stable listing order (the membership itself follows :mod:`.model`'s rule)."""
    return (event.event_date, event.event_type == REMOVED, event.doc_id)


def changes_of(events: Iterable[HistoryEvent]) -> list[Change]:
    """The events as the membership rule reads them."""
    return [Change(event.event_date, event.event_type) for event in events]


def _latest(*values: datetime | None) -> datetime | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def plan_record(
    state: RecordState,
    history: Iterable[HistoryEvent],
    now: datetime,
    *,
    live: bool = False,
    evidence: Evidence | None = None,
    scope: set[str] | None = None,
) -> RecordPlan:
    """Events and flag changes that make ``history`` describe ``state``.

    ``live``: the change is happening now (a service hook), so entries and exits are dated
    ``now``; a record without any history that was created before today is treated as not
    live (it predates tracking). Otherwise (backfill, reconciliation) dates come from
    evidence: a never-seen membership is dated by its accepted request (not before the
    record's creation), else the record's publication date, else its creation; an exit or
    re-entry the hooks missed is dated by the last change of the parent or record; a
    deletion by the tombstone's removal date. ``global`` always enters on ``created``.
    ``scope`` limits the communities considered (``None``: all, global included).
    """
    evidence = evidence or Evidence()
    events = sorted(history, key=_order)
    by_community: dict[str, list[HistoryEvent]] = {}
    for event in events:
        by_community.setdefault(event.community_id, []).append(event)
    # tracked: live tracking or a full backfill has seen the record (both write global);
    # a backfill limited to some communities does not make it tracked
    tracked = GLOBAL in by_community
    if live and not tracked and state.created.date() < now.date():
        live = False
    plan = RecordPlan(state.record_id)
    deleted_date = state.deleted_date or state.updated or now if state.deleted else None

    def emit(community_id: str, event_type: str, when: datetime) -> None:
        plan.new_events.append(_event_doc(state, community_id, event_type, when, deleted_date, now))

    def join_date(community_id: str, past: list[HistoryEvent]) -> datetime:
        if community_id == GLOBAL and not past:
            return state.created
        if past:
            return _latest(
                last_moment(changes_of(past)),
                now if live else None,
                state.updated,
                evidence.parent_updated,
            )
        if live:
            return now
        requested = evidence.request_times.get(community_id)
        if requested is not None:
            return max(requested, state.created)
        if tracked:
            return _latest(state.created, evidence.parent_updated) or state.created
        return state.created

    candidates = set(state.communities) | set(by_community) | {GLOBAL}
    for community_id in sorted(candidates):
        if scope is not None and community_id not in scope:
            continue
        past = by_community.get(community_id, [])
        is_member_now = (community_id == GLOBAL or community_id in state.communities) and (
            not state.deleted
        )
        was_member = is_member_after(changes_of(past))
        if is_member_now and not was_member:
            emit(community_id, ADDED, join_date(community_id, past))
        elif was_member and not is_member_now:
            if state.deleted:
                left = deleted_date
            elif live:
                left = now
            else:
                left = _latest(
                    evidence.parent_updated or state.updated, last_moment(changes_of(past))
                )
            emit(community_id, REMOVED, max(left, last_moment(changes_of(past))))
        elif (
            not past
            and state.deleted
            and (community_id == GLOBAL or community_id in state.communities)
        ):
            # never tracked and already deleted: keep the interval it was a member
            joined = min(join_date(community_id, past), deleted_date)
            emit(community_id, ADDED, joined)
            emit(community_id, REMOVED, deleted_date)

    _plan_flag_updates(plan, state, events, deleted_date, now)
    return plan


def _event_doc(
    state: RecordState,
    community_id: str,
    event_type: str,
    when: datetime,
    deleted_date: datetime | None,
    now: datetime,
) -> dict:
    return {
        "_id": event_id(state.record_id, community_id, event_type, when),
        "record_id": state.record_id,
        "community_id": community_id,
        "event_type": event_type,
        "event_date": iso(when),
        "record_created_date": iso(state.created),
        "record_published_date": state.published_date.isoformat() if state.published_date else None,
        "is_deleted": state.deleted,
        "deleted_date": iso(deleted_date),
        "timestamp": iso(now),
        "updated_timestamp": iso(now),
    }


def _created_entries(events: list[HistoryEvent], new_created: datetime) -> set[str]:
    """Ids of the entries dated by the record's ``created`` that may move to ``new_created``.

    Per community, its first event when it is an addition at the record's (stored)
    ``created``: the rebuild rule's date for a join without a request (and global's
    entry). It moves only while it stays before the community's next event.
    """
    by_community: dict[str, list[HistoryEvent]] = {}
    for event in sorted(events, key=_order):
        by_community.setdefault(event.community_id, []).append(event)
    found = set()
    for past in by_community.values():
        first = past[0]
        if (
            first.event_type == ADDED
            and first.record_created_date is not None
            and first.event_date == first.record_created_date
            and first.event_date != new_created
            and all(new_created < later.event_date for later in past[1:])
        ):
            found.add(first.doc_id)
    return found


def _moved_entry(event: HistoryEvent, record_id: str, new_created: datetime, now: datetime) -> dict:
    """An entry re-dated to the record's new ``created`` (a new id: the old one goes)."""
    return {
        "_id": event_id(record_id, event.community_id, ADDED, new_created),
        "record_id": record_id,
        "community_id": event.community_id,
        "event_type": ADDED,
        "event_date": iso(new_created),
        "record_created_date": iso(new_created),
        "record_published_date": iso(event.record_published_date)[:10]
        if event.record_published_date
        else None,
        "is_deleted": event.is_deleted,
        "deleted_date": iso(event.deleted_date),
        "timestamp": iso(event.timestamp or now),
        "updated_timestamp": iso(now),
    }


def _plan_flag_updates(
    plan: RecordPlan,
    state: RecordState,
    events: list[HistoryEvent],
    deleted_date: datetime | None,
    now: datetime,
) -> None:
    """Deletion flags and record dates of existing events; re-date entries on ``created``."""
    published = datetime(*state.published_date.timetuple()[:3]) if state.published_date else None
    entries = _created_entries(events, state.created)
    new_ids = {doc["_id"] for doc in plan.new_events}
    for event in events:
        if event.doc_id in entries:
            # the record's created date was repaired: entries dated by it follow
            doc = _moved_entry(event, state.record_id, state.created, now)
            doc.update(is_deleted=state.deleted, deleted_date=iso(deleted_date))
            doc["record_published_date"] = (
                state.published_date.isoformat() if state.published_date else None
            )
            plan.deletes.append((event.index, event.doc_id))
            if doc["_id"] not in new_ids:
                plan.new_events.append(doc)
            continue
        changes = {}
        if event.is_deleted != state.deleted:
            changes["is_deleted"] = state.deleted
        if event.deleted_date != deleted_date:
            changes["deleted_date"] = iso(deleted_date)
        if event.record_created_date != state.created:
            changes["record_created_date"] = iso(state.created)
        if event.record_published_date != published:
            changes["record_published_date"] = (
                state.published_date.isoformat() if state.published_date else None
            )
        if changes and event.doc_id not in new_ids:
            changes["updated_timestamp"] = iso(now)
            plan.updates.append((event.index, event.doc_id, changes))


def plan_created_change(
    record_id: str, history: Iterable[HistoryEvent], new_created: datetime, now: datetime
) -> RecordPlan:
    """Set ``record_created_date`` on a record's events; re-date the entries dated by it.

    Global enters on ``created``, and so does a membership rebuilt without a request:
    those entries (an addition at the old ``created``, first of its community) move to
    the new one (a new id, the old document deleted), as a rebuild would date them.
    """
    events = sorted(history, key=_order)
    plan = RecordPlan(record_id)
    entries = _created_entries(events, new_created)
    for event in events:
        if event.record_created_date == new_created:
            continue
        if event.doc_id in entries:
            plan.new_events.append(_moved_entry(event, record_id, new_created, now))
            plan.deletes.append((event.index, event.doc_id))
            continue
        plan.updates.append(
            (
                event.index,
                event.doc_id,
                {"record_created_date": iso(new_created), "updated_timestamp": iso(now)},
            )
        )
    return plan
