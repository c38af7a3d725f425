"""A production-like site: it shares its search cluster under ``SEARCH_INDEX_PREFIX``.

A neighbour instance without a prefix has indices of the same names on the cluster:
its records, its membership history and its raw usage events, all naming our
community. The whole job runs through the CLI; every index it creates carries our
prefix, the neighbour's indices are neither read nor touched, and the numbers are ours.
"""

import json
from datetime import date, datetime

import pytest
from invenio_search import current_search_client
from invenio_search.engine import search as search_engine

from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event

END = date(2024, 1, 31)
NEIGHBOUR = {
    "rdmrecords-records-neighbour": "rdmrecords-records",
    "stats-community-events-2024": "stats-community-events",
    "events-stats-record-view-2024-01": "events-stats-record-view",
}


@pytest.fixture(scope="module")
def app_config(app_config):
    app_config.update(
        COMMUNITY_STATS_EARLIEST_DATE="2023-12-01",
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
    )
    return app_config


def _neighbour(community_id: str, record) -> None:
    """The unprefixed indices of another instance on the same cluster."""
    docs = {
        "rdmrecords-records-neighbour": {
            "id": "neigh-00001",
            "uuid": "00000000-0000-0000-0000-000000000001",
            "created": "2024-01-04T00:00:00",
            "is_published": True,
            "parent": {"communities": {"ids": [community_id]}},
        },
        "stats-community-events-2024": {
            "record_id": "00000000-0000-0000-0000-000000000001",
            "community_id": community_id,
            "event_type": "added",
            "event_date": "2024-01-04T00:00:00",
        },
        "events-stats-record-view-2024-01": {
            "timestamp": "2024-01-20T10:00:00",
            "recid": record["id"],
            "visitor_id": "neighbour",
        },
    }
    for index, alias in NEIGHBOUR.items():
        current_search_client.indices.create(index=index, body={"aliases": {alias: {}}})
        current_search_client.index(index=index, id="n1", body=docs[index], refresh=True)


def _counts() -> dict[str, int]:
    return {name: current_search_client.count(index=name)["count"] for name in NEIGHBOUR}


def test_whole_job_on_a_prefixed_site(running_app, db, owner, search_clear):
    app = running_app.app
    prefix = app.config["SEARCH_INDEX_PREFIX"]
    assert prefix
    current_search_client.indices.delete(
        index=f"{prefix}stats-*,{prefix}events-stats-*", ignore=[404], expand_wildcards="all"
    )
    community = factories.create_community(owner.identity, "shared-alpha")
    cid = str(community.id)
    records = [
        factories.publish_record(
            owner.identity,
            files={"a.pdf": 10} if n == 0 else {},
            communities=[community],
            created=f"2024-01-0{n + 2}T09:00:00",
        )
        for n in range(2)
    ]
    _neighbour(cid, records[0])
    neighbour_before = _counts()
    before = set(current_search_client.indices.get(index="*", expand_wildcards="all"))
    # our own raw views (as invenio-stats indexes them on this site: prefixed)
    target = RecordTarget.from_record(records[0])
    views = [raw_event(target, datetime(2024, 1, 10 + n, 8), visitor=n) for n in range(3)]
    search_engine.helpers.bulk(
        current_search_client,
        [
            {"_index": f"{prefix}events-stats-record-view-2024-01", "_id": _id, "_source": doc}
            for _id, doc in views
        ],
        refresh=True,
    )

    runner = app.test_cli_runner()

    def run(*args):
        result = runner.invoke(cli, list(args))
        assert result.exit_code == 0, result.output
        return result.output

    run("setup")
    run("community-events", "generate", "--no-show-progress")
    run("usage-events", "migrate")
    run("aggregate", "--eager", "--end-date", END.isoformat())
    status = run("status", "--community-id", "shared-alpha")
    assert "No index" not in status and "No data" not in status
    read = json.loads(
        run(
            "read",
            "--community-id",
            "shared-alpha",
            "--start-date",
            END.isoformat(),
            "--end-date",
            END.isoformat(),
            "--format",
            "json",
        )
    )["results"]
    # our numbers only: two records (the neighbour's third is not ours), three views
    (snapshot,) = read["community-record-snapshot-added"]
    assert snapshot["total_records"] == {"metadata_only": 1, "with_files": 1}
    assert snapshot["total_files"] == {"file_count": 1, "data_volume": 10}
    (usage,) = read["community-usage-snapshot"]
    assert usage["totals"]["view"]["total_events"] == 3

    created = set(current_search_client.indices.get(index="*", expand_wildcards="all")) - before
    assert created, "the job wrote no index"
    assert all(name.startswith(prefix) for name in created), sorted(created)
    assert f"{prefix}stats-community-events-2024" in created
    assert f"{prefix}events-stats-record-view-2024-01-v2.0.0" in created

    destroyed = run("destroy-indices", "--yes-i-know")
    for name in NEIGHBOUR:
        assert f"  {name}\n" not in destroyed
    left = set(current_search_client.indices.get(index=f"{prefix}stats-*", expand_wildcards="all"))
    assert not left
    assert _counts() == neighbour_before  # the neighbour is untouched
    for index in NEIGHBOUR:
        current_search_client.indices.delete(index=index)
