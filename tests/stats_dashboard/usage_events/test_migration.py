"""``usage-events migrate``: enrichment from the membership history, resume, validation."""

import json
import random
import re
from dataclasses import replace
from datetime import date

import pytest
from invenio_search import current_search_client

from invenio_stats_dashboard.core.bookmarks import MigrationBookmarks
from invenio_stats_dashboard.usage_events import indices
from invenio_stats_dashboard.usage_events.migration import MigrationOptions, Migrator

from .conftest import clear_history, make_event, members_on, write_history, write_raw


def _all(index):
    current_search_client.indices.refresh(index=index)
    out, body = {}, {"size": 500, "sort": [{"timestamp": "asc"}, {"_id": "asc"}]}
    while True:
        hits = current_search_client.search(index=index, body=body)["hits"]["hits"]
        out.update({h["_id"]: h["_source"] for h in hits})
        if len(hits) < 500:
            return out
        body["search_after"] = hits[-1]["sort"]


def _expected(site, doc):
    record = next((r for r in site["records"] if r["id"] == doc["recid"]), None)
    if record is None:
        return []
    return members_on(site["history"], str(record.id), date.fromisoformat(doc["timestamp"][:10]))


def _check_month(site, event_type, month):
    source = _all(indices.raw_index(event_type, month))
    target = _all(indices.enriched_index(event_type, month))
    assert source and set(source) == set(target)
    for _id, doc in source.items():
        migrated = target[_id]
        assert {k: migrated[k] for k in doc} == doc
        assert migrated["community_ids"] == _expected(site, doc), doc["timestamp"]
        if doc["recid"] != "ghost-0000":
            record = next(r for r in site["records"] if r["id"] == doc["recid"])
            assert migrated["record_id"] == str(record.id)
            assert migrated["resource_type"]["id"] == "publication-article"
        if event_type == "download":
            assert migrated["file_types"] == [doc["file_key"].rsplit(".", 1)[1]]
    return len(source)


def test_migrate_enriches_from_history_and_switches_readers(site, cli_runner):
    result = cli_runner("usage-events", "migrate")
    assert result.exit_code == 0, result.output
    for event_type in ("view", "download"):
        for month in ("2024-01", "2024-02"):
            _check_month(site, event_type, month)
            # readers now read the enriched index, and only it
            holders = indices.alias_holders(event_type)
            assert indices.enriched_index(event_type, month) in holders
            assert indices.raw_index(event_type, month) not in holders
    boundary = _all(indices.enriched_index("view", "2024-02"))
    r2 = site["records"][1]
    by_time = {d["timestamp"]: d for d in boundary.values() if d["recid"] == r2["id"]}
    assert by_time["2024-02-14T23:59:59"]["community_ids"] == [str(site["a"].id)]
    assert by_time["2024-02-15T00:00:00"]["community_ids"] == []
    assert "migrated" in result.output
    # re-running copies nothing twice
    before = {m: len(_all(indices.enriched_index("view", m))) for m in ("2024-01", "2024-02")}
    again = cli_runner("usage-events", "migrate")
    assert again.exit_code == 0, again.output
    after = {m: len(_all(indices.enriched_index("view", m))) for m in ("2024-01", "2024-02")}
    assert before == after
    status = cli_runner("usage-events", "status", "--show-bookmarks")
    assert status.exit_code == 0
    lines = [line.split() for line in status.output.splitlines()]
    view_jan = next(line for line in lines if line[:2] == ["view", "2024-01"])
    count = before["2024-01"]
    assert view_jan[2:] == [str(count), str(count), "100%", "enriched", "migrated"]
    status = cli_runner("usage-events", "status", "--format", "json")
    assert status.exit_code == 0
    rows = {(r["event_type"], r["month"]): r for r in json.loads(status.output)}
    assert rows["view", "2024-01"]["source_count"] == count
    assert rows["view", "2024-01"]["bookmark"]["state"] == "migrated"


def test_two_migrations_never_run_at_once(site, cli_runner):
    from invenio_stats_dashboard.core.locks import run_lock
    from invenio_stats_dashboard.usage_events.service import MIGRATION_LOCK

    with run_lock(MIGRATION_LOCK, 60, "usage-events migrate"):
        result = cli_runner("usage-events", "migrate")
        assert cli_runner("usage-events", "migrate", "--dry-run").exit_code == 0
    assert result.exit_code == 1, result.output
    assert "holds the usage-migration lock" in result.output
    assert "Traceback" not in result.output


def test_resume_after_stop_reads_nothing_twice(site):
    total = len(_all(indices.raw_index("view", "2024-01")))
    options = MigrationOptions(event_types=("view",), batch_size=7, max_batches=2)
    first = Migrator(options).run()
    jan = next(r for r in first if r.month == "2024-01")
    assert jan.state == "stopped" and jan.written == 14
    bm = MigrationBookmarks().get("view", "2024-01")
    assert bm["written"] == 14 and bm["last_sort"]
    assert len(_all(indices.enriched_index("view", "2024-01"))) == 14
    # readers still read the raw index while the month is incomplete
    assert indices.raw_index("view", "2024-01") in indices.alias_holders("view")
    migrator = Migrator(MigrationOptions(event_types=("view",), batch_size=7, months=("2024-01",)))
    second = migrator.run()
    assert second[0].state == "migrated"
    assert second[0].written == total - 14  # the copy resumed after the 14 written events
    assert len(_all(indices.enriched_index("view", "2024-01"))) == total
    _check_month(site, "view", "2024-01")


def test_validation_catches_a_tampered_target(site):
    raw = indices.raw_index("download", "2024-01")
    total = len(_all(raw))
    # copy everything, but stop before validating (the next batch would be the last)
    Migrator(MigrationOptions(event_types=("download",), batch_size=total, max_batches=1)).run()
    target = indices.enriched_index("download", "2024-01")
    victim = sorted(_all(target))[0]
    current_search_client.update(
        index=target, id=victim, body={"doc": {"country": "XX"}}, refresh=True
    )
    results = Migrator(
        MigrationOptions(event_types=("download",), months=("2024-01",), batch_size=total)
    ).run()
    assert results[0].state == "failed"
    assert "differs in country" in results[0].message
    assert raw in indices.alias_holders("download")  # readers were not switched
    current_search_client.delete(index=target, id=victim, refresh=True)
    results = Migrator(
        MigrationOptions(event_types=("download",), months=("2024-01",), batch_size=total)
    ).run()
    assert results[0].state == "failed" and "count mismatch" in results[0].message


def test_many_purged_records_validate_and_unenriched_events_do_not(site):
    """Events of 1,200 purged records stay unenriched and the month validates; an event of
    an existing record that lacks its enrichment fails the validation."""
    r1 = site["records"][0]
    events = []
    for n in range(1200):
        ghost = make_event(r1, f"2024-03-{n % 28 + 1:02d}T10:{n % 60:02d}:00", visitor=n)
        ghost[2]["recid"] = f"purged-{n:04d}"
        events.append(ghost)
    real = [make_event(r1, f"2024-03-0{n + 1}T12:00:00", visitor=5000 + n) for n in range(3)]
    write_raw(events + real)
    target = indices.enriched_index("view", "2024-03")
    # copy everything, but stop before validating; then strip one event's enrichment
    march = MigrationOptions(event_types=("view",), months=("2024-03",), batch_size=1203)
    Migrator(replace(march, max_batches=1)).run()
    victim = real[0][1]
    enriched = current_search_client.get(index=target, id=victim)["_source"]
    stripped = {k: v for k, v in enriched.items() if k != "record_id"}
    current_search_client.index(index=target, id=victim, body=stripped, refresh=True)
    results = Migrator(march).run()
    assert results[0].state == "failed"
    assert re.search(r"(^|\D)1 events are not enriched", results[0].message)
    # put the enrichment back: the 1,200 purged records' events do not stop the switch
    current_search_client.index(index=target, id=victim, body=enriched, refresh=True)
    assert Migrator(march).run()[0].state == "migrated"


def test_stopped_catch_up_of_a_migrated_month_is_reported_not_raised(site):
    """A stop during the late-events pass of a switched month: a message, no traceback;
    the next run copies the late events."""
    options = MigrationOptions(event_types=("view",), months=("2024-01",))
    assert Migrator(options).run()[0].state == "migrated"
    r1 = site["records"][0]
    write_raw([make_event(r1, "2024-01-20T10:00:00", visitor=777, old=False)])
    stopped = Migrator(options, should_stop=lambda: True).run()[0]
    assert stopped.state == "migrated"
    assert "late events not copied yet (stop requested)" in stopped.message
    again = Migrator(options).run()[0]
    assert again.written == 1 and "1 late events copied" in again.message


def test_dry_run_writes_nothing(site, cli_runner):
    result = cli_runner("usage-events", "migrate", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "would copy" in result.output
    raw, enriched = indices.list_indices("view")
    assert raw == {"2024-01", "2024-02"} and enriched == set()
    assert not current_search_client.indices.exists(index="stats-bookmarks-reindexing")


def test_cli_errors(site, cli_runner):
    for args in (
        ["usage-events", "migrate", "--batch-size", "20000"],
        ["usage-events", "migrate", "-e", "clicks"],
        ["usage-events", "migrate", "--max-memory-percent", "0"],
        ["usage-events", "clear-bookmarks"],
        ["usage-events", "clear-bookmarks", "--months", "2024-13"],
        ["usage-events", "clear-bookmarks", "--fresh-start", "--months", "2024-01"],
    ):
        result = cli_runner(*args)
        assert result.exit_code == 2, args
        assert "Traceback" not in result.output
    clear_history()
    result = cli_runner("usage-events", "migrate")
    assert result.exit_code == 1
    assert "community-events generate" in result.output


def test_clear_bookmarks(site, cli_runner):
    # max batches stops a month, not the run: every month got its first batch
    Migrator(MigrationOptions(batch_size=5, max_batches=1)).run()
    store = MigrationBookmarks()
    months = {(t, m) for t in ("view", "download") for m in ("2024-01", "2024-02")}
    assert {(b["event_type"], b["month"]) for b in store.all()} == months
    assert {b["state"] for b in store.all()} == {"stopped"}
    result = cli_runner(
        "usage-events", "clear-bookmarks", "--event-type", "view", "--months", "2024-01"
    )
    assert result.exit_code == 0 and "Cleared 1 " in result.output
    assert {(b["event_type"], b["month"]) for b in store.all()} == months - {("view", "2024-01")}
    result = cli_runner("usage-events", "clear-bookmarks", "--months", "2024-02")
    assert "Cleared 2 " in result.output
    result = cli_runner("usage-events", "clear-bookmarks", "--fresh-start")
    assert "Cleared 1 " in result.output and store.all() == []
    # a cleared month starts again from its first event (same ids: nothing duplicated)
    Migrator(MigrationOptions(event_types=("view",), months=("2024-01",))).run()
    _check_month(site, "view", "2024-01")


def test_current_month_events_arriving_during_and_after_the_run(site, usage_events, cli_runner):
    """Live events keep reaching readers before, during and after the month's switch."""
    from datetime import UTC, datetime

    from invenio_stats_dashboard.demo.factories import UsageEvent

    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    start = now.replace(day=1, hour=0, minute=0, second=0)
    mid = start + (now - start) / 2
    month = now.strftime("%Y-%m")
    r1, r2, _ = site["records"]
    write_history([(r1, str(site["a"].id), "added", start.date().isoformat())])
    raw, target = indices.raw_index("view", month), indices.enriched_index("view", month)
    # the month began before the upgrade: raw events by invenio-stats' stock indexer
    write_raw([make_event(r1, mid.isoformat(), visitor=n, old=False) for n in range(10)])
    # after the upgrade the enriching indexer writes both indices while readers use raw
    usage_events([UsageEvent(r1, mid.isoformat(), visitor=100)])
    assert len(_all(raw)) == 11 and len(_all(target)) == 1
    assert indices.alias_holders("view") >= {raw} and target not in indices.alias_holders("view")

    arrived = []

    def during(event_type, batch_month, n):
        if batch_month == month and not arrived:
            # one event through the pipeline (dual write), one raw-only with an early timestamp
            usage_events([UsageEvent(r2, mid.isoformat(), visitor=200)])
            write_raw([make_event(r2, start.isoformat(), visitor=201, old=False)])
            arrived.append(True)

    migrator = Migrator(MigrationOptions(event_types=("view",), batch_size=4), on_batch=during)
    results = {r.month: r for r in migrator.run()}
    assert arrived and results[month].state == "migrated", results[month].message
    source, enriched = _all(raw), _all(target)
    assert len(source) == 13 and set(source) == set(enriched)
    assert all("community_ids" in doc for doc in enriched.values())
    assert target in indices.alias_holders("view") and raw not in indices.alias_holders("view")

    # after the switch the indexer writes only the enriched index (what readers read)
    usage_events([UsageEvent(r1, now.isoformat(), visitor=300)])
    assert len(_all(target)) == 14 and len(_all(raw)) == 13
    # a raw-only late event (a worker still running the stock indexer) is caught up
    write_raw([make_event(r1, mid.isoformat(), visitor=301, old=False)])
    result = cli_runner("usage-events", "migrate", "-e", "view", "--delete-old-indices")
    assert result.exit_code == 0, result.output
    assert len(_all(target)) == 15
    assert "raw index kept" in result.output  # never deleted for the current month
    assert current_search_client.indices.exists(index=raw)
    # older migrated months were deleted as asked
    assert not current_search_client.indices.exists(index=indices.raw_index("view", "2024-01"))


class Killed(BaseException):
    """Stands for the process dying (not an Exception: nothing may catch it)."""


@pytest.mark.parametrize("seed", [1, 2])
def test_killed_between_write_and_bookmark_loses_and_duplicates_nothing(site, seed):
    """A run dies at a random batch, after its bulk write and before its bookmark."""
    raw = indices.raw_index("view", "2024-02")
    total = len(_all(raw))
    kill_at = random.Random(seed).randint(2, total // 3)
    calls = []
    original = MigrationBookmarks.save

    def dying_save(self, doc):
        calls.append(doc.get("batches"))
        if len(calls) == kill_at:
            raise Killed()
        return original(self, doc)

    options = MigrationOptions(event_types=("view",), months=("2024-02",), batch_size=3)
    MigrationBookmarks.save = dying_save
    try:
        with pytest.raises(Killed):
            Migrator(options).run()
    finally:
        MigrationBookmarks.save = original
    bm = MigrationBookmarks().get("view", "2024-02")
    written_before = bm["written"]
    assert written_before == (kill_at - 1) * 3
    # the batch written just before the kill is in the target, beyond the bookmark
    assert len(_all(indices.enriched_index("view", "2024-02"))) == written_before + 3
    result = Migrator(options).run()[0]
    assert result.state == "migrated"
    assert result.written == total - written_before  # resumed at the bookmark
    assert set(_all(indices.enriched_index("view", "2024-02"))) == set(_all(raw))
    _check_month(site, "view", "2024-02")


def test_spec_examples_async_and_several_event_types(site, cli_runner):
    """``--event-types view download`` (one flag, two values) and ``--async`` (Celery)."""
    result = cli_runner("usage-events", "migrate", "--dry-run", "--event-types", "view", "download")
    assert result.exit_code == 0, result.output
    assert {line.split()[0] for line in result.output.splitlines()[2:]} == {"view", "download"}
    result = cli_runner("usage-events", "migrate", "--max-batches", "1", "--batch-size", "5")
    assert result.exit_code == 0 and "stopped" in result.output
    result = cli_runner(
        "usage-events", "migrate", "--async", "--batch-size", "500", "--max-memory-percent", "90"
    )
    assert result.exit_code == 0 and "Celery task" in result.output
    # the test app runs Celery tasks eagerly: the migration is done
    for event_type in ("view", "download"):
        for month in ("2024-01", "2024-02"):
            _check_month(site, event_type, month)
            assert MigrationBookmarks().get(event_type, month)["state"] == "migrated"
