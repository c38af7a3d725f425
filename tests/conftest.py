"""Shared fixtures: a real InvenioRDM 14 on PostgreSQL, Redis and a search engine.

Search: an osmem-server (embedded OpenSearch-compatible engine) is started once per
session on a free port, unless ``INVENIO_SEARCH_HOSTS`` or ``SEARCH_HOSTS`` names an
engine to use instead (e.g. a real OpenSearch). PostgreSQL and Redis come from
``SQLALCHEMY_DATABASE_URI`` and ``CACHE_REDIS_URL`` (``run-tests.sh`` sets both).

Scopes: app, database, search and vocabularies are module scoped (each test module gets
fresh tables and indices); users and data are function scoped unless a module builds a
site once for all its tests.
"""

import ast
import os
import socket
from collections import namedtuple

import pytest

os.environ.setdefault(
    "SQLALCHEMY_DATABASE_URI", "postgresql+psycopg2://postgres@127.0.0.1:5432/invenio_stats_test"
)
os.environ.setdefault("CACHE_REDIS_URL", "redis://127.0.0.1:6379/2")


def _per_worker_services() -> None:
    """Give each pytest-xdist worker after the first its own database and Redis dbs.

    Worker ``gwN`` (N >= 1) uses ``<database>_gwN`` and Redis dbs 10 * N above the
    configured ones (modulo 16): ``run-tests.sh`` runs two workers, so the second one uses
    ``invenio_stats_test_gw1`` and Redis dbs 12 and 13. Children (``invenio`` processes,
    Celery workers) inherit the environment, hence the same services.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    number = int(worker.removeprefix("gw") or 0)
    if number == 0 or os.environ.get("_STATS_TEST_WORKER") == worker:
        return
    os.environ["_STATS_TEST_WORKER"] = worker
    os.environ["SQLALCHEMY_DATABASE_URI"] += f"_{worker}"
    base, db = os.environ["CACHE_REDIS_URL"].rsplit("/", 1)
    cache_db = (int(db) + 10 * number) % 16
    os.environ["CACHE_REDIS_URL"] = f"{base}/{cache_db}"
    os.environ["STATS_CACHE_REDIS_URL"] = f"{base}/{(cache_db + 1) % 16}"


_per_worker_services()
os.environ.setdefault(
    "STATS_CACHE_REDIS_URL", os.environ["CACHE_REDIS_URL"].rsplit("/", 1)[0] + "/3"
)

from invenio_access.permissions import system_identity  # noqa: E402
from invenio_app.factory import create_api as _create_api  # noqa: E402

from invenio_record_importer_kcworks.custom_fields import (  # noqa: E402
    kc_custom_fields_config,
    put_custom_field_mappings,
)
from invenio_stats_dashboard.core.indices import refresh_record_classes  # noqa: E402
from invenio_stats_dashboard.demo import factories  # noqa: E402
from invenio_stats_dashboard.demo.config import embedded_engine_config  # noqa: E402
from invenio_stats_dashboard.demo.vocabularies import load_minimal_vocabularies  # noqa: E402

TEST_INDEX_PREFIX = os.environ.get("TEST_SEARCH_INDEX_PREFIX", "site1-")
"""The ``SEARCH_INDEX_PREFIX`` of the test sites."""


FIRST_MODULES = (
    "tests/stats_dashboard/aggregations/test_faults.py",
    "tests/test_demo_script.py",
    "tests/record_importer/test_faults.py",
    "tests/stats_dashboard/usage_events/test_faults.py",
    "tests/stats_dashboard/membership/test_faults.py",
    "tests/record_importer/test_cli.py",
)
"""The longest modules (minutes each): run first, so that two workers finish together."""


def pytest_collection_modifyitems(config, items):
    """Put the longest modules first (``run-tests.sh`` keeps this order across workers)."""
    rank = {path: number for number, path in enumerate(FIRST_MODULES)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


def _hosts_from_env() -> list | None:
    """Search hosts from the environment, as Invenio's config loader reads them."""
    raw = os.environ.get("INVENIO_SEARCH_HOSTS") or os.environ.get("SEARCH_HOSTS")
    if not raw:
        return None
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        value = [h.strip() for h in raw.split(",") if h.strip()]
    return value if isinstance(value, list) else [value]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def fresh_test_services():
    """Start from an empty test database and Redis db, whatever a killed run left behind.

    pytest-invenio drops its tables at the end of each module, but a run that was killed
    (or a background worker it spawned) leaves tables and rows that break the next run's
    fixtures (e.g. a duplicate files location), and Redis keys such as the aggregation
    lock. Connections still open on the database are closed first, so nothing holds a
    lock on what is dropped.
    """
    import redis
    import sqlalchemy
    from sqlalchemy_utils.functions import database_exists

    uri = os.environ["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql") and database_exists(uri):
        engine = sqlalchemy.create_engine(uri, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(
                sqlalchemy.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            conn.execute(sqlalchemy.text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(sqlalchemy.text("CREATE SCHEMA public"))
        engine.dispose()
    for url in (os.environ["CACHE_REDIS_URL"], os.environ["STATS_CACHE_REDIS_URL"]):
        redis.Redis.from_url(url).flushdb()
    yield


@pytest.fixture(scope="module", autouse=True)
def fresh_redis_per_module():
    """Each module starts with empty Redis dbs.

    Every module builds a new database, where user ids start again at 1; caches keyed by
    user id (community roles, access grants such as a superuser's) would otherwise carry
    one module's permissions over to another module's user with the same id.
    """
    import redis

    cache = redis.Redis.from_url(os.environ["CACHE_REDIS_URL"])
    # the same db is the test broker: its queue bindings (``_kombu.*``) stay declared
    stale = [key for key in cache.scan_iter(count=1000) if not key.startswith(b"_kombu.")]
    for start in range(0, len(stale), 500):
        cache.delete(*stale[start : start + 500])
    redis.Redis.from_url(os.environ["STATS_CACHE_REDIS_URL"]).flushdb()
    yield


@pytest.fixture(scope="session")
def search_engine():
    """Search hosts for the whole session: from the environment, or a fresh osmem-server."""
    hosts = _hosts_from_env()
    if hosts is not None:
        yield hosts
        return
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False)
    host, port = server.url.rsplit("//", 1)[1].split(":")
    yield [{"host": host, "port": int(port)}]
    server.close()


@pytest.fixture(scope="module")
def fault_proxy(search_engine):
    """A :class:`tests.faults.FaultProxy` in front of the session's engine (fault suite)."""
    from .faults import FaultProxy

    proxy = FaultProxy(search_engine[0])
    yield proxy
    proxy.close()


@pytest.fixture(scope="module")
def search_hosts(search_engine):
    """Override pytest-invenio: point Invenio at the session's engine."""
    return search_engine


@pytest.fixture(scope="module")
def celery_config():
    """Override pytest-invenio's (empty) Celery config fixture."""
    return {}


@pytest.fixture(scope="module")
def app_config(app_config, cache_uri):
    """Test configuration: real services, eager Celery, KC custom fields, osmem workarounds."""
    app_config.update(
        # like a production site sharing its cluster: every index name carries a prefix
        # (a module sets "" to run without one)
        SEARCH_INDEX_PREFIX=TEST_INDEX_PREFIX,
        # the API's response cache in its own test Redis db; the warm-up after every
        # aggregation run only where a test asks for it
        COMMUNITY_STATS_CACHE_REDIS_URL=os.environ["STATS_CACHE_REDIS_URL"],
        COMMUNITY_STATS_CACHE_WARM_AFTER_AGGREGATION=False,
        JSONSCHEMAS_HOST="not-used",
        RECORDS_REFRESOLVER_CLS="invenio_records.resolver.InvenioRefResolver",
        RECORDS_REFRESOLVER_STORE="invenio_jsonschemas.proxies.current_refresolver_store",
        DATACITE_ENABLED=False,
        RATELIMIT_ENABLED=False,
        MAIL_DEFAULT_SENDER="test@example.org",
        ACCOUNTS_DEFAULT_USERS_VERIFIED=True,
        RDM_USER_MODERATION_ENABLED=False,
        THEME_FRONTPAGE=False,
        # osmem has no data streams
        AUDIT_LOGS_ENABLED=False,
        JOBS_LOGGING=False,
        # Redis for cache, sessions, locks, Celery results and the stats event queues
        BROKER_URL=cache_uri,
        CELERY_BROKER_URL=cache_uri,
        QUEUES_BROKER_URL=cache_uri,
        CACHE_REDIS_URL=cache_uri,
        ACCOUNTS_SESSION_REDIS_URL=cache_uri,
        COMMUNITIES_IDENTITIES_CACHE_REDIS_URL=cache_uri,
        IIIF_CACHE_REDIS_URL=cache_uri,
        RATELIMIT_STORAGE_URI=cache_uri,
        CELERY_RESULT_BACKEND=cache_uri,
        CELERY_TASK_ALWAYS_EAGER=True,
        CELERY_TASK_EAGER_PROPAGATES=True,
        SITE_UI_URL="https://127.0.0.1:5000",
        SITE_API_URL="https://127.0.0.1:5000/api",
        # the importer's pauses would only slow the tests down
        RECORD_IMPORTER_HEALTH_CHECK_PAUSE=0,
        RECORD_IMPORTER_BATCH_DELAY=0,
        # Knowledge Commons custom fields, as the real site registers them
        **kc_custom_fields_config(),
        # the embedded engine rejects one of InvenioRDM's facets (harmless elsewhere)
        **embedded_engine_config(),
    )
    return app_config


@pytest.fixture(scope="module")
def create_app(instance_path):
    """The REST API application (services, CLI, Celery tasks)."""
    return _create_api


@pytest.fixture(scope="module")
def search(search):
    """Indices plus every template (as ``invenio index init``) and KC custom field mappings."""
    from invenio_search import current_search

    for put in (
        current_search.put_templates,
        current_search.put_component_templates,
        current_search.put_index_templates,
    ):
        list(put())
    put_custom_field_mappings()
    yield search
    # stats indices are made on demand, outside invenio-search's registry: drop them
    # here so no module sees another module's events or bookmarks
    _delete_stats_indices()


def _delete_stats_indices() -> None:
    from flask import current_app
    from invenio_search import current_search_client

    prefix = current_app.config.get("SEARCH_INDEX_PREFIX", "")
    current_search_client.indices.delete(
        index=f"{prefix}events-stats-*,{prefix}stats-*", ignore=[404], expand_wildcards="all"
    )


def _record_indices() -> list[str]:
    from invenio_communities.communities.records.api import Community
    from invenio_rdm_records.records.api import RDMDraft, RDMRecord

    return [RDMRecord.index._name, RDMDraft.index._name, Community.index._name]


@pytest.fixture()
def search_clear(search):
    """Reset records, drafts, communities and all stats indices after a test.

    pytest-invenio's version drops every index, which would wipe the module-scoped
    vocabularies; this one keeps them (as invenio-rdm-records' tests do).
    """
    yield search
    reset_search_data()


def reset_search_data() -> None:
    """Drop record/community documents and every stats index; keep vocabularies."""
    from invenio_search import current_search, current_search_client

    list(current_search.delete(index_list=_record_indices(), ignore=[404]))
    _delete_stats_indices()
    list(current_search.create(ignore_existing=True, index_list=_record_indices()))
    put_custom_field_mappings()
    current_search_client.indices.refresh()


# --------------------------------------------------------------------------- vocabularies
@pytest.fixture(scope="module")
def vocabularies(app):
    """Resource types, languages, licenses, subjects, funders, affiliations, community types."""
    load_minimal_vocabularies()


RunningApp = namedtuple("RunningApp", ["app", "location", "vocabularies"])


@pytest.fixture(scope="module")
def running_app(app, location, vocabularies):
    """An app with a files location and the vocabularies records need."""
    return RunningApp(app, location, vocabularies)


# --------------------------------------------------------------------------- users
@pytest.fixture()
def make_user(UserFixture, app, db):
    """Factory: create (and index) a user; returns pytest-invenio's UserFixture."""
    from invenio_users_resources.proxies import current_users_service

    def _make(email: str = "owner@example.org"):
        user = UserFixture(email=email, password="password", active=True, confirmed=True)
        user.create(app, db)
        current_users_service.indexer.process_bulk_queue()
        refresh_record_classes(current_users_service.record_cls)
        return user

    return _make


@pytest.fixture()
def owner(make_user):
    return make_user("owner@example.org")


@pytest.fixture()
def system():
    return system_identity


# --------------------------------------------------------------------------- data factories
@pytest.fixture()
def community_factory(running_app, owner, db):
    """``community_factory(slug, title=None, custom_fields=None, created=None)``."""

    def _create(slug: str, **kwargs):
        return factories.create_community(owner.identity, slug, **kwargs)

    return _create


@pytest.fixture()
def record_factory(running_app, owner, db):
    """``record_factory(communities=[...], files={key: size}, created=..., custom_fields=...,
    metadata=..., identity=...)`` publishes a record and returns the ``RDMRecord``.
    """

    def _publish(identity=None, **kwargs):
        return factories.publish_record(identity or owner.identity, **kwargs)

    return _publish


@pytest.fixture()
def usage_events(running_app):
    """``usage_events([UsageEvent(...)])`` emits and indexes invenio-stats events."""

    def _emit(events):
        factories.emit_usage_events(events)
        return factories.process_usage_events()

    return _emit
