"""What real sites have and small fixtures miss: years of history, restricted files.

Records go through the real services; the history is rebuilt by ``community-events
generate``; the numbers are checked against what the fixture specs say, by hand.
"""

from datetime import date, timedelta

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.documents import documents_by_community, read_documents
from invenio_stats_dashboard.aggregations.registry import aggregators, get_aggregator
from invenio_stats_dashboard.aggregations.tasks import aggregate_community_stats
from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
from invenio_stats_dashboard.core.days import utc_today
from invenio_stats_dashboard.core.indices import records_alias
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.membership.service import generate_community_events
from invenio_stats_dashboard.queries.service import compute, parse_query
from invenio_stats_dashboard.usage_events.lookup import RecordLookup

from .conftest import reset_stats_indices


@pytest.fixture(scope="module")
def app_config(app_config):
    """A history reaching back years; the shipped catch-up limit (365) for scheduled runs."""
    app_config.update(
        COMMUNITY_STATS_EARLIEST_DATE="2000-01-01",
        COMMUNITY_STATS_CATCHUP_INTERVAL=365,
        COMMUNITY_STATS_TRACK_MEMBERSHIP=False,
        COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION=False,
    )
    return app_config


def publish(owner, created: str, communities=(), files=None, **spec):
    metadata = factories.default_metadata(
        f"Record of {created}", publication_date=spec.pop("published", created[:10])
    )
    return factories.publish_record(
        owner.identity,
        factories.RecordSpec(
            metadata=metadata,
            files=files or {},
            communities=communities,
            created=created,
            **spec,
        ),
    )


RECORDS_AGGREGATIONS = [a for a in aggregators() if a.batch == "records"]


def test_one_command_line_run_writes_years_through_today(running_app, db, owner, search_clear):
    reset_stats_indices()
    today = utc_today()
    start = today - timedelta(days=3 * 365 + 40)  # a site with more than three years
    alpha = factories.create_community(owner.identity, "years-alpha")
    beta = factories.create_community(owner.identity, "years-beta")
    publish(owner, f"{start.isoformat()}T10:00:00", [alpha])
    publish(owner, f"{(start + timedelta(days=400)).isoformat()}T10:00:00", [alpha, beta])
    publish(owner, f"{(start + timedelta(days=900)).isoformat()}T10:00:00", [beta])
    generate_community_events()
    series = {str(alpha.id): start, str(beta.id): start + timedelta(days=400), "global": start}

    # the scheduled task writes at most the catch-up limit of new days per series ...
    result = aggregate_community_stats.apply().get()
    assert result["limited"] is True
    delta = get_aggregator("community-records-delta-created")
    written = documents_by_community(delta)
    for community_id, first in series.items():
        assert written[community_id] == (365, first, first + timedelta(days=364))

    # ... a command-line run without options writes every day of every series through today
    runner = running_app.app.test_cli_runner()
    result = runner.invoke(cli, ["aggregate", "--eager"])
    assert result.exit_code == 0, result.output
    assert "catch-up limit" not in result.output
    for aggregator in RECORDS_AGGREGATIONS:
        documents = documents_by_community(aggregator)
        for community_id, first in series.items():
            days = (today - first).days + 1
            assert documents[community_id] == (days, first, today), aggregator.name
    bookmarks = AggregationBookmarks()
    for aggregator in RECORDS_AGGREGATIONS:
        for community_id in series:
            assert bookmarks.get(aggregator.name, community_id) == today - timedelta(days=1)
    snapshot = get_aggregator("community-records-snapshot-created")
    (last,) = read_documents(snapshot, "global", today, today)
    assert last["total_records"] == {"metadata_only": 3, "with_files": 0}

    # years of snapshots: the API's category reads subcounts on month ends only
    params = {"community_id": str(alpha.id), "start_date": start.isoformat()}
    result, _ = compute(parse_query("record-snapshot-category", params))
    assert len(result["global"]["records"][0]["data"]) == (today - start).days + 1
    (line,) = result["resourceTypes"]["records"]
    assert line["data"][-1][0] == today.isoformat()
    assert len(line["data"]) <= 12 * 4 + 2
    for day, value in line["data"]:
        day = date.fromisoformat(day)
        assert day in (start, today) or (day + timedelta(days=1)).month != day.month, day
        assert value == (day >= start) + (day >= start + timedelta(days=400)), day


def test_restricted_and_embargoed_files_are_counted(running_app, db, owner, search_clear):
    """Files hidden from the search index (restricted, embargoed) are the site's files."""
    reset_stats_indices()
    community = factories.create_community(owner.identity, "files-kinds")
    specs = {
        "open": ("2024-01-03T09:00:00", {"a.pdf": 100, "b.csv": 20}, {}),
        "restricted files": ("2024-01-05T09:00:00", {"c.pdf": 300}, {"files_access": "restricted"}),
        "embargoed": (
            "2024-01-07T09:00:00",
            {"d.zip": 50, "e.pdf": 70},
            {"embargo_until": (utc_today() + timedelta(days=400)).isoformat()},
        ),
        "restricted record": ("2024-01-09T09:00:00", {"f.txt": 5}, {"access": "restricted"}),
        "metadata only": ("2024-01-11T09:00:00", {}, {}),
    }
    records = {
        name: publish(owner, created, [community], files, **extra)
        for name, (created, files, extra) in specs.items()
    }
    # the index does hide them: that is why the counts must come from the database
    (hidden,) = current_search_client.search(
        index=records_alias(),
        body={"query": {"ids": {"values": [str(records["restricted files"].id)]}}},
    )["hits"]["hits"]
    hidden = hidden["_source"]
    assert not hidden["files"].get("entries")
    generate_community_events()
    end = date(2024, 1, 31)
    runner = running_app.app.test_cli_runner()
    result = runner.invoke(cli, ["aggregate", "--eager", "--end-date", end.isoformat()])
    assert result.exit_code == 0, result.output

    cid = str(community.id)
    delta = {
        d["period_start"][:10]: d
        for d in read_documents(
            get_aggregator("community-records-delta-created"), cid, date(2024, 1, 1), end
        )
    }
    for name, (created, files, _) in specs.items():
        added = delta[created[:10]]["files"]["added"]
        assert added == {"file_count": len(files), "data_volume": sum(files.values())}, name
        split = "with_files" if files else "metadata_only"
        assert delta[created[:10]]["records"]["added"][split] == 1, name
    (snapshot,) = read_documents(
        get_aggregator("community-records-snapshot-created"), cid, end, end
    )
    all_files = {k: v for _, files, _ in specs.values() for k, v in files.items()}
    assert snapshot["total_files"] == {
        "file_count": len(all_files),
        "data_volume": sum(all_files.values()),
    }
    assert snapshot["total_records"] == {"metadata_only": 1, "with_files": 4}
    by_type = {item["id"]: item["files"] for item in snapshot["subcounts"]["file_types"]}
    assert by_type == {
        "pdf": {"file_count": 3, "data_volume": 470},
        "csv": {"file_count": 1, "data_volume": 20},
        "zip": {"file_count": 1, "data_volume": 50},
        "txt": {"file_count": 1, "data_volume": 5},
    }
    # usage enrichment sees the same files (a view of the embargoed record is of pdf and zip)
    facts = RecordLookup().facts([records["embargoed"]["id"], records["restricted files"]["id"]])
    assert facts[records["embargoed"]["id"]]["record_file_types"] == ["pdf", "zip"]
    assert facts[records["restricted files"]["id"]]["record_file_types"] == ["pdf"]
