"""The search indices this package owns, and their removal (``destroy-indices``).

Raw usage events (``events-stats-record-view-YYYY-MM``, ``events-stats-file-download-*``
without the ``-v2.0.0`` suffix), invenio-stats' per-record aggregations
(``stats-record-view-*``, ``stats-file-download-*``) and invenio-stats' own
``stats-bookmarks`` never match these patterns.
"""

from __future__ import annotations

from invenio_search import current_search_client

from .base import prefixed

DESTROY_PATTERNS = (
    "stats-community-events-*",
    "stats-community-records-delta-*",
    "stats-community-records-snapshot-*",
    "stats-community-usage-delta-*",
    "stats-community-usage-snapshot-*",
    "events-stats-record-view-*-v2.0.0",
    "events-stats-file-download-*-v2.0.0",
    "stats-bookmarks-community-*",
    "stats-bookmarks-reindexing-*",
)
"""Index patterns (without ``SEARCH_INDEX_PREFIX``) that ``destroy-indices`` deletes."""


def indices_to_destroy() -> list[str]:
    """The existing concrete indices matching :data:`DESTROY_PATTERNS`, sorted."""
    found: set[str] = set()
    for pattern in DESTROY_PATTERNS:
        response = current_search_client.indices.get(
            index=prefixed(pattern), expand_wildcards="all", ignore_unavailable=True
        )
        found.update(response)
    return sorted(found)


def destroy_indices(names: list[str], ignore_missing: bool = False) -> list[str]:
    """Delete the given concrete indices one by one; returns those deleted."""
    deleted = []
    for name in names:
        response = current_search_client.indices.delete(
            index=name, ignore=[404] if ignore_missing else []
        )
        if not (isinstance(response, dict) and response.get("status") == 404):
            deleted.append(name)
    return deleted
