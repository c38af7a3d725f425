"""Backfill (``generate``), status and the created-date update, on real records."""

from datetime import datetime

import pytest

from invenio_stats_dashboard.core.days import InvalidDate
from invenio_stats_dashboard.core.days import to_datetime as parse_datetime
from invenio_stats_dashboard.core.ids import CommunityNotFound
from invenio_stats_dashboard.demo.factories import set_created
from invenio_stats_dashboard.membership.service import (
    community_events_status,
    generate_community_events,
    update_record_created_dates,
)

from .conftest import event_docs, history_of


def _dt(value) -> str:
    return parse_datetime(value).isoformat()


def expected_history(site) -> dict[str, list[tuple[str, str, str]]]:
    """The history the evidence rules give, written out by hand."""
    removal = _dt(site["r3"].tombstone.removal_date)
    r3_events = [("global", "added", "2020-02-02T12:00:00"), ("global", "removed", removal)]
    for name in ("alpha", "beta", "gamma"):
        r3_events += [
            (site[name], "added", "2020-02-02T12:00:00"),
            (site[name], "removed", removal),
        ]
    return {
        "r1": sorted(
            [
                ("global", "added", "2019-03-04T10:00:00"),
                # no request: its creation, not its (earlier) publication date
                (site["alpha"], "added", "2019-03-04T10:00:00"),
            ]
        ),
        "r2": sorted(
            [
                ("global", "added", "2021-01-02T00:00:00"),
                (site["beta"], "added", site["accepted"].isoformat()),
            ]
        ),
        "r3": sorted(r3_events),
        "r4": [("global", "added", "2022-07-07T00:00:00")],
    }


def stored(site) -> dict:
    return {
        key: [(c, t, _dt(d)) for c, t, d in history_of(site[key].id)]
        for key in ("r1", "r2", "r3", "r4")
    }


def test_status_counts_before_and_after(site):
    """Status: records lacking events per community, then nothing once generated."""
    status = community_events_status()
    assert status["records_checked"] == 4
    assert status["records_missing_events"] == 4
    assert status["events_missing"] == 13
    assert status["events_created"] == 0
    assert status["communities"] == {
        "global": {"records": 3, "records_missing_events": 4, "events_missing": 5},
        site["alpha"]: {"records": 1, "records_missing_events": 2, "events_missing": 3},
        site["beta"]: {"records": 1, "records_missing_events": 2, "events_missing": 3},
        site["gamma"]: {"records": 0, "records_missing_events": 1, "events_missing": 2},
    }
    assert stored(site) == {"r1": [], "r2": [], "r3": [], "r4": []}

    generate_community_events()
    status = community_events_status()
    assert status["records_missing_events"] == 0
    assert status["events_missing"] == 0
    assert status["communities"][site["alpha"]]["records_missing_events"] == 0


def test_generate_writes_evidence_dates_and_is_idempotent(site):
    """Request time, else created (never publication); deletion; re-run writes nothing."""
    summary = generate_community_events()
    assert summary["records_checked"] == 4
    assert summary["events_created"] == 13
    assert stored(site) == expected_history(site)
    r3_docs = event_docs(site["r3"].id)
    removal = _dt(site["r3"].tombstone.removal_date)
    assert {d["is_deleted"] for d in r3_docs} == {True}
    assert {_dt(d["deleted_date"]) for d in r3_docs} == {removal}
    assert {d["is_deleted"] for d in event_docs(site["r1"].id)} == {False}
    ids_before = sorted(
        d["_id"] for key in ("r1", "r2", "r3", "r4") for d in event_docs(site[key].id)
    )

    again = generate_community_events()
    assert again["events_created"] == 0
    assert again["events_updated"] == 0
    ids_after = sorted(
        d["_id"] for key in ("r1", "r2", "r3", "r4") for d in event_docs(site[key].id)
    )
    assert ids_after == ids_before


def test_generate_filters(site):
    """Community (by slug: only its events), record (PID) and creation-date filters."""
    summary = generate_community_events(community_ids=["beta"])
    assert summary["records_checked"] == 2
    assert summary["events_created"] == 3
    expected = expected_history(site)
    assert stored(site) == {
        "r1": [],
        "r2": [e for e in expected["r2"] if e[0] == site["beta"]],
        "r3": [e for e in expected["r3"] if e[0] == site["beta"]],
        "r4": [],
    }
    summary = generate_community_events(record_ids=[site["r1"]["id"]])
    assert summary["records_checked"] == 1
    assert stored(site)["r1"] == expected["r1"]
    summary = generate_community_events(start_date="2022-01-01", end_date="2022-07-07")
    assert summary["records_checked"] == 1
    assert stored(site)["r4"] == expected["r4"]
    summary = generate_community_events(start_date="2019-03-04", end_date="2019-03-04")
    assert summary["records_checked"] == 1
    assert summary["events_created"] == 0
    # a full run after partial ones ends with the same history as a full run alone
    generate_community_events()
    assert stored(site) == expected


def test_bad_filters_raise_clear_errors(site):
    """Unknown community, malformed and reversed dates."""
    with pytest.raises(CommunityNotFound, match="Community not found: nope"):
        generate_community_events(community_ids=["nope"])
    with pytest.raises(InvalidDate, match="YYYY-MM-DD"):
        generate_community_events(start_date="2020-13-01")
    with pytest.raises(InvalidDate, match="after the end date"):
        generate_community_events(start_date="2021-01-02", end_date="2021-01-01")


def test_update_record_created_dates_moves_entries_on_created(site):
    """The importer's repair: record_created_date everywhere, entries on created re-dated."""
    generate_community_events()
    result = update_record_created_dates(
        [{"record_id": site["r1"]["id"], "new_created": "2010-01-01T00:00:00+00:00"}]
    )
    assert result == {"records": 1, "events_updated": 2}
    # both entries were dated by created (no request): both follow the repair
    assert [(c, t, _dt(d)) for c, t, d in history_of(site["r1"].id)] == sorted(
        [
            ("global", "added", "2010-01-01T00:00:00"),
            (site["alpha"], "added", "2010-01-01T00:00:00"),
        ]
    )
    docs = event_docs(site["r1"].id)
    assert len(docs) == 2
    assert {_dt(d["record_created_date"]) for d in docs} == {"2010-01-01T00:00:00"}
    # the record itself now says so too: reconciliation finds nothing to change
    set_created(site["r1"], datetime(2010, 1, 1))
    assert generate_community_events()["events_created"] == 0
    assert generate_community_events()["events_updated"] == 0
