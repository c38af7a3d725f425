"""Fault injection for ``invenio community-stats community-events generate``: kill -9 at a
batch's write, then a re-run; a paused engine; two runs at once.

The command runs as a real ``invenio`` process whose search engine is a fault fault_proxy in
front of the session's engine; afterwards the history equals the fixture's expectation
(the history an uninterrupted run writes), with no event twice.
"""

import pytest

from invenio_stats_dashboard.core.locks import lock_is_held
from invenio_stats_dashboard.membership.service import BACKFILL_LOCK

from ...faults import (
    child_config,
    committed_user,
    error_lines,
    finished,
    instance_config,
    invenio,
    killed_at_a_write,
    paused_mid_run,
    started_together,
)
from .conftest import build_site, delete_history, event_docs
from .test_backfill import expected_history, stored

RUN = ("community-stats", "community-events", "generate")
SEARCH_TIMEOUT = 4


@pytest.fixture(scope="module")
def committed_site(running_app, database, UserFixture):
    """The backfill tests' site, committed (a child process sees only committed rows)."""
    from tests.conftest import reset_search_data

    users = [
        committed_user(running_app.app, database, UserFixture, email)
        for email in ("fault-owner@example.org", "fault-depositor@example.org")
    ]
    yield build_site(running_app.app, *users)
    reset_search_data()


@pytest.fixture()
def site(committed_site):
    """The committed site with no history yet."""
    delete_history()
    return committed_site


@pytest.fixture()
def instance(app, fault_proxy, tmp_path):
    """One record per batch, so a kill can fall between batches."""
    return instance_config(
        tmp_path / "instance",
        child_config(
            app,
            fault_proxy,
            COMMUNITY_STATS_EVENTS_BATCH_SIZE=1,
            COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT,
        ),
    )


def assert_complete(site) -> None:
    assert stored(site) == expected_history(site)
    ids = [d["_id"] for key in ("r1", "r2", "r3", "r4") for d in event_docs(site[key].id)]
    assert len(ids) == len(set(ids)) == 13


@pytest.mark.parametrize("seed", [2])
def test_kill_9_at_a_batch_then_a_rerun_writes_the_rest(site, instance, fault_proxy, seed):
    killed_at_a_write(fault_proxy, instance, RUN, seed, 3)
    assert lock_is_held(BACKFILL_LOCK)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert f"Took over the {BACKFILL_LOCK} lock" in err
    assert_complete(site)


def test_a_paused_engine_fails_the_run_in_one_line_then_a_rerun_completes(
    site, instance, fault_proxy
):
    code, out, err = paused_mid_run(fault_proxy, invenio(instance, *RUN), after_writes=1)
    assert code == 1, err
    errors = error_lines(err)
    assert len(errors) == 1 and f"did not answer within {SEARCH_TIMEOUT} s" in errors[0], err
    assert not lock_is_held(BACKFILL_LOCK)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, err
    assert_complete(site)


def test_two_runs_at_once_one_is_refused_with_its_holder(site, instance, fault_proxy):
    results = started_together(fault_proxy, instance, *RUN)
    assert results[0][0] == 0, results[0][2]
    assert results[1][0] == 1, results[1][2]
    assert f"holds the {BACKFILL_LOCK} lock" in results[1][2]
    assert_complete(site)


def test_a_run_and_a_rerun_read_nothing_they_have_not_refreshed(site, instance, fault_proxy):
    """A re-run reads the history the first run wrote: a real engine shows it once refreshed."""
    with fault_proxy.refreshes_checked() as violations:
        first = finished(invenio(instance, *RUN))
        again = finished(invenio(instance, *RUN))
    assert first[0] == 0 and again[0] == 0, (first, again)
    assert violations == [], "\n".join(sorted(set(violations)))
    assert_complete(site)
