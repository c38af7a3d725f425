"""End to end: records through the services, history by ``generate_community_events``,
reconciliation on, then every document of the six aggregations against brute force."""

from datetime import date, timedelta

import pytest
from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_search import current_search_client
from opensearchpy.helpers import scan

from invenio_stats_dashboard.aggregations.service import run_aggregations
from invenio_stats_dashboard.core.indices import events_alias
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.membership.service import generate_community_events

from .conftest import Site, SiteRecord, _metadata, reset_stats_indices
from .expected import Truth, assert_matches

END = date(2024, 3, 10)
RECORDS = [
    SiteRecord("e1", 0, date(2024, 2, 1), "2024-01-15", {"x.pdf": 40}),
    SiteRecord("e2", 0, date(2024, 2, 3), "2023-11", resource_type="dataset"),
    SiteRecord("e3", 0, date(2024, 2, 5), "2024-02-05", {"y.csv": 7, "z.csv": 8}),
]


def publish(owner, spec: SiteRecord, communities, custom_fields=None):
    """Publish a fixture record through the services into ``communities``."""
    return factories.publish_record(
        owner.identity,
        factories.RecordSpec(
            metadata=_metadata(spec),
            files=spec.files,
            communities=communities,
            created=spec.created.isoformat(),
            custom_fields=custom_fields or {},
        ),
    )


@pytest.fixture(scope="module")
def app_config(app_config):
    """A site alone on its cluster (no index prefix); the history reconciled before
    aggregating, as a live site does."""
    app_config["SEARCH_INDEX_PREFIX"] = ""
    app_config["COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION"] = True
    return app_config


def test_generated_history_end_to_end(running_app, db, owner, search_clear):
    reset_stats_indices()
    alpha = factories.create_community(owner.identity, "e2e-alpha")
    beta = factories.create_community(owner.identity, "e2e-beta")
    placement = {"e1": [alpha, beta], "e2": [alpha], "e3": [beta]}
    records = {}
    for spec in RECORDS:
        records[spec.key] = publish(owner, spec, placement[spec.key])
    current_rdm_records_service.delete_record(
        system_identity, records["e2"]["id"], {"removal_reason": {"id": "spam"}}
    )
    generate_community_events()

    site = Site(
        communities={"alpha": str(alpha.id), "beta": str(beta.id)},
        slugs={},
        records=records,
        owners=[str(owner.id)],
    )
    names = {str(alpha.id): "alpha", str(beta.id): "beta", "global": "global"}
    history = read_history(records, names, END)  # the deletion happened today, after END
    assert {(k, c) for k, c, e, _ in history if e == "added"} == {
        ("e1", "alpha"),
        ("e1", "beta"),
        ("e2", "alpha"),
        ("e3", "beta"),
        ("e1", "global"),
        ("e2", "global"),
        ("e3", "global"),
    }

    run_aggregations(end=END)
    # without a prefix, the indices are named as the data model writes them
    assert current_search_client.indices.exists(index="stats-community-records-delta-added-2024")
    assert current_search_client.indices.exists(index="stats-community-events-2024")
    truth = Truth(site, history=history, records=RECORDS, earliest=date(2023, 6, 1))
    assert_matches(site, truth, end=END, communities=("alpha", "beta", "global"))


def read_history(site_records: dict, names: dict, end: date) -> list[tuple]:
    """The stored membership history as (record key, community name, event, day)."""
    keys = {str(r.id): key for key, r in site_records.items()}
    current_search_client.indices.refresh(index=events_alias())
    history = []
    for hit in scan(current_search_client, index=events_alias()):
        event = hit["_source"]
        day = date.fromisoformat(event["event_date"][:10])
        if day <= end:
            history.append(
                (keys[event["record_id"]], names[event["community_id"]], event["event_type"], day)
            )
    return history


def test_importer_repair_end_to_end(running_app, db, owner, search_clear):
    """``update_created_dates`` moves created days; the next plain ``aggregate`` follows."""
    from dataclasses import replace

    from invenio_record_importer_kcworks.services.records import RecordsHelper
    from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks

    reset_stats_indices()
    alpha = factories.create_community(owner.identity, "e2e-repair")
    legacy = {"e1": date(2024, 1, 20), "e3": date(2024, 2, 20)}  # one earlier, one later
    records = {}
    for spec in RECORDS:
        custom = {}
        if spec.key in legacy:
            custom["hclegacy:record_creation_date"] = f"{legacy[spec.key].isoformat()}T08:00:00"
        records[spec.key] = publish(owner, spec, [alpha], custom)
    generate_community_events()
    run_aggregations(end=END)
    # without a prefix, the indices are named as the data model writes them
    assert current_search_client.indices.exists(index="stats-community-records-delta-added-2024")
    assert current_search_client.indices.exists(index="stats-community-events-2024")
    assert AggregationBookmarks().get("community-records-delta-created", str(alpha.id)) == END

    stats = RecordsHelper().update_record_created_dates()
    assert stats["updated"] == 2
    rewound = min(legacy["e1"], date(2024, 2, 1)) - timedelta(days=1)
    store = AggregationBookmarks()
    for name in ("community-records-delta-created", "community-records-snapshot-created"):
        assert store.get(name, str(alpha.id)) == rewound
        assert store.get(name, "global") == rewound

    run_aggregations(end=END)
    # without a prefix, the indices are named as the data model writes them
    assert current_search_client.indices.exists(index="stats-community-records-delta-added-2024")
    assert current_search_client.indices.exists(index="stats-community-events-2024")
    site = Site(
        communities={"alpha": str(alpha.id)}, slugs={}, records=records, owners=[str(owner.id)]
    )
    repaired = [replace(r, created=legacy.get(r.key, r.created)) for r in RECORDS]
    history = read_history(records, {str(alpha.id): "alpha", "global": "global"}, END)
    truth = Truth(site, history=history, records=repaired, earliest=date(2023, 6, 1))
    assert truth.series_start("alpha", "created", END) == date(2024, 1, 20)
    assert_matches(site, truth, end=END, communities=("alpha", "global"))


def test_incremental_runs_follow_today_and_the_past(running_app, db, owner, search_clear):
    """Plain ``aggregate`` runs (no dates) on a live site, as the hourly beat runs them.

    The first run writes today's documents; later records change today's documents and,
    under the created and published bases, days before the bookmark. The next plain run
    must rewrite both, so every document matches the brute force again.
    """
    from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
    from invenio_stats_dashboard.core.days import utc_today

    reset_stats_indices()
    today = utc_today()
    ago = [today - timedelta(days=n) for n in range(31)]
    alpha = factories.create_community(owner.identity, "e2e-live")
    specs = [
        SiteRecord("l1", 0, ago[10], ago[10].isoformat(), {"x.pdf": 40}),
        # published after the first run, but created five days ago and published a month ago
        SiteRecord("l2", 0, ago[5], ago[30].isoformat(), resource_type="dataset"),
        # published after the first run, today under every basis
        SiteRecord("l3", 0, today, today.isoformat(), {"y.csv": 7}),
    ]

    records = {"l1": publish(owner, specs[0], [alpha])}
    run_aggregations()
    store = AggregationBookmarks()
    for kind in ("delta", "snapshot"):
        # today is not over: the bookmark stops at yesterday, so the next run redoes today
        assert store.get(f"community-records-{kind}-added", str(alpha.id)) == ago[1]

    records["l2"] = publish(owner, specs[1], [alpha])
    records["l3"] = publish(owner, specs[2], [alpha])
    run_aggregations()

    site = Site(
        communities={"alpha": str(alpha.id)}, slugs={}, records=records, owners=[str(owner.id)]
    )
    names = {str(alpha.id): "alpha", "global": "global"}
    history = read_history(records, names, today)
    truth = Truth(site, history=history, records=specs, earliest=date(2023, 6, 1))
    assert truth.series_start("alpha", "published", today) == ago[30]
    assert_matches(site, truth, end=today, communities=("alpha", "global"))
