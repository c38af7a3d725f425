"""Bounded retries with backoff for the engine's transient failures, for readers and writers.

A lost connection (the engine restarting, a reset) and the answers 429, 502, 503 and 504
pass within seconds on a real cluster, so a run retries them instead of failing: up to
``COMMUNITY_STATS_SEARCH_RETRIES`` times (default 5), waiting 1, 2, 4, 8, 16 s (at most
``COMMUNITY_STATS_SEARCH_RETRY_MAX_WAIT``). A timeout is not retried: a hung engine
would make every wait several times longer (``core.timeouts`` bounds it once).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flask import current_app, has_app_context
from opensearchpy.exceptions import ConnectionError as EngineConnectionError
from opensearchpy.exceptions import ConnectionTimeout, TransportError

TRANSIENT_STATUSES = (429, 502, 503, 504)
"""Answers that a later try may get past."""

DEFAULT_RETRIES = 5
DEFAULT_MAX_WAIT = 16.0


def is_transient(error: BaseException) -> bool:
    """True for a lost connection or a transient answer (never for a timeout)."""
    if isinstance(error, ConnectionTimeout):
        return False
    if isinstance(error, EngineConnectionError):
        return True
    return isinstance(error, TransportError) and error.status_code in TRANSIENT_STATUSES


def retry_waits() -> list[float]:
    """Seconds to wait before each retry: 1, 2, 4, ... capped, as many as configured."""
    retries, cap = DEFAULT_RETRIES, DEFAULT_MAX_WAIT
    if has_app_context():
        retries = int(current_app.config.get("COMMUNITY_STATS_SEARCH_RETRIES", retries))
        cap = float(current_app.config.get("COMMUNITY_STATS_SEARCH_RETRY_MAX_WAIT", cap))
    return [min(2.0**n, cap) for n in range(max(retries, 0))]


def with_retries[T](call: Callable[[], T], sleep: Callable[[float], None] = time.sleep) -> T:
    """``call()``, tried again after each transient failure while retries are left."""
    for wait in retry_waits():
        try:
            return call()
        except Exception as error:
            if not is_transient(error):
                raise
        sleep(wait)
    return call()
