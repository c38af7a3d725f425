"""A committed site and an instance config, so a real worker process sees both.

The ``db`` fixture's data lives in a transaction a child process cannot see; these
fixtures commit through the module-scoped ``database`` and clean up afterwards.
"""

import pytest
from invenio_users_resources.proxies import current_users_service

from invenio_stats_dashboard.demo import factories

SITE_RECORDS = 12


@pytest.fixture(scope="module")
def committed_site(app, database, search, location, vocabularies, UserFixture):
    """One community with ``SITE_RECORDS`` records, committed, and no history."""
    from tests.conftest import reset_search_data

    app.config["COMMUNITY_STATS_TRACK_MEMBERSHIP"] = False
    user = UserFixture(
        email="process-owner@example.org", password="password", active=True, confirmed=True
    )
    user.create(app, database)
    current_users_service.indexer.process_bulk_queue()
    community = factories.create_community(user.identity, "background")
    records = [
        factories.publish_record(user.identity, communities=[community])
        for _ in range(SITE_RECORDS)
    ]
    app.config["COMMUNITY_STATS_TRACK_MEMBERSHIP"] = True
    yield {"community": str(community.id), "records": [str(r.id) for r in records]}
    reset_search_data()


@pytest.fixture(scope="module")
def instance_path_for_child(app, tmp_path_factory, search_hosts):
    """An instance directory whose invenio.cfg points at this session's DB, Redis, engine."""
    path = tmp_path_factory.mktemp("instance")
    config = app.config
    settings = {
        "SECRET_KEY": "test",
        "SQLALCHEMY_DATABASE_URI": config["SQLALCHEMY_DATABASE_URI"],
        "SEARCH_HOSTS": search_hosts,
        "SEARCH_INDEX_PREFIX": config.get("SEARCH_INDEX_PREFIX", ""),
        "CACHE_REDIS_URL": config["CACHE_REDIS_URL"],
        "ACCOUNTS_SESSION_REDIS_URL": config["CACHE_REDIS_URL"],
        "CELERY_BROKER_URL": config["CACHE_REDIS_URL"],
        "BROKER_URL": config["CACHE_REDIS_URL"],
        "CELERY_RESULT_BACKEND": config["CACHE_REDIS_URL"],
        "AUDIT_LOGS_ENABLED": False,
        "JOBS_LOGGING": False,
        # slow enough that a cancel lands in the middle of the backfill
        "COMMUNITY_STATS_EVENTS_BATCH_SIZE": 1,
        "COMMUNITY_STATS_EVENTS_BATCH_DELAY": 0.5,
        "STATS_DASHBOARD_PROCESS_STATUS_INTERVAL": 0,
    }
    (path / "invenio.cfg").write_text(
        "".join(f"{key} = {value!r}\n" for key, value in settings.items())
    )
    return path


@pytest.fixture()
def child_env(monkeypatch, instance_path_for_child):
    """The environment a started worker inherits."""
    monkeypatch.setenv("INVENIO_INSTANCE_PATH", str(instance_path_for_child))
    return instance_path_for_child
