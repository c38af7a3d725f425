"""Fault injection for ``invenio importer update_created_dates``: kill -9 at a batch's
write, then a re-run; the search engine paused mid-run, then a re-run.

The command runs as a real ``invenio`` process whose search engine is a fault proxy in
front of the session's engine. After the re-run every row and search document holds
the date an uninterrupted run writes (the fixture's legacy dates), and the membership
history follows the repaired dates.
"""

import random
import signal

import pytest

from invenio_stats_dashboard.core.ids import GLOBAL
from invenio_stats_dashboard.core.indices import events_alias

from ..faults import FaultProxy, child_config, finished, instance_config, invenio, wait_until
from ..stats_dashboard.membership.conftest import history_of
from .conftest import (
    MIGRATED,
    community_db_created,
    community_indexed_created,
    db_created,
    indexed_created,
    utc,
)

LEGACY = [f"20{10 + n:02d}-0{1 + n % 9}-1{n % 10}T08:00:00Z" for n in range(9)]
RUN = ("importer", "update_created_dates", "--batch-size", "2")
SEARCH_TIMEOUT = 4


@pytest.fixture()
def proxy(search_hosts):
    proxy = FaultProxy(search_hosts[0])
    yield proxy
    proxy.close()


@pytest.fixture()
def site(running_app, community_factory, legacy_record, search_clear):
    """A community with six migrated records, three more outside it, one not migrated."""
    community = community_factory("migrated-group")
    records = [
        legacy_record(value, communities=[community] if n < 6 else [])
        for n, value in enumerate(LEGACY)
    ]
    records.append(legacy_record())
    return {"community": community, "records": records}


@pytest.fixture()
def instance(app, proxy, tmp_path):
    return instance_config(
        tmp_path / "instance",
        child_config(
            app,
            proxy,
            RECORD_IMPORTER_HEALTH_CHECK_PAUSE=0,
            RECORD_IMPORTER_BATCH_DELAY=0,
            COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT,
        ),
    )


def assert_repaired(site) -> None:
    """What an uninterrupted run leaves: rows, documents and history at the legacy dates."""
    for record, value in zip(site["records"], [*LEGACY, MIGRATED], strict=True):
        assert db_created(record.id) == utc(value), record.id
        assert indexed_created(record.id) == utc(value), record.id
        if value is not MIGRATED:
            added = [e for e in history_of(record.id) if e[:2] == (GLOBAL, "added")]
            assert [e[2][:10] for e in added] == [value[:10]], (record.id, added)
    oldest = min(LEGACY[:6])
    assert community_db_created(site["community"].id) == utc(oldest)
    assert community_indexed_created(site["community"].id) == utc(oldest)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kill_9_at_a_batch_then_a_rerun_repairs_everything(site, instance, proxy, seed):
    process = invenio(instance, *RUN)
    nth = random.Random(seed).randint(1, 6)
    proxy.kill_at_write(nth, process.pid)
    code, out, err = finished(process)
    assert code == -signal.SIGKILL, (out, err)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_repaired(site)
    code, out, err = finished(invenio(instance, *RUN))  # and nothing is left to do
    assert code == 0 and "Updated: 0" in out.replace("updated: 0", "Updated: 0"), out


def test_a_paused_engine_stops_the_run_in_one_line_then_a_rerun_repairs_everything(
    site, instance, proxy
):
    process = invenio(instance, *RUN)
    wait_until(lambda: proxy.writes >= 2 or process.poll() is not None, what="a first write")
    proxy.pause()
    try:
        code, out, err = finished(process, timeout=180)
    finally:
        proxy.resume()
    assert code == 1, out + err
    assert "Traceback" not in err
    errors = [line for line in (out + err).splitlines() if "Error" in line or "error" in line]
    assert errors, out + err
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_repaired(site)
    assert events_alias()
