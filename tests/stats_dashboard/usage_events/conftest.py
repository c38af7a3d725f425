"""Fixtures for the usage tests: raw events and membership history as fixture data."""

import random
from datetime import UTC, date, datetime

import pytest
from invenio_search import current_search_client
from invenio_search.engine import search as search_engine
from invenio_search.utils import prefix_index

from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.usage_events.synthetic import RecordTarget, raw_event


def write_raw(events, refresh=True):
    """Bulk-write ``(event name, _id, source)`` into raw monthly indices."""
    actions = [
        {
            "_index": prefix_index(f"events-stats-{name}-{doc['timestamp'][:7]}"),
            "_id": _id,
            "_source": doc,
        }
        for name, _id, doc in events
    ]
    search_engine.helpers.bulk(current_search_client, actions)
    if refresh:
        current_search_client.indices.refresh(index=prefix_index("events-stats-*"))


def make_event(record, when, visitor, file_key=None, old=True, **kwargs):
    """(event name, _id, source) of a raw event; ``old`` backdates updated_timestamp."""
    target = record if isinstance(record, RecordTarget) else RecordTarget.from_record(record)
    moment = datetime.fromisoformat(when)
    file = None
    if file_key:
        file = next(f for f in target.files if f[1] == file_key)
    _id, doc = raw_event(target, moment, visitor, file=file, **kwargs)
    if old:
        doc["updated_timestamp"] = moment.replace(tzinfo=UTC).isoformat()
    return ("file-download" if file_key else "record-view"), _id, doc


def write_history(rows):
    """Membership history fixture: rows of (record, community_id, event_type, day)."""
    actions = []
    for record, community_id, event_type, day in rows:
        record_id = str(getattr(record, "id", record))
        when = f"{day}T00:00:00"
        actions.append(
            {
                "_index": prefix_index(f"stats-community-events-{day[:4]}"),
                "_id": f"{record_id}-{community_id}-{event_type}-{day}",
                "_source": {
                    "record_id": record_id,
                    "community_id": community_id,
                    "event_type": event_type,
                    "event_date": when,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "updated_timestamp": datetime.now(UTC).isoformat(),
                },
            }
        )
    search_engine.helpers.bulk(current_search_client, actions, refresh=True)


def clear_history():
    current_search_client.indices.delete(
        index=prefix_index("stats-community-events-*"), ignore=[404], expand_wildcards="all"
    )


def members_on(history, record_id, day: date):
    """Brute force: communities (not global) whose history puts the record in on ``day``."""
    rows = [h for h in history if str(getattr(h[0], "id", h[0])) == record_id]
    out = set()
    for community in {h[1] for h in rows} - {"global"}:
        changes = sorted((h[3], h[2] != "removed", h[2]) for h in rows if h[1] == community)
        state = False
        for changed_day, _, kind in changes:
            if date.fromisoformat(changed_day) <= day:
                state = kind == "added"
        if state:
            out.add(community)
    return sorted(out)


@pytest.fixture()
def cli_runner(app):
    from invenio_stats_dashboard.cli import cli

    runner = app.test_cli_runner()

    def _run(*args):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return _run


@pytest.fixture()
def instance_env(app, search_hosts, tmp_path, monkeypatch):
    """An instance path whose invenio.cfg points a child process at this test's services."""
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
    (instance / "invenio.cfg").write_text("".join(f"{k} = {v!r}\n" for k, v in config.items()))
    monkeypatch.setenv("INVENIO_INSTANCE_PATH", str(instance))
    return instance


def wait_for_process(pid_dir, name, timeout=180):
    """The final status of a background process (polls its status file)."""
    import json
    import time

    deadline = time.monotonic() + timeout
    status = {}
    while time.monotonic() < deadline:
        path = pid_dir / f"{name}.status.json"
        if path.exists():
            status = json.loads(path.read_text())
            if status.get("state") in ("completed", "failed", "cancelled", "killed"):
                return status
        time.sleep(0.2)
    raise AssertionError(f"{name} did not finish: {status}")


def build_migration_site(owner) -> dict:
    """Two communities, three records, a history with changes, Jan-Feb 2024 raw events."""
    a = factories.create_community(owner.identity, "alpha")
    b = factories.create_community(owner.identity, "beta")
    r1 = factories.publish_record(
        owner.identity, communities=[a, b], files={"paper.pdf": 300, "data.csv": 50}
    )
    r2 = factories.publish_record(owner.identity, communities=[a])
    r3 = factories.publish_record(owner.identity)
    clear_history()
    history = [
        (r1, "global", "added", "2023-12-01"),
        (r1, str(b.id), "added", "2024-01-01"),
        (r1, str(a.id), "added", "2024-01-10"),
        (r2, "global", "added", "2023-12-01"),
        (r2, str(a.id), "added", "2024-01-01"),
        (r2, str(a.id), "removed", "2024-02-15"),
        (r3, "global", "added", "2023-12-01"),
        # r3 was in beta for a while, then left (it has no community today)
        (r3, str(b.id), "added", "2024-01-05"),
        (r3, str(b.id), "removed", "2024-01-20"),
    ]
    write_history(history)
    rng = random.Random(7)
    events = []
    for month, days in (("2024-01", 31), ("2024-02", 29)):
        for n in range(40):
            record = rng.choice([r1, r2, r3])
            day = rng.randint(1, days)
            when = f"{month}-{day:02d}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:07"
            events.append(make_event(record, when, visitor=n))
            if record is r1 and n % 2:
                key = rng.choice(["paper.pdf", "data.csv"])
                events.append(make_event(record, when, visitor=n, file_key=key))
    # boundary days of r2's removal and r1's addition to alpha
    events.append(make_event(r2, "2024-02-14T23:59:59", visitor=900))
    events.append(make_event(r2, "2024-02-15T00:00:00", visitor=901))
    events.append(make_event(r1, "2024-01-09T23:59:59", visitor=902))
    events.append(make_event(r1, "2024-01-10T00:00:00", visitor=903))
    # an event of a record that no longer exists anywhere (purged)
    ghost = make_event(r3, "2024-01-15T10:00:00", visitor=904)
    ghost[2]["recid"] = "ghost-0000"
    events.append(ghost)
    write_raw(events)
    return {"a": a, "b": b, "records": [r1, r2, r3], "history": history}


@pytest.fixture()
def site(running_app, owner, db, search_clear):
    """:func:`build_migration_site` within the test's transaction."""
    return build_migration_site(owner)
