"""Unit tests of the pure planning rules (no app, no engine)."""

from datetime import date, datetime

import pytest

from invenio_stats_dashboard.core.days import edtf_first_day
from invenio_stats_dashboard.membership.plan import (
    Evidence,
    HistoryEvent,
    RecordState,
    event_id,
    plan_created_change,
    plan_record,
)

NOW = datetime(2024, 5, 10, 12, 0, 0)
CREATED = datetime(2024, 1, 2, 3, 4, 5)


@pytest.mark.parametrize(
    ("edtf", "day"),
    [
        ("2016", date(2016, 1, 1)),
        ("2016-05", date(2016, 5, 1)),
        ("2016-05-03", date(2016, 5, 3)),
        ("2016-05/2017-02", date(2016, 5, 1)),
        ("2016-02-30", date(2016, 2, 1)),
        ("", None),
        (None, None),
        ("unknown", None),
        ("0000", None),  # EDTF year zero: no usable day, not a crash
        ("0000-05/2016", None),
    ],
)
def test_first_day(edtf, day):
    assert edtf_first_day(edtf) == day


def _stored(plan, index="idx"):
    """Turn a plan's new events into stored history events."""
    return [
        HistoryEvent(
            doc_id=d["_id"],
            index=index,
            community_id=d["community_id"],
            event_type=d["event_type"],
            event_date=datetime.fromisoformat(d["event_date"]),
            record_created_date=datetime.fromisoformat(d["record_created_date"]),
            record_published_date=datetime.fromisoformat(d["record_published_date"])
            if d["record_published_date"]
            else None,
            is_deleted=d["is_deleted"],
            deleted_date=datetime.fromisoformat(d["deleted_date"]) if d["deleted_date"] else None,
            timestamp=datetime.fromisoformat(d["timestamp"]),
        )
        for d in plan.new_events
    ]


def _events(plan):
    return sorted((d["community_id"], d["event_type"], d["event_date"]) for d in plan.new_events)


def test_rebuild_dates_joins_by_request_else_created_never_by_publication():
    state = RecordState("r", frozenset({"a", "b", "c"}), CREATED, published_date=date(2020, 6, 1))
    evidence = Evidence(request_times={"a": datetime(2024, 3, 3), "b": datetime(2023, 1, 1)})
    plan = plan_record(state, [], NOW, evidence=evidence)
    assert _events(plan) == [
        ("a", "added", "2024-03-03T00:00:00"),
        ("b", "added", CREATED.isoformat()),  # a request older than the record: its creation
        ("c", "added", CREATED.isoformat()),  # no request: created, not the 2020 publication
        ("global", "added", CREATED.isoformat()),
    ]
    no_date = RecordState("r", frozenset({"c"}), CREATED)
    assert ("c", "added", CREATED.isoformat()) in _events(plan_record(no_date, [], NOW))
    forthcoming = RecordState("r", frozenset({"c"}), CREATED, published_date=date(2030, 1, 1))
    assert ("c", "added", CREATED.isoformat()) in _events(plan_record(forthcoming, [], NOW))


def test_plan_is_idempotent_and_ids_deterministic():
    state = RecordState("r", frozenset({"a"}), CREATED, published_date=date(2020, 6, 1))
    first = plan_record(state, [], NOW)
    assert [d["_id"] for d in first.new_events] == [
        "r-a-added-2024-01-02T03:04:05.000000",
        "r-global-added-2024-01-02T03:04:05.000000",
    ]
    assert event_id("r", "a", "added", CREATED) == first.new_events[0]["_id"]
    assert not plan_record(state, _stored(first), NOW)


def test_live_changes_are_dated_now_and_old_untracked_records_use_evidence():
    fresh = RecordState("r", frozenset({"a"}), datetime(2024, 5, 10, 11, 0))
    assert _events(plan_record(fresh, [], NOW, live=True)) == [
        ("a", "added", NOW.isoformat()),
        ("global", "added", "2024-05-10T11:00:00"),
    ]
    old = RecordState("r", frozenset({"a"}), CREATED, published_date=date(2020, 6, 1))
    assert ("a", "added", CREATED.isoformat()) in _events(plan_record(old, [], NOW, live=True))


def test_deletion_restore_and_removal():
    state = RecordState("r", frozenset({"a"}), CREATED, published_date=date(2020, 6, 1))
    history = _stored(plan_record(state, [], NOW))
    gone = datetime(2024, 4, 1, 9, 0)
    deleted = RecordState("r", frozenset({"a"}), CREATED, date(2020, 6, 1), True, gone)
    plan = plan_record(deleted, history, NOW)
    assert _events(plan) == [
        ("a", "removed", gone.isoformat()),
        ("global", "removed", gone.isoformat()),
    ]
    assert {u[2]["is_deleted"] for u in plan.updates} == {True}
    assert len(plan.updates) == 2
    history += _stored(plan)
    restored = RecordState("r", frozenset({"a"}), CREATED, date(2020, 6, 1), updated=NOW)
    plan = plan_record(restored, history, NOW)
    assert _events(plan) == [("a", "added", NOW.isoformat()), ("global", "added", NOW.isoformat())]
    left = RecordState("r", frozenset(), CREATED, date(2020, 6, 1))
    plan = plan_record(
        left,
        _stored(plan_record(state, [], NOW)),
        NOW,
        evidence=Evidence(parent_updated=datetime(2024, 4, 4)),
    )
    assert _events(plan) == [("a", "removed", "2024-04-04T00:00:00")]


def test_never_tracked_deleted_record_keeps_its_interval():
    gone = datetime(2024, 2, 1)
    state = RecordState("r", frozenset({"a"}), CREATED, None, True, gone)
    plan = plan_record(state, [], NOW)
    assert _events(plan) == [
        ("a", "added", CREATED.isoformat()),
        ("a", "removed", gone.isoformat()),
        ("global", "added", CREATED.isoformat()),
        ("global", "removed", gone.isoformat()),
    ]
    assert not plan_record(state, _stored(plan), NOW)


def test_scope_limits_communities():
    state = RecordState("r", frozenset({"a", "b"}), CREATED)
    assert _events(plan_record(state, [], NOW, scope={"b"})) == [
        ("b", "added", CREATED.isoformat())
    ]


def test_created_change_moves_the_entries_dated_by_created():
    """A repaired ``created`` re-dates what a rebuild dates by it; request dates stay."""
    state = RecordState("r", frozenset({"a", "b"}), CREATED, published_date=date(2020, 6, 1))
    requested = datetime(2024, 3, 3)
    history = _stored(
        plan_record(state, [], NOW, evidence=Evidence(request_times={"b": requested}))
    )
    new = datetime(2010, 1, 1)
    plan = plan_created_change("r", history, new, NOW)
    assert _events(plan) == [
        ("a", "added", "2010-01-01T00:00:00"),
        ("global", "added", "2010-01-01T00:00:00"),
    ]
    assert sorted(plan.deletes) == [
        ("idx", "r-a-added-2024-01-02T03:04:05.000000"),
        ("idx", "r-global-added-2024-01-02T03:04:05.000000"),
    ]
    assert [(u[1], u[2]["record_created_date"]) for u in plan.updates] == [
        ("r-b-added-2024-03-03T00:00:00.000000", "2010-01-01T00:00:00")
    ]
    # the reconciliation of a record whose created was repaired plans the same writes
    repaired = RecordState("r", frozenset({"a", "b"}), new, published_date=date(2020, 6, 1))
    again = plan_record(repaired, history, NOW)
    assert _events(again) == _events(plan)
    assert sorted(again.deletes) == sorted(plan.deletes)
    # an entry moves only while it stays before the community's next event
    left = _stored(plan_record(RecordState("r", frozenset({"a"}), CREATED), [], NOW))
    left += _stored(plan_record(RecordState("r", frozenset(), CREATED), left, NOW))
    later = plan_created_change("r", left, datetime(2024, 9, 1), NOW)
    assert ("a", "added", "2024-09-01T00:00:00") not in _events(later)
