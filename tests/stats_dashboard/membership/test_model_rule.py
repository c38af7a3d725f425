"""The one membership rule, and its three consumers agreeing on it.

Consumers: the history planner (``membership.plan``), the records aggregations
(``aggregations.records.engine``) and the usage enrichment (``usage_events.lookup``).
The oracle below is written independently of the package: a record is a member on day d
when it is a member at the end of day d, processing events in time order, where events at
one instant holding both kinds change nothing.
"""

import random
from datetime import date, datetime, timedelta

import pytest

from invenio_stats_dashboard.aggregations.records.engine import counted_intervals, membership_of
from invenio_stats_dashboard.membership.model import (
    ADDED,
    REMOVED,
    Change,
    day_intervals,
    is_member_after,
    member_on,
)
from invenio_stats_dashboard.membership.plan import HistoryEvent, RecordState, plan_record
from invenio_stats_dashboard.membership.store import MemberHistory
from invenio_stats_dashboard.usage_events.lookup import communities_on, member_days

D = date
FIRST = date(2024, 1, 1)
LAST = date(2024, 1, 20)
EARLIEST = date(2000, 1, 1)


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2024, 1, day, hour, minute)


def oracle_member_on(events: list[tuple[datetime, str]], day: date) -> bool:
    """Member at the end of ``day`` (independent brute force)."""
    end = datetime.combine(day + timedelta(days=1), datetime.min.time())
    member = False
    moments = sorted({moment for moment, _ in events if moment < end})
    for moment in moments:
        kinds = {kind for m, kind in events if m == moment}
        if kinds == {ADDED}:
            member = True
        elif kinds == {REMOVED}:
            member = False
    return member


def history_events(events, community="c", record="r") -> list[HistoryEvent]:
    return [
        HistoryEvent(
            doc_id=f"{record}-{community}-{kind}-{moment.isoformat()}-{n}",
            index="idx",
            community_id=community,
            event_type=kind,
            event_date=moment,
            record_created_date=datetime(2024, 1, 1),
        )
        for n, (moment, kind) in enumerate(events)
    ]


def days_of(intervals) -> set[date]:
    found = set()
    day = FIRST
    while day <= LAST:
        if member_on(intervals, day):
            found.add(day)
        day += timedelta(days=1)
    return found


def consumers(events: list[tuple[datetime, str]]) -> dict[str, set[date]]:
    """Member days of one record in community "c" as each consumer computes them."""
    changes = [Change(moment, kind) for moment, kind in events]
    # records aggregations (added basis, a community): the stored history as it reads it
    membership = membership_of(MemberHistory(changes=changes, created=FIRST))
    records = days_of(counted_intervals(membership, "added", False, EARLIEST))
    # usage enrichment: communities of an event on each day
    per_community = member_days(history_events(events))
    usage = {
        day
        for day in (FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1))
        if "c" in communities_on(per_community, day)
    }
    return {"model": days_of(day_intervals(changes)), "records": records, "usage": usage}


def oracle_days(events) -> set[date]:
    day, found = FIRST, set()
    while day <= LAST:
        if oracle_member_on(events, day):
            found.add(day)
        day += timedelta(days=1)
    return found


CASES = {
    "added and removed the same day": [(at(5, 10), ADDED), (at(5, 15), REMOVED)],
    "removed then added the same day (was a member)": [
        (at(2), ADDED),
        (at(5, 10), REMOVED),
        (at(5, 15), ADDED),
    ],
    "removed then added the same day (was not a member)": [
        (at(5, 10), REMOVED),
        (at(5, 15), ADDED),
    ],
    "added and removed at one instant": [(at(5, 10), ADDED), (at(5, 10), REMOVED)],
    "removed and added at one instant while a member": [
        (at(2), ADDED),
        (at(5, 10), REMOVED),
        (at(5, 10), ADDED),
    ],
    "restore after deletion": [(at(2), ADDED), (at(6, 9), REMOVED), (at(9, 12), ADDED)],
    "removal and re-addition on later days": [(at(2), ADDED), (at(6), REMOVED), (at(8), ADDED)],
    "duplicate additions": [(at(2), ADDED), (at(3), ADDED), (at(7), REMOVED)],
}

EXPECTED = {
    "added and removed the same day": set(),
    "removed then added the same day (was a member)": {D(2024, 1, d) for d in range(2, 21)},
    "removed then added the same day (was not a member)": {D(2024, 1, d) for d in range(5, 21)},
    "added and removed at one instant": set(),
    "removed and added at one instant while a member": {D(2024, 1, d) for d in range(2, 21)},
    "restore after deletion": {D(2024, 1, d) for d in [*range(2, 6), *range(9, 21)]},
    "removal and re-addition on later days": {D(2024, 1, d) for d in [*range(2, 6), *range(8, 21)]},
    "duplicate additions": {D(2024, 1, d) for d in range(2, 7)},
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_day_cases_by_hand(name):
    events = CASES[name]
    assert oracle_days(events) == EXPECTED[name]
    for order in (events, list(reversed(events))):  # never the order events were read in
        for consumer, days in consumers(order).items():
            assert days == EXPECTED[name], consumer


def test_deletion_before_a_backdated_publication_date():
    """Rebuilt history of a deleted record published "in the future" of its deletion."""
    created, gone = at(2, 9), at(4, 17)
    state = RecordState(
        "r",
        frozenset({"c"}),
        created,
        published_date=date(2024, 6, 1),
        deleted=True,
        deleted_date=gone,
    )
    plan = plan_record(state, [], datetime(2024, 2, 1))
    events = sorted(
        (datetime.fromisoformat(doc["event_date"]), doc["event_type"])
        for doc in plan.new_events
        if doc["community_id"] == "c"
    )
    assert events == [(created, ADDED), (gone, REMOVED)]  # joined on created, never publication
    assert all(days == {at(2).date(), at(3).date()} for days in consumers(events).values())
    # a history written by an older backfill (entry and exit at one instant): never a member
    legacy = [(gone, ADDED), (gone, REMOVED)]
    assert all(days == set() for days in consumers(legacy).values())
    assert not is_member_after(Change(m, k) for m, k in legacy)


def _random_history(rng: random.Random) -> list[tuple[datetime, str]]:
    moments = [at(rng.randint(1, 18), rng.choice([0, 10, 15])) for _ in range(rng.randint(0, 7))]
    if moments and rng.random() < 0.5:
        moments.append(rng.choice(moments))  # two events at one instant
    events = [(moment, rng.choice([ADDED, REMOVED])) for moment in moments]
    rng.shuffle(events)
    return events


@pytest.mark.parametrize("seed", range(20))
def test_three_consumers_agree_on_random_histories(seed):
    rng = random.Random(seed)
    for _ in range(100):
        events = _random_history(rng)
        expected = oracle_days(events)
        for consumer, days in consumers(events).items():
            assert days == expected, (consumer, events)
        # the planner reads the same membership: a state that agrees needs no new event,
        # a state that disagrees gets exactly the event that fixes it
        member = oracle_member_on(events, date(2024, 12, 31))
        history = history_events(events)
        now = datetime(2024, 3, 1)
        agreeing = RecordState("r", frozenset({"c"} if member else ()), datetime(2024, 1, 1))
        plan = plan_record(agreeing, history, now, scope={"c"})
        assert not [d for d in plan.new_events if d["community_id"] == "c"], events
        other = RecordState("r", frozenset(() if member else {"c"}), datetime(2024, 1, 1))
        plan = plan_record(other, history, now, scope={"c"})
        kinds = [d["event_type"] for d in plan.new_events if d["community_id"] == "c"]
        assert kinds == [REMOVED if member else ADDED], events
