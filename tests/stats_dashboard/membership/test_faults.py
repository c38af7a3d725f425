"""Fault injection for ``invenio community-stats community-events generate``: kill -9 at a
batch's write, then a re-run; a paused engine; two runs at once.

The command runs as a real ``invenio`` process whose search engine is a fault proxy in
front of the session's engine; afterwards the history equals the fixture's expectation
(the history an uninterrupted run writes), with no event twice.
"""

import random
import signal
import time

import pytest

from invenio_stats_dashboard.core.locks import lock_is_held
from invenio_stats_dashboard.membership.service import BACKFILL_LOCK

from ...faults import FaultProxy, child_config, finished, instance_config, invenio, wait_until
from .conftest import build_site, delete_history, event_docs
from .test_backfill import expected_history, stored

RUN = ("community-stats", "community-events", "generate")
SEARCH_TIMEOUT = 4


@pytest.fixture(scope="module")
def committed_site(running_app, database, UserFixture):
    """The backfill tests' site, committed (a child process sees only committed rows)."""
    from invenio_users_resources.proxies import current_users_service

    from tests.conftest import reset_search_data

    users = []
    for email in ("fault-owner@example.org", "fault-depositor@example.org"):
        user = UserFixture(email=email, password="password", active=True, confirmed=True)
        user.create(running_app.app, database)
        users.append(user)
    current_users_service.indexer.process_bulk_queue()
    yield build_site(running_app.app, *users)
    reset_search_data()


@pytest.fixture()
def site(committed_site):
    """The committed site with no history yet."""
    delete_history()
    return committed_site


@pytest.fixture()
def proxy(search_hosts):
    proxy = FaultProxy(search_hosts[0])
    yield proxy
    proxy.close()


@pytest.fixture()
def instance(app, proxy, tmp_path):
    """One record per batch, so a kill can fall between batches."""
    return instance_config(
        tmp_path / "instance",
        child_config(
            app,
            proxy,
            COMMUNITY_STATS_EVENTS_BATCH_SIZE=1,
            COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT,
        ),
    )


def assert_complete(site) -> None:
    assert stored(site) == expected_history(site)
    ids = [d["_id"] for key in ("r1", "r2", "r3", "r4") for d in event_docs(site[key].id)]
    assert len(ids) == len(set(ids)) == 13


@pytest.mark.parametrize("seed", [1, 2])
def test_kill_9_at_a_batch_then_a_rerun_writes_the_rest(site, instance, proxy, seed):
    process = invenio(instance, *RUN)
    proxy.kill_at_write(random.Random(seed).randint(1, 3), process.pid)
    code, out, err = finished(process)
    assert code == -signal.SIGKILL, (out, err)
    assert lock_is_held(BACKFILL_LOCK)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert f"Took over the {BACKFILL_LOCK} lock" in err
    assert_complete(site)


def test_a_paused_engine_fails_the_run_in_one_line_then_a_rerun_completes(site, instance, proxy):
    process = invenio(instance, *RUN)
    wait_until(lambda: proxy.writes >= 1 or process.poll() is not None, what="a first write")
    proxy.pause()
    try:
        code, out, err = finished(process, timeout=120)
    finally:
        proxy.resume()
    assert code == 1, err
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"did not answer within {SEARCH_TIMEOUT} s" in errors[0], err
    assert not lock_is_held(BACKFILL_LOCK)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_complete(site)


def test_two_runs_at_once_one_is_refused_with_its_holder(site, instance, proxy):
    proxy.pause()
    try:
        first, second = invenio(instance, *RUN), invenio(instance, *RUN)
        time.sleep(8)
    finally:
        proxy.resume()
    results = sorted([finished(first), finished(second)], key=lambda r: r[0])
    assert results[0][0] == 0, results[0][2]
    assert results[1][0] == 1, results[1][2]
    assert f"holds the {BACKFILL_LOCK} lock" in results[1][2]
    assert_complete(site)
