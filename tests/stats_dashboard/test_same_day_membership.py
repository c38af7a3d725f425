"""Same-day membership changes: records and usage statistics count the same members.

The history is fixture data with the awkward cases (in and out the same day, out and
back in the same day, in and out at one instant, a restore); every record is viewed
once a day. A brute force that knows only the data model's rule ("a member on the days
[added day, removed day)", i.e. a member at the end of the day, events at one instant
holding both kinds changing nothing) gives the expected members per day; the records
snapshot (added basis) and the usage delta must both equal it.
"""

from datetime import UTC, date, datetime, timedelta

import pytest
from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from invenio_stats_dashboard.aggregations.documents import read_documents
from invenio_stats_dashboard.aggregations.registry import get_aggregator
from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.indices import events_index, prefixed, raw_index
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, migrate
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

FIRST, LAST = date(2024, 1, 1), date(2024, 1, 12)
HISTORY = {
    "in and out the same day": [("2024-01-05T10:00", "added"), ("2024-01-05T15:00", "removed")],
    "out and back the same day": [
        ("2024-01-03T09:00", "added"),
        ("2024-01-06T10:00", "removed"),
        ("2024-01-06T15:00", "added"),
    ],
    "in and out at one instant": [("2024-01-04T12:00", "added"), ("2024-01-04T12:00", "removed")],
    "deleted and restored": [
        ("2024-01-02T08:00", "added"),
        ("2024-01-08T09:00", "removed"),
        ("2024-01-10T09:00", "added"),
    ],
}


@pytest.fixture(scope="module")
def app_config(app_config):
    app_config.update(
        COMMUNITY_STATS_EARLIEST_DATE=FIRST.isoformat(),
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
    )
    return app_config


def brute_force_member(events, day: date) -> bool:
    end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time())
    member = False
    for moment in sorted({datetime.fromisoformat(m) for m, _ in events}):
        if moment >= end_of_day:
            break
        kinds = {kind for m, kind in events if datetime.fromisoformat(m) == moment}
        if len(kinds) == 1:
            member = kinds == {"added"}
    return member


def test_records_and_usage_agree_on_same_day_changes(running_app, db, owner, search_clear):
    current_search_client.indices.delete(
        index=prefixed("stats-*") + "," + prefixed("events-stats-*"),
        ignore=[404],
        expand_wildcards="all",
    )
    community = factories.create_community(owner.identity, "same-day")
    cid = str(community.id)
    records = {
        name: factories.publish_record(owner.identity, created="2024-01-01T00:00:00")
        for name in HISTORY
    }
    now = datetime.now(UTC).isoformat()
    actions = []
    for name, events in HISTORY.items():
        record_id = str(records[name].id)
        rows = [(m, kind, cid) for m, kind in events] + [("2024-01-01T00:00", "added", "global")]
        for n, (moment, kind, community_id) in enumerate(rows):
            actions.append(
                {
                    "_index": events_index(2024),
                    "_id": f"{record_id}-{community_id}-{n}",
                    "_source": {
                        "record_id": record_id,
                        "community_id": community_id,
                        "event_type": kind,
                        "event_date": f"{moment}:00",
                        "record_created_date": "2024-01-01T00:00:00",
                        "timestamp": now,
                        "updated_timestamp": now,
                    },
                }
            )
    views = []
    for n, record in enumerate(records.values()):
        target = RecordTarget.from_record(record)
        day = FIRST
        while day <= LAST:
            moment = datetime.combine(day, datetime.min.time()) + timedelta(hours=12, minutes=n)
            _id, doc = raw_event(target, moment, visitor=n)
            views.append({"_index": raw_index("view", "2024-01"), "_id": _id, "_source": doc})
            day += timedelta(days=1)
    search_engine.helpers.bulk(current_search_client, actions + views, refresh=True)

    migrate(MigrationOptions(event_types=("view",)))
    run_aggregations(community_ids=[cid], end=LAST)

    snapshots = {
        d["snapshot_date"]: d
        for d in read_documents(
            get_aggregator("community-records-snapshot-added"), cid, FIRST, LAST
        )
    }
    usage = {
        d["period_start"][:10]: d
        for d in read_documents(get_aggregator("community-usage-delta"), cid, FIRST, LAST)
    }
    day = date(2024, 1, 2)  # the community's first member day
    while day <= LAST:
        expected = sum(brute_force_member(events, day) for events in HISTORY.values())
        members = sum(snapshots[day.isoformat()]["total_records"].values())
        viewed = usage[day.isoformat()]["totals"]["view"]["total_events"]
        assert (members, viewed) == (expected, expected), day
        day += timedelta(days=1)
    # the awkward records never count, the others do on the right days
    assert not any(brute_force_member(HISTORY["in and out at one instant"], d) for d in [LAST])
    assert brute_force_member(HISTORY["out and back the same day"], date(2024, 1, 6))
