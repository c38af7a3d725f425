"""``migrate-background``: a real worker process, killed at a random batch, then resumed."""

import json
import os
import random
import signal
import time

from invenio_search import current_search_client

from invenio_stats_dashboard.usage import indices
from invenio_stats_dashboard.usage.bookmarks import ReindexingBookmarks
from invenio_stats_dashboard.usage.migration import MigrationOptions, Migrator

from .conftest import clear_history, make_event, write_history, write_raw


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
    running_app, record_factory, search_clear, search_hosts, cli_runner, tmp_path, monkeypatch
):
    app = running_app.app
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
    instance = tmp_path / "instance"
    instance.mkdir()
    config = {
        "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_HOSTS": search_hosts,
        "SEARCH_INDEX_PREFIX": app.config.get("SEARCH_INDEX_PREFIX", ""),
        "CACHE_REDIS_URL": app.config["CACHE_REDIS_URL"],
        "AUDIT_LOGS_ENABLED": False,
        "JOBS_LOGGING": False,
    }
    (instance / "invenio.cfg").write_text(
        "".join(f"{key} = {json.loads(json.dumps(value))!r}\n" for key, value in config.items())
    )
    monkeypatch.setenv("INVENIO_INSTANCE_PATH", str(instance))
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
    store = ReindexingBookmarks()
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
    resumed = Migrator(MigrationOptions(event_types=("view",), batch_size=20)).run()[0]
    assert resumed.state == "migrated", resumed.message
    assert resumed.written == total - bm["written"]
    target = _ids(indices.enriched_index("view", "2024-03"))
    assert sorted(target) == sorted(_ids(source)) and len(target) == total
