"""``invenio community-stats aggregate | status | read | destroy-indices``, errors included."""

import csv
import io
import json
from datetime import date, timedelta

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.aggregations.service import LOCK_NAME, run_aggregations
from invenio_stats_dashboard.cli import cli
from invenio_stats_dashboard.core.bookmarks import AggregationBookmarks
from invenio_stats_dashboard.core.indices import prefixed
from invenio_stats_dashboard.core.locks import run_lock

from .conftest import RUN_END
from .expected import Truth, assert_matches, expected_documents


@pytest.fixture(scope="module")
def runner(app):
    return app.test_cli_runner()


@pytest.fixture()
def aggregated(site):
    """Every series written up to RUN_END (nothing to do if a test already did it)."""
    run_aggregations(end=RUN_END)
    return site


def invoke(runner, *args, input=None):
    return runner.invoke(cli, list(args), input=input, catch_exceptions=False)


@pytest.fixture()
def config(app):
    """Set config values for one test."""
    saved = {}

    def _set(**values):
        for key, value in values.items():
            saved.setdefault(key, app.config.get(key))
            app.config[key] = value

    yield _set
    app.config.update(saved)


def test_aggregate_errors(site, runner, config):
    result = invoke(runner, "aggregate", "--eager", "--community-id", "no-such-community")
    assert result.exit_code == 2
    assert "Community not found: no-such-community" in result.stderr
    assert "Traceback" not in result.stderr

    result = invoke(runner, "aggregate", "--eager", "--start-date", "2024-13-01")
    assert result.exit_code == 2
    assert "--start-date must be a day as YYYY-MM-DD, not '2024-13-01'" in result.stderr

    result = invoke(
        runner, "aggregate", "--eager", "--start-date", "2024-02-01", "--end-date", "2024-01-01"
    )
    assert result.exit_code == 2
    assert "is after the end date" in result.stderr

    config(COMMUNITY_STATS_ENABLED=False)
    for command in (["aggregate", "--eager"], ["status"], ["read"], ["destroy-indices"]):
        result = invoke(runner, *command)
        assert result.exit_code == 1, command
        assert "COMMUNITY_STATS_ENABLED is False" in result.stderr
    config(COMMUNITY_STATS_ENABLED=True, COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=False)
    result = invoke(runner, "aggregate", "--eager", "--end-date", "2024-01-01")
    assert result.exit_code == 1
    assert "use --force" in result.stderr
    assert not current_search_client.indices.exists(
        index=prefixed("stats-community-records-delta-created")
    )

    with run_lock(LOCK_NAME, 60, "a test"):
        result = invoke(runner, "aggregate", "--eager", "--force")
    assert result.exit_code == 1
    assert "Another aggregation run is in progress" in result.stderr


def test_aggregate_eager_by_slug_then_all(site, runner, config, caplog):
    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=False, COMMUNITY_STATS_PROGRESS_INTERVAL=0)
    result = invoke(
        runner,
        "aggregate",
        "--eager",
        "--force",
        "--verbose",
        "--community-id",
        site.slugs["A"],
        "--end-date",
        RUN_END.isoformat(),
    )
    assert result.exit_code == 0, result.stderr
    assert "bypassing the COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED check" in result.stderr
    assert "Aggregated 1 community: " in result.stdout
    # off a terminal (cron, nohup, CI): progress lines on stderr, then a last line
    progress = [line for line in result.stderr.splitlines() if line.startswith("Aggregating")]
    assert progress[0].startswith("Aggregating: 1/") and "/s" in progress[0]
    assert progress[-1].startswith("Aggregating: done, ")
    assert "community-records-snapshot-published" in result.stdout  # --verbose timings
    store = AggregationBookmarks()
    assert store.get("community-records-delta-added", site.community_id("A")) == RUN_END
    assert store.get("community-records-delta-added", "global") is None
    assert_matches(site, Truth(site), communities=("A",))

    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=True)
    # non-eager: through the Celery task (eager Celery in tests), by UUID and for all
    caplog.set_level("INFO")
    result = invoke(runner, "aggregate", "--end-date", RUN_END.isoformat())
    assert result.exit_code == 0, result.stderr
    assert "queued as Celery task" in result.stdout
    # the task's progress goes to the log, as lines (a worker has no terminal)
    logged = [
        r.getMessage() for r in caplog.records if r.getMessage().startswith("community stats")
    ]
    assert logged[0].startswith("community stats aggregation: 1/")
    assert logged[-1].startswith("community stats aggregation: done, ")
    assert_matches(site, Truth(site))


def _human_size(n: int) -> str:
    """Decimal units, as an operator expects them."""
    if n < 1000:
        return f"{n:,} bytes"
    return f"{n / 1e3:,.1f} KB" if n < 1e6 else f"{n / 1e6:,.1f} MB"


def _row(text: str, first_cell: str) -> list[str]:
    """The cells of a status table row (two or more spaces apart)."""
    import re

    line = next(line for line in text.splitlines() if line.startswith(first_cell + "  "))
    return re.split(r"\s{2,}", line.strip())


def test_status_concise_verbose_and_json(aggregated, runner):
    site = aggregated
    truth = Truth(site)
    today = date.today()
    snapshot = expected_documents(truth, "B", "snapshot", "added", RUN_END)[RUN_END]
    records = sum(snapshot["total_records"].values())
    files = snapshot["total_files"]["file_count"]
    volume = snapshot["total_files"]["data_volume"]

    result = invoke(runner, "status", "-c", site.slugs["B"], "-c", "global")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    assert text.splitlines()[0] == f"Statistics status on {today.isoformat()} (UTC)"
    header = _row(text, "Community")
    assert header == ["Community", "Records", "Files", "Volume", "Views", "Downloads"] + [
        "Last day",
        "Lag",
        "Series",
    ]
    row = dict(zip(header, _row(text, site.slugs["B"]), strict=True))
    assert row["Records"] == f"{records:,}" and row["Files"] == f"{files:,}"
    assert row["Volume"] == _human_size(volume)
    assert row["Views"] == "-" and row["Downloads"] == "-"  # no usage in this fixture
    assert row["Last day"] == RUN_END.isoformat()
    assert row["Lag"] == f"{(today - RUN_END).days}d"
    assert row["Series"] == "6/8"  # the six record series complete, usage never aggregated
    assert "Lag: days from it to today" in text  # the legend
    assert len(text.splitlines()) < 20  # one line per community, not one per series

    result = invoke(runner, "status", "--community-id", site.community_id("B"), "-v")
    assert result.exit_code == 0, result.stderr
    text = result.stdout
    start = truth.series_start("B", "published", RUN_END)
    expected_count = (RUN_END - start).days + 1
    assert f"{site.slugs['B']} ({site.community_id('B')})" in text
    series = _row(text, "  delta-published")
    share = int(expected_count / ((today - start).days + 1) * 100)
    assert series[:7] == [
        "delta-published",
        f"{expected_count:,}",
        start.isoformat(),
        RUN_END.isoformat(),
        f"{(today - RUN_END).days}d",
        RUN_END.isoformat(),
        "0",
    ]
    assert series[7].endswith(f" {share}%") and len(series[7].split()[0]) == 10  # a bar
    assert "Missing: days without a document" in text

    result = invoke(runner, "status", "-c", site.slugs["B"], "--format", "json")
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    (community,) = payload["communities"]
    assert community["community_id"] == site.community_id("B")
    assert community["totals"]["records"] == records
    assert community["totals"]["volume"] == volume
    assert community["last_day"] == RUN_END.isoformat()
    by_name = {s["query_type"]: s for s in community["series"]}
    published = by_name["community-record-delta-published"]
    assert published["documents"] == expected_count
    assert published["first_day"] == start.isoformat()
    assert published["bookmark"] == RUN_END.isoformat()

    result = invoke(runner, "status", "-c", "nope")
    assert result.exit_code == 2
    assert "Community not found: nope" in result.stderr


def test_read(aggregated, runner):
    site = aggregated
    truth = Truth(site)
    start, end = date(2024, 1, 10), date(2024, 1, 14)
    result = invoke(
        runner,
        "read",
        "--community-id",
        site.slugs["C"],
        "--query-type",
        "community-record-snapshot-added",
        "--start-date",
        start.isoformat(),
        "--end-date",
        end.isoformat(),
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["community_id"] == site.community_id("C")
    documents = payload["results"]["community-record-snapshot-added"]
    expected = expected_documents(truth, "C", "snapshot", "added", RUN_END)
    assert [d["snapshot_date"] for d in documents] == [
        (start + timedelta(days=n)).isoformat() for n in range(5)
    ]
    for document in documents:
        day = date.fromisoformat(document["snapshot_date"])
        for key in ("timestamp", "updated_timestamp", "community_id"):
            document.pop(key)
        assert document == expected[day]

    # the meta-query: every query type in a few lines (delta sums, snapshot first/last day)
    result = invoke(runner, "read", "--start-date", "2024-01-12", "--end-date", "2024-01-13")
    assert result.exit_code == 0, result.stderr
    for kind in ("delta", "snapshot"):
        for basis in ("created", "published", "added"):
            header = f"== community-record-{kind}-{basis} (2024-01-12 to 2024-01-13, 2 days"
            assert header in result.stdout

    def metric_line(section: str, metric: str) -> list[str]:
        text = result.stdout.split(f"== {section} ")[1].split("==")[0]
        return next(line.split() for line in text.splitlines() if line.strip().startswith(metric))

    snapshot = expected_documents(truth, "global", "snapshot", "created", RUN_END)
    first = snapshot[date(2024, 1, 12)]["total_records"]["with_files"]
    last = snapshot[date(2024, 1, 13)]["total_records"]["with_files"]
    line = metric_line("community-record-snapshot-created", "total_records.with_files")
    assert line[1:] == [str(first), str(last), f"{last - first:+d}" if last != first else "0"]
    delta = expected_documents(truth, "global", "delta", "added", RUN_END)
    added = sum(delta[date(2024, 1, d)]["records"]["added"]["with_files"] for d in (12, 13))
    line = metric_line("community-record-delta-added", "records.added.with_files")
    assert line[1:] == [str(added)]
    with pytest.raises(StopIteration):  # daily distinct counts are not summed
        metric_line("community-record-delta-added", "uploaders")

    assert "the first day's delta is in the sums but not in the change" in result.stdout
    volume = snapshot[date(2024, 1, 13)]["total_files"]["data_volume"]
    shown = " ".join(metric_line("community-record-snapshot-created", "total_files.data_volume"))
    assert (
        f"{volume:,} bytes" in shown
        or f"{volume / 1e3:,.1f} KB" in shown
        or (f"{volume / 1e6:,.1f} MB" in shown)
    )

    # CSV: one statistic, a row per community and day, exact numbers
    result = invoke(
        runner,
        "read",
        "-c",
        site.slugs["C"],
        "-c",
        "global",
        "--query-type",
        "community-record-snapshot-added",
        "--start-date",
        "2024-01-12",
        "--end-date",
        "2024-01-13",
        "--format",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))
    header, rows = rows[0], rows[1:]
    assert header[:2] == ["date", "community_id"]
    assert [(r[0], r[1]) for r in rows] == [
        (day, community)
        for community in (site.community_id("C"), "global")
        for day in ("2024-01-12", "2024-01-13")
    ]
    for row in rows:
        community = "C" if row[1] == site.community_id("C") else "global"
        want = expected_documents(truth, community, "snapshot", "added", RUN_END)
        day = want[date.fromisoformat(row[0])]
        assert (
            int(row[header.index("total_files.data_volume")]) == (day["total_files"]["data_volume"])
        )
        assert (
            int(row[header.index("total_records.with_files")])
            == (day["total_records"]["with_files"])
        )
    result = invoke(runner, "read", "--format", "csv")
    assert result.exit_code == 2
    assert "add --query-type" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1  # one line for bad input

    # one query type: day by day, with the last day's subcounts
    result = invoke(
        runner,
        "read",
        "--query-type",
        "community-record-snapshot-created",
        "--start-date",
        "2024-01-12",
        "--end-date",
        "2024-01-13",
    )
    assert result.exit_code == 0, result.stderr
    assert "== community-record-snapshot-created (2 days)" in result.stdout
    line = next(
        line
        for line in result.stdout.splitlines()
        if line.strip().startswith("total_records.with_files")
    )
    assert line.split()[1:] == [str(first), str(last)]
    first_type = snapshot[date(2024, 1, 13)]["subcounts"]["resource_types"][0]
    count = sum(first_type["records"].values())
    assert f"{first_type['label']} [{first_type['id']}]: {count}" in result.stdout

    result = invoke(runner, "read", "--format", "json")  # yesterday..today: nothing yet
    assert result.exit_code == 0
    assert all(docs == [] for docs in json.loads(result.stdout)["results"].values())

    result = invoke(runner, "read", "--query-type", "community-record-delta-nope")
    assert result.exit_code == 2
    assert "'community-record-delta-nope' is not one of" in result.stderr
    assert "community-usage-snapshot" in result.stderr  # the message lists the valid ones
    help_text = invoke(runner, "read", "--help").stdout
    for query_type in (
        "community-record-delta-created",
        "community-record-delta-published",
        "community-record-delta-added",
        "community-record-snapshot-created",
        "community-record-snapshot-published",
        "community-record-snapshot-added",
        "community-usage-delta",
        "community-usage-snapshot",
    ):
        assert query_type in help_text
    result = invoke(runner, "read", "--community-id", "nope")
    assert result.exit_code == 2
    result = invoke(runner, "read", "--start-date", "2024-01-05", "--end-date", "2024-01-01")
    assert result.exit_code == 2


def test_aggregate_background(site, runner, app, search_hosts, tmp_path, monkeypatch):
    """A real detached process (committed data, config through INVENIO_* variables)."""
    import time

    from invenio_stats_dashboard.processes.manager import ProcessManager

    community_id = site.community_id("B")
    store = AggregationBookmarks()
    for aggregator in ("community-records-delta-added", "community-records-snapshot-added"):
        store.set(aggregator, community_id, date(2024, 1, 5))
    env = {
        "INVENIO_INSTANCE_PATH": str(tmp_path / "instance"),
        "INVENIO_SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "INVENIO_SEARCH_HOSTS": repr(search_hosts),
        "INVENIO_SEARCH_INDEX_PREFIX": repr(app.config.get("SEARCH_INDEX_PREFIX", "")),
        "INVENIO_CACHE_REDIS_URL": app.config["CACHE_REDIS_URL"],
        "INVENIO_COMMUNITY_STATS_EARLIEST_DATE": repr(app.config["COMMUNITY_STATS_EARLIEST_DATE"]),
        "INVENIO_COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT": "2",
        "INVENIO_COMMUNITY_STATS_TRACK_MEMBERSHIP": "False",
        "INVENIO_COMMUNITY_STATS_RECONCILE_BEFORE_AGGREGATION": "False",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    pid_dir = tmp_path / "pids"
    result = invoke(
        runner,
        "aggregate-background",
        "--community-id",
        site.slugs["B"],
        "--end-date",
        RUN_END.isoformat(),
        "--pid-dir",
        str(pid_dir),
    )
    assert result.exit_code == 0, result.stderr
    assert "Started aggregation (PID" in result.stdout
    manager = ProcessManager(pid_dir)
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        info = manager.info("aggregation")
        if info and info.state in ("completed", "failed", "stale"):
            break
        time.sleep(0.5)
    log = "\n".join(manager.tail_log("aggregation", 40))
    assert info.state == "completed", log
    assert AggregationBookmarks().get("community-records-delta-added", community_id) == RUN_END
    assert_matches(site, Truth(site), communities=("B",))

    result = invoke(runner, "aggregate-background", "--end-date", "2024-13-01")
    assert result.exit_code == 2


def test_destroy_indices(aggregated, runner):
    kept = [
        prefixed("events-stats-record-view-2024-01"),  # raw usage events
        prefixed("stats-record-view-2024"),  # invenio-stats per-record aggregation
        prefixed("stats-bookmarks"),  # invenio-stats' own bookmarks
    ]
    for name in kept:
        current_search_client.indices.create(index=name, ignore=[400])
    enriched = prefixed("events-stats-record-view-2024-01-v2.0.0")
    current_search_client.indices.create(index=enriched, ignore=[400])

    result = invoke(runner, "destroy-indices", input="n\n")
    assert result.exit_code == 1  # aborted
    assert prefixed("stats-community-records-delta-created-2024") in result.stdout
    assert enriched in result.stdout
    assert prefixed("stats-bookmarks-community-v1") in result.stdout
    listed = [line.strip() for line in result.stdout.splitlines() if line.startswith("  ")]
    for name in kept:
        assert name not in listed
    assert current_search_client.indices.exists(index=enriched)

    result = invoke(runner, "destroy-indices", "--yes-i-know")
    assert result.exit_code == 0, result.stderr
    for pattern in (
        "stats-community-*",
        "stats-bookmarks-community-*",
        "events-stats-*-v2.0.0",
    ):
        assert not current_search_client.indices.get(
            index=prefixed(pattern), ignore_unavailable=True
        )
    for name in kept:
        assert current_search_client.indices.exists(index=name)

    result = invoke(runner, "status", "-c", "global")
    assert result.exit_code == 0
    assert _row(result.stdout, "global")[1:] == ["-"] * 7 + ["0/8"]

    result = invoke(runner, "destroy-indices", "--yes-i-know", "--force")
    assert result.exit_code == 0
    assert "No invenio-stats-dashboard indices to delete." in result.stdout
    for name in kept:
        current_search_client.indices.delete(index=name)


def test_spec_examples_run_as_written(aggregated, runner, config):
    """Every example of the spec for these commands (its ids replaced by this site's)."""
    a, b = aggregated.slugs["A"], aggregated.slugs["B"]
    examples = [
        "aggregate",
        f"aggregate --community-id {a}",
        "aggregate --start-date 2024-01-01 --end-date 2024-01-31",
        "aggregate --eager --ignore-bookmark --verbose",
        "read",
        f"read --community-id {a} --start-date 2024-01-01 --end-date 2024-01-31",
        f"read --community-id {a} --query-type community-usage-delta --start-date 2024-01-01",
        "status",
        f"status --community-id {a}",
        f"status --community-id {a} --community-id {b}",
        "status --verbose",
        f"status --community-id {a} --verbose",
    ]
    for example in examples:
        result = invoke(runner, *example.split())
        assert result.exit_code == 0, (example, result.stderr)
        assert "Traceback" not in result.output, example
    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=False)
    result = invoke(runner, "aggregate", "--force", "--verbose")
    assert result.exit_code == 0, result.stderr
    assert "bypassing" in result.stderr
    for example in ("destroy-indices --yes-i-know", "destroy-indices --yes-i-know --force"):
        assert invoke(runner, *example.split()).exit_code == 0, example


def _plant_lock(host: str, pid: int, since: str, name: str = LOCK_NAME) -> None:
    """A lock as a run on ``host`` with ``pid`` would have left it."""
    import json as _json

    from invenio_stats_dashboard.core.locks import KEY_PREFIX, redis_client

    holder = {"host": host, "pid": pid, "purpose": "aggregation", "since": since}
    redis_client().set(KEY_PREFIX + name, _json.dumps(holder), ex=600)


def test_dead_holder_lock_taken_over_and_clear_lock(site, runner, config):
    """kill -9 leaves the lock behind: the next run on that host takes it over at once."""
    import socket
    import subprocess

    from invenio_stats_dashboard.core.locks import lock_is_held

    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=True)
    args = ["aggregate", "--eager", "-c", site.slugs["A"], "--end-date", RUN_END.isoformat()]
    gone = subprocess.Popen(["true"])
    gone.wait()
    _plant_lock(socket.gethostname(), gone.pid, "2024-01-01 00:00:00")
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.stderr
    assert f"Took over the {LOCK_NAME} lock of aggregation (pid {gone.pid}" in result.stderr
    assert "which is no longer running" in result.stderr
    assert not lock_is_held(LOCK_NAME)

    # a live pid that started after the lock was taken: reused, the holder is gone too
    import os

    _plant_lock(socket.gethostname(), os.getpid(), "2000-01-01 00:00:00")
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.stderr
    assert "Took over" in result.stderr

    # a holder on another host cannot be checked: refused, naming it and the way out
    _plant_lock("other-host", 4242, "2026-01-02 03:04:05")
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert "aggregation (pid 4242 on other-host since 2026-01-02 03:04:05 UTC)" in result.stderr
    assert "clear-lock" in result.stderr
    result = invoke(runner, "clear-lock", input="n\n")
    assert result.exit_code == 1 and lock_is_held(LOCK_NAME)
    assert "held by aggregation (pid 4242 on other-host" in result.stdout
    result = invoke(runner, "clear-lock", "--yes-i-know")
    assert result.exit_code == 0 and "Cleared the aggregation lock." in result.stdout
    assert not lock_is_held(LOCK_NAME)
    result = invoke(runner, "clear-lock")
    assert result.exit_code == 0 and "The aggregation lock is free." in result.stdout


def test_a_part_of_a_split_run_keeps_other_runs_out_until_cleared(site, runner, config):
    """While a part of a run split over workers holds its lock, no run starts; a dead
    part's lock on another host is freed by clear-lock with the run lock."""
    from invenio_stats_dashboard.core.locks import lock_is_held

    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=True)
    args = ["aggregate", "--eager", "-c", site.slugs["A"], "--end-date", RUN_END.isoformat()]
    _plant_lock("other-host", 4343, "2026-01-02 03:04:05", name=f"{LOCK_NAME}:2")
    result = invoke(runner, *args)
    assert result.exit_code == 1
    assert "pid 4343 on other-host" in result.stderr
    assert "still works on a part of an aggregation run" in result.stderr
    result = invoke(runner, "clear-lock", input="n\n")
    assert result.exit_code == 1 and lock_is_held(f"{LOCK_NAME}:2")
    assert "held by aggregation (pid 4343 on other-host" in result.stdout
    result = invoke(runner, "clear-lock", "--yes-i-know")
    assert result.exit_code == 0 and not lock_is_held(f"{LOCK_NAME}:2")
    result = invoke(runner, *args)
    assert result.exit_code == 0, result.stderr


def test_future_end_date_is_clamped(site, runner, config):
    """No document is ever written for a day that has not happened."""
    config(COMMUNITY_STATS_SCHEDULED_TASKS_ENABLED=True)
    today = date.today()
    future = today + timedelta(days=40)
    result = invoke(
        runner, "aggregate", "--eager", "-c", site.slugs["A"], "--end-date", future.isoformat()
    )
    assert result.exit_code == 0, result.stderr
    assert (
        f"The end date {future} is after today: aggregating through today ({today})."
        in result.stderr
    )
    for field in ("period_start", "snapshot_date"):
        hits = current_search_client.search(
            index=prefixed("stats-community-*"),
            body={"query": {"range": {field: {"gte": (today + timedelta(days=1)).isoformat()}}}},
        )["hits"]["hits"]
        assert hits == [], field
