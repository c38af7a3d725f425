"""The package's search client: the site's engine settings, the package's timeout.

Invenio's client waits its configured time (10 s by default) on every request the
package does not time itself. This client is built from the same ``SEARCH_HOSTS`` and
``SEARCH_CLIENT_CONFIG`` but waits ``COMMUNITY_STATS_SEARCH_TIMEOUT`` on every request,
so a hung engine stops any command within that time, whatever the call.
"""

from __future__ import annotations

from flask import current_app
from invenio_search.engine import search as search_engine
from werkzeug.local import LocalProxy

from .timeouts import search_timeout

_EXTENSION_KEY = "invenio-stats-dashboard-search-client"


def _client():
    """The client of the current app (built once per app)."""
    client = current_app.extensions.get(_EXTENSION_KEY)
    if client is None:
        config = dict(current_app.config.get("SEARCH_CLIENT_CONFIG") or {})
        config.setdefault("hosts", current_app.config.get("SEARCH_HOSTS"))
        config["timeout"] = search_timeout()
        client = search_engine.OpenSearch(**config)
        current_app.extensions[_EXTENSION_KEY] = client
    return client


search_client = LocalProxy(_client)
"""The search client of every request the package makes."""
