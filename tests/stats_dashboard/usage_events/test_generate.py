"""``usage-events generate``: synthetic events for existing records."""

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.usage_events import indices

from .conftest import clear_history


def _docs(pattern):
    current_search_client.indices.refresh(index=pattern)
    res = current_search_client.search(
        index=pattern, body={"size": 1000, "query": {"match_all": {}}}, ignore_unavailable=True
    )
    return {h["_id"]: (h["_index"], h["_source"]) for h in res["hits"]["hits"]}


def test_generate(running_app, community_factory, record_factory, search_clear, cli_runner):
    community = community_factory("gen")
    with_files = record_factory(
        communities=[community], files={"a.pdf": 10, "b.csv": 5}, created="2024-03-10T08:00:00"
    )
    plain = record_factory(created="2024-03-01T08:00:00")
    record_factory(created="2023-01-01T08:00:00")  # outside the record window
    clear_history()
    args = [
        "usage-events",
        "generate",
        "--start-date",
        "2024-03-01",
        "--end-date",
        "2024-03-31",
        "--event-end-date",
        "2024-04-30",
        "--events-per-record",
        "30",
    ]
    # dry run: nothing written
    result = cli_runner(*args, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "Would write 60 events for 2 records" in result.output
    assert not _docs(prefix_index("events-stats-*"))
    # a "no" at the prompt writes nothing either
    from invenio_stats_dashboard.cli import cli

    aborted = running_app.app.test_cli_runner().invoke(cli, args, input="n\n")
    assert aborted.exit_code == 1 and not _docs(prefix_index("events-stats-*"))

    result = cli_runner(*args, "--yes-i-know")
    assert result.exit_code == 0, result.output
    docs = _docs(prefix_index("events-stats-*"))
    assert len(docs) == 60
    by_record = {}
    for index, doc in docs.values():
        assert "-v2.0.0" not in index  # raw shape, raw indices
        assert "community_ids" not in doc
        by_record.setdefault(doc["recid"], []).append(doc)
        assert "2024-03-01" <= doc["timestamp"][:10] <= "2024-04-30"
    assert set(by_record) == {with_files["id"], plain["id"]}
    assert min(d["timestamp"] for d in by_record[with_files["id"]]) >= "2024-03-10"
    assert all("file_key" not in d for d in by_record[plain["id"]])
    downloads = [d for d in by_record[with_files["id"]] if "file_key" in d]
    assert downloads and {d["file_key"] for d in downloads} <= {"a.pdf", "b.csv"}
    assert len({d["visitor_id"] for d in by_record[with_files["id"]]}) > 10
    assert len({d["country"] for _, d in docs.values()}) > 3
    assert len({d["referrer"] for _, d in docs.values()}) > 3

    # invenio-stats' own per-record statistics read the generated events
    from invenio_stats.proxies import current_stats
    from invenio_stats.tasks import aggregate_events

    aggregate_events(["record-view-agg", "file-download-agg"], start_date="2024-03-01")
    current_search_client.indices.refresh(index=prefix_index("stats-*"))
    views = [d for d in by_record[plain["id"]] if "file_key" not in d]
    assert current_stats.get_query("record-view").run(recid=plain["id"])["views"] == len(views)

    # enriched copies in the -v2.0.0 indices, same ids
    result = cli_runner(*args, "--yes-i-know", "--enrich-events", "--max-records", "1")
    assert result.exit_code == 0, result.output
    enriched = _docs(prefix_index("events-stats-*-v2.0.0"))
    assert len(enriched) == 30
    raw_now = _docs(prefix_index("events-stats-*"))
    for _id, (_index, doc) in enriched.items():
        assert _id in raw_now
        assert doc["recid"] == plain["id"] and doc["community_ids"] == []
        assert doc["resource_type"]["id"] == "publication-article"
    # raw indices still hold the read alias: the enriched copies are not read twice
    assert all("-v2.0.0" not in name for name in indices.alias_holders("view"))


def test_generate_errors(running_app, search_clear, cli_runner):
    for args in (
        ["--start-date", "2024-02-30"],
        ["--start-date", "2024-03-02", "--end-date", "2024-03-01"],
        ["--event-start-date", "2024-05-01", "--event-end-date", "2024-04-01"],
        ["--events-per-record", "0"],
    ):
        result = cli_runner("usage-events", "generate", *args)
        assert result.exit_code == 2, args
    result = cli_runner("usage-events", "generate", "--yes-i-know")
    assert result.exit_code == 0 and "No records match" in result.output


def test_use_migrated_indices_during_a_migration(
    running_app, community_factory, record_factory, search_clear, cli_runner
):
    """A month whose copy is in progress: new events go to both indices, readers see them
    and the month still validates and switches."""
    from invenio_stats_dashboard.usage_events.migration import MigrationOptions, Migrator

    from .conftest import write_history

    record = record_factory(communities=[community_factory("mig")], created="2024-03-01T08:00:00")
    clear_history()
    write_history([(record, "global", "added", "2024-03-01")])
    window = ["--start-date", "2024-03-01", "--end-date", "2024-03-31", "--yes-i-know"]
    assert (
        cli_runner("usage-events", "generate", *window, "--events-per-record", "8").exit_code == 0
    )
    raw = indices.raw_index("view", "2024-03")
    first = len(_docs(raw))
    # copy everything, stop before validating (the month is not switched)
    options = MigrationOptions(event_types=("view",), batch_size=first, max_batches=1)
    assert Migrator(options).run()[0].state == "stopped"

    result = cli_runner(
        "usage-events", "generate", *window, "--events-per-record", "5", "--use-migrated-indices"
    )
    assert result.exit_code == 0, result.output
    raw_docs = _docs(raw)
    enriched_docs = _docs(indices.enriched_index("view", "2024-03"))
    assert len(raw_docs) == first + 5  # readers (the raw index) see the new events
    assert set(enriched_docs) == set(raw_docs)
    done = Migrator(MigrationOptions(event_types=("view",), months=("2024-03",))).run()
    assert done[0].state == "migrated", done[0].message


def test_seed_setting_repeats_the_same_events(
    running_app, record_factory, search_clear, cli_runner, monkeypatch
):
    """``STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED`` (the demo's ``DEMO_SEED``): same events twice."""
    record_factory(files={"a.pdf": 10}, created="2024-03-10T08:00:00")
    record_factory(created="2024-03-01T08:00:00")
    args = ["usage-events", "generate", "--event-end-date", "2024-04-30", "--yes-i-know"]
    monkeypatch.setitem(running_app.app.config, "STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED", 11)

    def generated() -> dict:
        current_search_client.indices.delete(
            index=prefix_index("events-stats-*"), ignore=[404], expand_wildcards="all"
        )
        result = cli_runner(*args)
        assert result.exit_code == 0, result.output
        return {
            key: doc["timestamp"] for key, (_, doc) in _docs(prefix_index("events-stats-*")).items()
        }

    first = generated()
    assert len(first) == 10 and generated() == first
    monkeypatch.setitem(running_app.app.config, "STATS_DASHBOARD_SYNTHETIC_EVENTS_SEED", 12)
    second = generated()
    assert second != first
    args += ["--seed", "11"]  # the option wins over the setting
    assert generated() == first
