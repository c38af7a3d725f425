"""Fault injection for ``invenio community-stats usage-events migrate``: kill -9 at a batch's
write, then a re-run; a paused engine, then a re-run.

The command runs as a real ``invenio`` process whose search engine is a fault fault_proxy in
front of the session's engine. Afterwards every month is migrated, each enriched event
equals its raw event plus the fields the fixture's history gives it (nothing lost,
nothing twice), as after an uninterrupted run.
"""

import pytest
from invenio_search import current_search_client as search_client

from invenio_stats_dashboard.core.bookmarks import MigrationBookmarks
from invenio_stats_dashboard.core.indices import (
    ENRICHED_SUFFIX,
    MIGRATION_BOOKMARKS_INDEX,
    prefixed,
)
from invenio_stats_dashboard.core.locks import lock_is_held
from invenio_stats_dashboard.usage_events.service import MIGRATION_LOCK

from ...faults import (
    child_config,
    committed_user,
    error_lines,
    finished,
    instance_config,
    invenio,
    killed_at_a_write,
    paused_mid_run,
)
from .conftest import build_migration_site
from .test_migration import _check_month

RUN = ("community-stats", "usage-events", "migrate", "--batch-size", "7")
MONTHS = [(t, m) for t in ("view", "download") for m in ("2024-01", "2024-02")]
SEARCH_TIMEOUT = 4


@pytest.fixture(scope="module")
def committed_site(running_app, database, UserFixture):
    """The migration tests' site, committed (a child process sees only committed rows)."""
    from tests.conftest import reset_search_data

    owner = committed_user(running_app.app, database, UserFixture, "fault-owner@example.org")
    yield build_migration_site(owner)
    reset_search_data()


@pytest.fixture()
def site(committed_site):
    """The committed site with nothing migrated yet."""
    search_client.indices.delete(
        index=f"{prefixed('events-stats-*')}{ENRICHED_SUFFIX}", ignore=[404], expand_wildcards="all"
    )
    search_client.delete_by_query(
        index=prefixed(MIGRATION_BOOKMARKS_INDEX),
        body={"query": {"match_all": {}}},
        refresh=True,
        ignore=[404],
    )
    return committed_site


@pytest.fixture()
def instance(app, fault_proxy, tmp_path):
    return instance_config(
        tmp_path / "instance",
        child_config(app, fault_proxy, COMMUNITY_STATS_SEARCH_TIMEOUT=SEARCH_TIMEOUT),
    )


def assert_migrated(site) -> None:
    store = MigrationBookmarks()
    for event_type, month in MONTHS:
        total = _check_month(site, event_type, month)
        bookmark = store.get(event_type, month)
        assert bookmark["state"] == "migrated", (event_type, month, bookmark)
        assert bookmark["written"] == total, (event_type, month, bookmark)


@pytest.mark.parametrize("seed", [2])
def test_kill_9_at_a_batch_then_a_rerun_finishes_the_migration(site, instance, fault_proxy, seed):
    killed_at_a_write(fault_proxy, instance, RUN, seed, 12)
    assert lock_is_held(MIGRATION_LOCK)

    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert f"Took over the {MIGRATION_LOCK} lock" in out + err
    assert_migrated(site)


def test_a_paused_engine_fails_the_run_in_one_line_then_a_rerun_finishes(
    site, instance, fault_proxy
):
    code, out, err = paused_mid_run(fault_proxy, invenio(instance, *RUN), after_writes=3)
    assert code == 1, out + err
    errors = error_lines(err)
    assert len(errors) == 1 and f"did not answer within {SEARCH_TIMEOUT} s" in errors[0], err
    assert not lock_is_held(MIGRATION_LOCK)
    code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert_migrated(site)


def test_an_uninterrupted_migration_reads_nothing_it_has_not_refreshed(site, instance, fault_proxy):
    """Validation reads back what the run copied: a real engine shows it only once refreshed."""
    with fault_proxy.refreshes_checked() as violations:
        code, out, err = finished(invenio(instance, *RUN))
    assert code == 0, out + err
    assert violations == [], "\n".join(sorted(set(violations)))
    assert_migrated(site)
