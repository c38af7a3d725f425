"""What every benchmark shares: its search engine, its Invenio app, request counting, memory.

Each benchmark uses its own PostgreSQL database and Redis db so it never touches the
test suite's or a demo's data.
"""

from __future__ import annotations

import ast
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

PG = os.environ.get("BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")


@contextmanager
def running_engine() -> Iterator[list[dict]]:
    """Hosts of ``INVENIO_SEARCH_HOSTS``, or of an osmem-server living for the block."""
    raw = os.environ.get("INVENIO_SEARCH_HOSTS")
    if raw:
        yield ast.literal_eval(raw)
        return
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False)
    host, port = server.url.rsplit("//", 1)[1].split(":")
    try:
        yield [{"host": host, "port": int(port)}]
    finally:
        server.close()


def make_app(hosts, database: str, redis_db: int, **config):
    """The Invenio API app on ``hosts``, database ``database`` and Redis db ``redis_db``.

    ``SQLALCHEMY_DATABASE_URI`` and ``BENCH_REDIS`` override the defaults.
    """
    from invenio_app.factory import create_api

    redis = os.environ.get("BENCH_REDIS", f"redis://127.0.0.1:6379/{redis_db}")
    settings = {
        "SEARCH_HOSTS": hosts,
        "SEARCH_CLIENT_CONFIG": {"timeout": 300},
        "SQLALCHEMY_DATABASE_URI": os.environ.get("SQLALCHEMY_DATABASE_URI", f"{PG}/{database}"),
        "CACHE_REDIS_URL": redis,
        "CELERY_BROKER_URL": redis,
        "BROKER_URL": redis,
        "CELERY_RESULT_BACKEND": redis,
        "CELERY_TASK_ALWAYS_EAGER": True,
        "AUDIT_LOGS_ENABLED": False,
        "JOBS_LOGGING": False,
    }
    return create_api(**{**settings, **config})


def ensure_database(app) -> None:
    """The app's database and its tables (created when missing; data is kept)."""
    from invenio_db import db
    from sqlalchemy_utils import create_database, database_exists

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    if not database_exists(uri):
        create_database(uri)
    db.create_all()


def count_requests(*clients) -> dict:
    """Count every request the clients send (bulk writes included) and, apart, their
    searches (``_search`` and scroll pages) and the seconds spent waiting for answers
    (``seconds``); returns the counter.

    Counted on each connection, where every request ends (the package's paged reads
    call a connection directly, not the transport). Pass Invenio's client and the
    package's (``invenio_stats_dashboard.core.engine.search_client``).
    """
    counter = {"requests": 0, "searches": 0, "seconds": 0.0}
    for client in clients:
        for connection in client.transport.connection_pool.connections:
            original = connection.perform_request

            def counted(method, url, *args, _original=original, **kwargs):
                counter["requests"] += 1
                if "/_search" in url:
                    counter["searches"] += 1
                began = time.monotonic()
                try:
                    return _original(method, url, *args, **kwargs)
                finally:
                    counter["seconds"] += time.monotonic() - began

            connection.perform_request = counted
    return counter


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_json_child(script: str, args: list[str], what: str) -> dict:
    """Run ``script`` with ``args`` in a child Python (its peak memory is its own) and
    return the JSON object it prints last; exit with its error output if it fails."""
    completed = subprocess.run(
        [sys.executable, script, *args],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )
    if completed.returncode:
        sys.exit(f"{what} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])
