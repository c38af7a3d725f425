"""Records: ``created`` repaired from the legacy creation date, in the database and the index."""

import socket

import pytest
from invenio_access.permissions import system_identity
from invenio_rdm_records.proxies import current_rdm_records_service
from invenio_search.engine import search

from invenio_record_importer_kcworks.services import RecordsHelper
from invenio_record_importer_kcworks.signals import record_created_dates_updated
from invenio_stats_dashboard.demo.factories import default_metadata

from .conftest import (
    MIGRATED,
    db_created,
    db_revision,
    draft_created,
    indexed_created,
    indexed_document,
    search_by_created,
    utc,
)

MALFORMED = ["", "03/08/2017", "2017/2018", "2017-02-30", "0000-00-00 00:00:00"]


@pytest.fixture()
def changes_sent():
    """Collect what ``record_created_dates_updated`` announces."""
    received = []

    def receiver(sender, changes):
        received.extend(changes)

    record_created_dates_updated.connect(receiver)
    yield received
    record_created_dates_updated.disconnect(receiver)


@pytest.fixture()
def mixed_site(legacy_record):
    """Records covering every kind of legacy value; returns name -> record."""
    records = {
        "exact": legacy_record("2017-03-04T05:06:07Z"),
        "date_only": legacy_record("2015-06-01"),
        "naive": legacy_record("2016-02-03 04:05:06"),
        "offset": legacy_record("2018-07-01T02:00:00+05:00"),
        "equal": legacy_record("2019-01-01T00:00:00Z", created="2019-01-01T00:00:00Z"),
        "equal_instant": legacy_record("2019-01-01T00:00:00-05:00", created="2019-01-01T05:00:00Z"),
        "no_legacy": legacy_record(),
    }
    for number, value in enumerate(MALFORMED):
        records[f"malformed_{number}"] = legacy_record(value)
    return records


EXPECTED = {
    "exact": "2017-03-04T05:06:07Z",
    "date_only": "2015-06-01T00:00:00Z",
    "naive": "2016-02-03T04:05:06Z",
    "offset": "2018-06-30T21:00:00Z",
    "equal": "2019-01-01T00:00:00Z",
    "equal_instant": "2019-01-01T05:00:00Z",
    "no_legacy": MIGRATED,
    **{f"malformed_{n}": MIGRATED for n in range(len(MALFORMED))},
}


def test_repairs_database_and_index(running_app, mixed_site, changes_sent, search_clear):
    """Valid dates become created (as UTC instants); equal ones are skipped; bad ones error."""
    before = {name: db_revision(r.id) for name, r in mixed_site.items()}

    stats = RecordsHelper().update_record_created_dates(batch_size=3)

    assert stats["updated"] == 4
    assert stats["skipped"] == 2
    assert len(stats["errors"]) == len(MALFORMED)
    assert stats["total_found"] == 4 + 2 + len(MALFORMED)
    assert stats["stopped_early"] is False
    for name, record in mixed_site.items():
        assert db_created(record.id) == utc(EXPECTED[name]), name
        assert indexed_created(record.id) == utc(EXPECTED[name]), name

    # every error names the record (UUID and PID) and the offending value
    errors = {e["pid"]: e for e in stats["errors"]}
    for number, value in enumerate(MALFORMED):
        record = mixed_site[f"malformed_{number}"]
        assert errors[record["id"]]["record_id"] == str(record.id)
        assert repr(value) in errors[record["id"]]["error"]
        assert errors[record["id"]]["type"] == "invalid_date"

    # a repair is not an edit: revision, `updated` and the indexed revision stay as they were
    for name, record in mixed_site.items():
        assert db_revision(record.id) == before[name], name
        assert indexed_document(record.id)["version_id"] == before[name][0], name

    # the bulk-written document is the one the service's own indexer writes
    for name in ("exact", "offset"):
        ours = indexed_document(mixed_site[name].id)
        record = current_rdm_records_service.record_cls.get_record(mixed_site[name].id)
        current_rdm_records_service.indexer.index(record)
        assert indexed_document(mixed_site[name].id) == ours

    # search sorts and filters by the new dates
    pids = {r["id"]: name for name, r in mixed_site.items()}
    order = [pids[pid] for pid in search_by_created()]
    assert order[:6] == ["date_only", "naive", "exact", "offset", "equal", "equal_instant"]
    in_2016 = search_by_created("created:[2016-01-01 TO 2016-12-31]")
    assert [pids[pid] for pid in in_2016] == ["naive"]

    # the signal announced exactly the database changes
    sent = {c["record_id"]: c for c in changes_sent}
    assert set(sent) == {str(mixed_site[n].id) for n in ("exact", "date_only", "naive", "offset")}
    for name in ("exact", "date_only", "naive", "offset"):
        change = sent[str(mixed_site[name].id)]
        assert change["old_created"] == utc(MIGRATED)
        assert change["new_created"] == utc(EXPECTED[name])
        assert change["parent_id"] == str(mixed_site[name].parent.id)


def test_second_run_skips_everything(running_app, mixed_site, changes_sent, search_clear):
    """Re-running is harmless: the repaired records count as skipped, nothing is written."""
    RecordsHelper().update_record_created_dates()
    changes_sent.clear()
    revisions = {name: db_revision(r.id) for name, r in mixed_site.items()}

    stats = RecordsHelper().update_record_created_dates()

    assert (stats["updated"], stats["skipped"], len(stats["errors"])) == (0, 6, len(MALFORMED))
    assert {name: db_revision(r.id) for name, r in mixed_site.items()} == revisions
    assert changes_sent == []


def test_dry_run_writes_nothing_and_counts_the_same(
    running_app, mixed_site, changes_sent, search_clear
):
    """A dry run reports the counts of the real run and leaves database and index alone."""
    revisions = {name: db_revision(r.id) for name, r in mixed_site.items()}
    documents = {name: indexed_document(r.id) for name, r in mixed_site.items()}

    dry = RecordsHelper().update_record_created_dates(batch_size=2, dry_run=True)

    assert {name: db_revision(r.id) for name, r in mixed_site.items()} == revisions
    assert {name: indexed_document(r.id) for name, r in mixed_site.items()} == documents
    assert changes_sent == []
    assert (dry["total_found"], dry["updated"], dry["skipped"], len(dry["errors"])) == (
        11,
        4,
        2,
        5,
    )

    real = RecordsHelper().update_record_created_dates(batch_size=2)
    assert {k: real[k] for k in ("total_found", "updated", "skipped")} == {
        k: dry[k] for k in ("total_found", "updated", "skipped")
    }
    assert sorted(e["pid"] for e in real["errors"]) == sorted(e["pid"] for e in dry["errors"])


def test_start_and_end_dates_are_inclusive_whole_days(running_app, legacy_record, search_clear):
    """Only records whose current created falls within the days are touched."""
    created = {
        "before": "2019-12-31T23:59:59Z",
        "first_instant": "2020-01-01T00:00:00Z",
        "last_second": "2020-01-31T23:59:59Z",
        "after": "2020-02-01T00:00:00Z",
    }
    records = {name: legacy_record("2010-10-10", created=c) for name, c in created.items()}

    stats = RecordsHelper().update_record_created_dates(
        start_date="2020-01-01", end_date="2020-01-31"
    )

    assert (stats["total_found"], stats["updated"], stats["skipped"]) == (2, 2, 0)
    for name, record in records.items():
        expected = "2010-10-10T00:00:00Z" if name in ("first_instant", "last_second") else None
        assert db_created(record.id) == utc(expected or created[name]), name
        assert indexed_created(record.id) == utc(expected or created[name]), name

    # empty range: every record is processed
    stats = RecordsHelper().update_record_created_dates()
    assert (stats["total_found"], stats["updated"], stats["skipped"]) == (4, 2, 2)


def test_drafts_and_deleted_records_are_left_alone(running_app, legacy_record, owner, search_clear):
    """Drafts (new or edits) keep their dates; deleted records are neither changed nor counted."""
    service = current_rdm_records_service
    draft = service.create(
        owner.identity,
        {
            "pids": {},
            "access": {"record": "public", "files": "public"},
            "files": {"enabled": False},
            "metadata": default_metadata("Unpublished"),
            "custom_fields": {"hclegacy:record_creation_date": "2001-01-01"},
        },
    )
    edited = legacy_record("2002-02-02")
    edit_draft = service.edit(owner.identity, edited["id"])
    deleted = legacy_record("2003-03-03")
    service.delete_record(
        system_identity, deleted["id"], {"removal_reason": {"id": "spam"}, "is_visible": True}
    )
    draft_dates = {d._record.id: draft_created(d._record.id) for d in (draft, edit_draft)}

    stats = RecordsHelper().update_record_created_dates()

    assert (stats["total_found"], stats["updated"], stats["skipped"]) == (1, 1, 0)
    assert db_created(edited.id) == utc("2002-02-02T00:00:00Z")
    assert {d: draft_created(d) for d in draft_dates} == draft_dates
    assert db_created(deleted.id) == utc(MIGRATED)
    assert indexed_created(deleted.id) == utc(MIGRATED)


def test_every_version_gets_its_own_date(running_app, legacy_record, new_version, search_clear):
    """Each version is a record with its own legacy date."""
    first = legacy_record("2011-01-01T10:00:00Z")
    second = new_version(first, "2012-02-02T10:00:00Z")
    third = new_version(second, "2013-03-03T10:00:00Z", created="2013-03-03T10:00:00Z")

    stats = RecordsHelper().update_record_created_dates()

    assert (stats["total_found"], stats["updated"], stats["skipped"]) == (3, 2, 1)
    for record, expected in [
        (first, "2011-01-01T10:00:00Z"),
        (second, "2012-02-02T10:00:00Z"),
        (third, "2013-03-03T10:00:00Z"),
    ]:
        assert db_created(record.id) == utc(expected)
        assert indexed_created(record.id) == utc(expected)
    assert first.parent.id == second.parent.id == third.parent.id


def test_find_records_needing_update(running_app, mixed_site, search_clear):
    """The plan's finder lists the valid, differing records with ISO UTC timestamps."""
    found = RecordsHelper().find_records_needing_created_date_update()

    by_id = {item["id"]: item for item in found}
    expected = {"exact", "date_only", "naive", "offset"}
    assert set(by_id) == {str(mixed_site[name].id) for name in expected}
    offset = by_id[str(mixed_site["offset"].id)]
    assert offset == {
        "id": str(mixed_site["offset"].id),
        "current_created": "2024-05-01T12:00:00+00:00",
        "new_created": "2018-06-30T21:00:00+00:00",
        "pid": mixed_site["offset"]["id"],
    }
    assert RecordsHelper().find_records_needing_created_date_update(end_date="2024-04-30") == []


def test_update_single_record(running_app, legacy_record, changes_sent, search_clear):
    """The single-record helper updates database and index, then reports no-ops."""
    record = legacy_record("2020-01-15T00:00:00Z")
    helper = RecordsHelper()

    assert helper.update_single_record_created_date(str(record.id), "2020-01-15T00:00:00Z")
    assert db_created(record.id) == utc("2020-01-15T00:00:00Z")
    assert indexed_created(record.id) == utc("2020-01-15T00:00:00Z")
    assert [c["new_created"] for c in changes_sent] == [utc("2020-01-15T00:00:00Z")]

    # the same instant written differently is no change; a PID works as well as a UUID
    assert not helper.update_single_record_created_date(record["id"], "2020-01-14T19:00:00-05:00")
    with pytest.raises(ValueError):
        helper.update_single_record_created_date(str(record.id), "03/08/2017")
    assert db_created(record.id) == utc("2020-01-15T00:00:00Z")


def _refused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_health_check_reports_real_cluster_and_unreachable_one(running_app, search_clear):
    """The health check answers from the cluster; a host that refuses connections is unhealthy."""
    assert RecordsHelper().check_opensearch_health()["is_healthy"] is True
    dead = search.OpenSearch(hosts=[{"host": "127.0.0.1", "port": _refused_port()}])
    health = RecordsHelper(health_client=dead).check_opensearch_health()
    assert health["is_healthy"] is False
    assert health["status"] == "unreachable"


def test_unhealthy_cluster_stops_the_run(running_app, legacy_record, search_clear):
    """After a batch, an unreachable cluster (still down after the pause) stops the run.

    The health check is pointed at a port where nothing listens: the check fails for
    real (connection refused) while the records' own index stays reachable.
    """
    records = [legacy_record(f"201{n}-01-01") for n in range(5)]
    dead = search.OpenSearch(hosts=[{"host": "127.0.0.1", "port": _refused_port()}])

    stats = RecordsHelper(health_client=dead).update_record_created_dates(batch_size=2)

    assert stats["stopped_early"] is True
    assert stats["stopped_at_record"] == 2
    assert stats["updated"] == 2
    repaired = [r for r in records if db_created(r.id) != utc(MIGRATED)]
    assert len(repaired) == 2
    for record in records:
        assert indexed_created(record.id) == db_created(record.id)


def test_health_is_checked_after_batches_that_wrote_nothing(
    running_app, legacy_record, search_clear
):
    """Dry runs and batches of errors read the cluster too: they stop on a dead cluster."""
    for value in ("not a date", "", "2017-02-30", "03/08/2017"):
        legacy_record(value)
    dead = search.OpenSearch(hosts=[{"host": "127.0.0.1", "port": _refused_port()}])

    helper = RecordsHelper(health_client=dead)
    for dry_run in (True, False):
        stats = helper.update_record_created_dates(batch_size=2, dry_run=dry_run)
        assert (stats["stopped_early"], stats["stopped_at_record"]) == (True, 2), dry_run
        assert (stats["updated"], len(stats["errors"])) == (0, 2), dry_run


def test_numeric_health_timeout_means_seconds(running_app, monkeypatch, search_clear):
    """``RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT = 5`` is read as five seconds, not an error."""
    monkeypatch.setitem(running_app.app.config, "RECORD_IMPORTER_HEALTH_CHECK_TIMEOUT", 5)
    health = RecordsHelper().check_opensearch_health()
    assert health["is_healthy"] is True, health


def test_a_failing_receiver_does_not_stop_the_run(running_app, legacy_record, search_clear):
    """Receivers are told after the commit; one that raises is logged, the run goes on."""

    def broken(sender, changes):
        raise RuntimeError("receiver bug")

    records = [legacy_record("2014-04-04"), legacy_record("2015-05-05")]
    record_created_dates_updated.connect(broken)
    try:
        stats = RecordsHelper().update_record_created_dates(batch_size=1)
    finally:
        record_created_dates_updated.disconnect(broken)
    assert (stats["updated"], stats["errors"]) == (2, [])
    assert db_created(records[1].id) == utc("2015-05-05T00:00:00Z")


def test_index_failure_after_commit_is_reported_and_repaired(
    running_app, legacy_record, changes_sent, monkeypatch, search_clear
):
    """The cluster fails between the database commit and the reindex (injected): the rows
    stay repaired, the items are reported, the listeners are still told, and the next run
    brings the index in line."""
    from invenio_record_importer_kcworks.services import writes

    record = legacy_record("2016-06-06T06:00:00Z")
    real = writes.reindex_created

    def cluster_gone(target, changes):
        raise ConnectionError("cluster gone")

    monkeypatch.setattr(writes, "reindex_created", cluster_gone)
    stats = RecordsHelper().update_record_created_dates()
    assert db_created(record.id) == utc("2016-06-06T06:00:00Z")
    assert indexed_created(record.id) == utc(MIGRATED)
    assert [e["error"] for e in stats["errors"]] == [
        "Saved in the database, but not reindexed: cluster gone"
    ]
    assert [str(c["record_id"]) for c in changes_sent] == [str(record.id)]

    monkeypatch.setattr(writes, "reindex_created", real)
    again = RecordsHelper().update_record_created_dates()
    assert again["errors"] == []
    assert indexed_created(record.id) == utc("2016-06-06T06:00:00Z")
