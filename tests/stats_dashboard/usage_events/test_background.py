"""``migrate-background``: a real worker process, killed at a random batch, then resumed."""

import json
import os
import random
import signal
import time

from invenio_search import current_search_client

from invenio_stats_dashboard.core.bookmarks import MigrationBookmarks
from invenio_stats_dashboard.usage_events import indices
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, Migrator

from .conftest import clear_history, make_event, wait_for_process, write_history, write_raw


def _ids(index):
    current_search_client.indices.refresh(index=index)
    out, body = [], {"size": 1000, "sort": [{"timestamp": "asc"}, {"_id": "asc"}], "_source": False}
    while True:
        hits = current_search_client.search(index=index, body=body)["hits"]["hits"]
        out += [h["_id"] for h in hits]
        if len(hits) < 1000:
            return out
        body["search_after"] = hits[-1]["sort"]


def test_killed_background_migration_resumes(
    running_app, record_factory, search_clear, instance_env, cli_runner, tmp_path
):
    records = [record_factory(), record_factory(files={"x.pdf": 10})]
    clear_history()
    write_history([(r, "global", "added", "2023-01-01") for r in records])
    rng = random.Random(5)
    events = [
        make_event(
            rng.choice(records),
            f"2024-03-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:{n % 60:02d}:{n % 59:02d}",
            visitor=n,
        )
        for n in range(3000)
    ]
    write_raw(events)
    source = indices.raw_index("view", "2024-03")
    total = len(_ids(source))
    pid_dir = tmp_path / "pids"
    result = cli_runner(
        "usage-events",
        "migrate-background",
        "-e",
        "view",
        "--batch-size",
        "20",
        "--pid-dir",
        str(pid_dir),
    )
    assert result.exit_code == 0, result.output
    pid = json.loads((pid_dir / "event-migration.pid").read_text())["pid"]
    kill_after = random.Random().randint(100, total // 2)
    store = MigrationBookmarks()
    deadline = time.monotonic() + 120
    written = 0
    while time.monotonic() < deadline:
        bm = store.get("view", "2024-03")
        written = (bm or {}).get("written", 0)
        if written >= kill_after:
            break
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)  # the worker this test started, by its id
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        time.sleep(0.5)
    bm = store.get("view", "2024-03")
    assert 0 < bm["written"] < total, (written, total)
    assert bm["state"] == "copying"
    copied = _ids(indices.enriched_index("view", "2024-03"))
    assert len(copied) == len(set(copied)) >= bm["written"]
    options = MigrationOptions(event_types=("view",), months=("2024-03",), batch_size=20)
    resumed = Migrator(options).run()[0]
    assert resumed.state == "migrated", resumed.message
    assert resumed.written == total - bm["written"]
    target = _ids(indices.enriched_index("view", "2024-03"))
    assert sorted(target) == sorted(_ids(source)) and len(target) == total


def test_generate_background(
    running_app, record_factory, search_clear, instance_env, cli_runner, tmp_path
):
    from invenio_search.utils import prefix_index

    record_factory(created="2024-06-01T00:00:00")
    record_factory(created="2024-06-02T00:00:00")
    pid_dir = tmp_path / "pids"
    result = cli_runner(
        "usage-events",
        "generate-background",
        "--start-date",
        "2024-06-01",
        "--events-per-record",
        "7",
        "--event-end-date",
        "2024-07-31",
        "--pid-dir",
        str(pid_dir),
    )
    assert result.exit_code == 0, result.output
    assert "usage-event-generation" in result.output
    status = wait_for_process(pid_dir, "usage-event-generation")
    assert status["state"] == "completed", status
    assert status["result"]["events"] == 14
    assert len(_ids(prefix_index("events-stats-*"))) == 14
