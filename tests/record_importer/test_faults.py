"""Fault injection for ``invenio importer update_created_dates``: kill -9 at a batch's
write, then a re-run; the search engine paused mid-run, then a re-run.

The command runs as a real ``invenio`` process whose search engine is a fault fault_proxy in
front of the session's engine. After the re-run every row and search document holds
the date an uninterrupted run writes (the fixture's legacy dates), and the membership
history follows the repaired dates.
"""

import pytest
from invenio_communities.communities.records.api import Community
from invenio_rdm_records.records.api import RDMRecord

from invenio_stats_dashboard.core.ids import GLOBAL
from invenio_stats_dashboard.core.indices import refresh_record_classes
from invenio_stats_dashboard.demo import factories
from invenio_stats_dashboard.membership.service import update_record_created_dates

from ..faults import (
    child_config,
    committed_user,
    finished,
    instance_config,
    invenio,
    killed_at_a_write,
    paused_mid_run,
)
from ..stats_dashboard.membership.conftest import history_of
from .conftest import (
    MIGRATED,
    MISSING,
    community_db_created,
    community_indexed_created,
    db_created,
    indexed_created,
    legacy_fields,
    utc,
)

LEGACY = [f"20{10 + n:02d}-0{1 + n % 9}-1{n % 10}T08:00:00Z" for n in range(9)]
RUN = ("importer", "update_created_dates", "--batch-size", "2")
SEARCH_TIMEOUT = 4
GROUP = "1004"
"""The Commons group the community was, and the first six records' group."""


@pytest.fixture(scope="module")
def committed_site(running_app, database, location, UserFixture):
    """A community with six migrated records, three more outside it, one not migrated;
    committed (a child process sees only committed rows)."""
    from tests.conftest import reset_search_data

    owner = committed_user(running_app.app, database, UserFixture, "fault-owner@example.org")
    community = factories.create_community(
        owner.identity, "migrated-group", custom_fields={"kcr:commons_group_id": GROUP}
    )
    records = [
        factories.publish_record(
            owner.identity,
            created=MIGRATED,
            custom_fields=legacy_fields(value, groups=(GROUP,) if n < 6 else ()),
            metadata=factories.default_metadata("Migrated work"),
            communities=[community] if n < 6 else [],
        )
        for n, value in enumerate([*LEGACY, MISSING])
    ]
    yield {"community": community, "records": records, "created": community._record.created}
    reset_search_data()


@pytest.fixture()
def site(committed_site):
    """The committed site as migrated: every date at the migration's."""
    records = committed_site["records"]
    for record in records:
        factories.set_created(RDMRecord.get_record(record.id), MIGRATED)
    community = Community.get_record(committed_site["community"].id)
    factories.set_created(community, committed_site["created"])
    refresh_record_classes(RDMRecord, Community)
    update_record_created_dates(
        [{"record_id": str(r.id), "new_created": MIGRATED} for r in records]
    )
    return committed_site


@pytest.fixture()
def instance(app, fault_proxy, tmp_path):
    return instance_config(
        tmp_path / "instance",
        child_config(
            app,
            fault_proxy,
            RECORD_IMPORTER_HEALTH_CHECK_PAUSE=0,
            RECORD_IMPORTER_BATCH_DELAY=0,
            COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT,
        ),
    )


def assert_repaired(site) -> None:
    """What an uninterrupted run leaves: rows, documents and history at the legacy dates."""
    stale = []
    for n, (record, value) in enumerate(zip(site["records"], [*LEGACY, MIGRATED], strict=True)):
        assert db_created(record.id) == utc(value), record.id
        assert indexed_created(record.id) == utc(value), record.id
        added = [e[2][:10] for e in history_of(record.id) if e[:2] == (GLOBAL, "added")]
        if added != [value[:10]]:
            stale.append((n, added, value))
    assert stale == []
    oldest = utc(min(LEGACY[:6])[:10] + "T00:00:00Z")  # the start of its UTC day
    assert community_db_created(site["community"].id) == oldest
    assert community_indexed_created(site["community"].id) == oldest


@pytest.mark.parametrize("seed", [2])
def test_kill_9_at_a_batch_then_a_rerun_repairs_everything(site, instance, fault_proxy, seed):
    killed_at_a_write(fault_proxy, instance, RUN, seed, 6)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_repaired(site)
    code, out, err = finished(invenio(instance, *RUN))  # and nothing is left to do
    assert code == 0 and "Updated: 0" in out.replace("updated: 0", "Updated: 0"), out


def test_a_paused_engine_stops_the_run_in_one_line_then_a_rerun_repairs_everything(
    site, instance, fault_proxy
):
    code, out, err = paused_mid_run(fault_proxy, invenio(instance, *RUN))
    assert code == 1, out + err
    assert "Traceback" not in err
    # the importer's health check stops the run, or a request times out (one line)
    lines = (out + err).splitlines()
    assert any(
        line.startswith("ERROR: OpenSearch still unhealthy after pause")
        or line.startswith("Error: the search engine did not answer within")
        for line in lines
    ), out + err
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_repaired(site)


def test_a_row_locked_by_another_transaction_fails_that_record_then_a_rerun_repairs_it(
    app, site, instance
):
    """Another process keeps one record's row locked: the command does not hang on it."""
    import sqlalchemy as sa

    locked = site["records"][0]
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as connection:
            transaction = connection.begin()
            connection.execute(
                sa.text("SELECT id FROM rdm_records_metadata WHERE id = :id FOR UPDATE"),
                {"id": str(locked.id)},
            )
            run = invenio(instance, *RUN, COMMUNITY_STATS_DATABASE_TIMEOUT="2")
            code, out, err = finished(run)
            transaction.rollback()
    finally:
        engine.dispose()
    assert code == 3, out + err
    assert "Traceback" not in err
    assert locked["id"] in out + err and "statement timeout" in out + err, out + err
    assert db_created(site["records"][1].id) == utc(LEGACY[1])  # the others are repaired

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_repaired(site)
