"""How long the package waits on the search engine and on the database.

``COMMUNITY_STATS_SEARCH_TIMEOUT`` (seconds, default 120) bounds every search, scroll
and bulk request of the package: more than the client's 10 s default, since a loaded
cluster can need it, and never for ever, since a hung cluster would hold a run's lock.
``COMMUNITY_STATS_DATABASE_TIMEOUT`` (seconds, default 120) bounds every SQL statement
of the commands of both extensions (PostgreSQL's ``statement_timeout``, set for each
transaction while a command runs): a row another process keeps locked, or a table a
migration holds, ends the wait with a clear error instead of hanging the command.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, has_app_context
from sqlalchemy import event, text

DEFAULT_SEARCH_TIMEOUT = 120.0
DEFAULT_DATABASE_TIMEOUT = 120.0


def database_timeout() -> float:
    """Seconds one SQL statement of a command may take (0: no limit)."""
    if has_app_context():
        value = current_app.config.get("COMMUNITY_STATS_DATABASE_TIMEOUT")
        if value is not None:
            return float(value)
    return DEFAULT_DATABASE_TIMEOUT


@contextmanager
def bounded_database_statements() -> Iterator[None]:
    """While the block runs, every transaction of this process caps its statements.

    ``SET LOCAL statement_timeout`` at each transaction's start (PostgreSQL only; other
    databases and a timeout of 0 are left alone). For commands, not the web app: the
    listener lives only as long as the block.
    """
    from invenio_db import db

    milliseconds = int(database_timeout() * 1000)
    engine = db.engine
    if milliseconds <= 0 or engine.dialect.name != "postgresql":
        yield
        return

    def on_begin(connection) -> None:
        connection.execute(text(f"SET LOCAL statement_timeout = {milliseconds}"))

    event.listen(engine, "begin", on_begin)
    try:
        yield
    finally:
        event.remove(engine, "begin", on_begin)


def search_timeout() -> float:
    """Seconds one request to the search engine may take."""
    if has_app_context():
        value = current_app.config.get("COMMUNITY_STATS_SEARCH_TIMEOUT")
        if value:
            return float(value)
    return DEFAULT_SEARCH_TIMEOUT
