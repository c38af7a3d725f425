"""How long the package waits on the search engine: one setting for reads and writes.

``COMMUNITY_STATS_SEARCH_TIMEOUT`` (seconds, default 120) bounds every search, scroll
and bulk request of the package: more than the client's 10 s default, since a loaded
cluster can need it, and never for ever, since a hung cluster would hold a run's lock.
"""

from __future__ import annotations

from flask import current_app, has_app_context

DEFAULT_SEARCH_TIMEOUT = 120.0


def search_timeout() -> float:
    """Seconds one request to the search engine may take."""
    if has_app_context():
        value = current_app.config.get("COMMUNITY_STATS_SEARCH_TIMEOUT")
        if value:
            return float(value)
    return DEFAULT_SEARCH_TIMEOUT
