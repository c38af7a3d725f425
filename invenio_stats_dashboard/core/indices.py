"""Every index and alias name the package reads or writes, prefixed the one Invenio way.

Names are written here without ``SEARCH_INDEX_PREFIX``; every function returns the
prefixed name (``invenio_search.utils.prefix_index``), so a site that shares a cluster
under a prefix reads and writes only its own indices. Invenio's own aliases (published
records, communities) are taken from their record classes and prefixed the same way,
as Invenio's indexers do. No other module builds an index name.
"""

from __future__ import annotations

import re
from datetime import date

from invenio_search.utils import prefix_index

# --------------------------------------------------------------------------- this package
EVENTS = "stats-community-events"
"""Membership history: yearly indices ``<name>-YYYY`` (year of ``event_date``)."""

AGGREGATION_BOOKMARKS = "stats-bookmarks-community"
AGGREGATION_BOOKMARKS_INDEX = "stats-bookmarks-community-v1"
MIGRATION_BOOKMARKS = "stats-bookmarks-reindexing"
MIGRATION_BOOKMARKS_INDEX = "stats-bookmarks-reindexing-v1.0.0"

COUNTER_ITEMS = "stats-counter-item-monthly"
"""COUNTER's monthly per-item usage: yearly indices ``<name>-YYYY`` (year of the month)."""

USAGE_STATE = "stats-community-usage-state"
USAGE_STATE_INDEX = "stats-community-usage-state-v1"
"""The usage aggregation's cumulative state at each community's snapshot bookmark."""

SINGLE_INDEX_ALIASES = {
    AGGREGATION_BOOKMARKS: AGGREGATION_BOOKMARKS_INDEX,
    MIGRATION_BOOKMARKS: MIGRATION_BOOKMARKS_INDEX,
    USAGE_STATE: USAGE_STATE_INDEX,
}
"""Aliases over one fixed concrete index (every other alias of ours is over yearly ones)."""

EVENT_TYPES = {"view": "record-view", "download": "file-download"}
"""CLI names of the usage event types and their invenio-stats names."""

ENRICHED_SUFFIX = "-v2.0.0"
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")

DESTROY_PATTERNS = (
    f"{EVENTS}-*",
    "stats-community-records-delta-*",
    "stats-community-records-snapshot-*",
    "stats-community-usage-delta-*",
    "stats-community-usage-snapshot-*",
    f"{USAGE_STATE}-*",
    f"{COUNTER_ITEMS}-*",
    f"events-stats-record-view-*{ENRICHED_SUFFIX}",
    f"events-stats-file-download-*{ENRICHED_SUFFIX}",
    f"{AGGREGATION_BOOKMARKS}-*",
    f"{MIGRATION_BOOKMARKS}-*",
)
"""What ``destroy-indices`` deletes. Raw usage events (no ``-v2.0.0`` suffix),
invenio-stats' per-record aggregations and its own ``stats-bookmarks`` never match."""


def prefixed(name: str) -> str:
    """An index, alias or pattern name with the site's ``SEARCH_INDEX_PREFIX``."""
    return prefix_index(name)


def unprefixed(name: str) -> str:
    """A concrete name without the site's prefix (for messages and parsing)."""
    prefix = prefixed("")
    return name[len(prefix) :] if prefix and name.startswith(prefix) else name


def yearly_index(alias_name: str, day: date | int) -> str:
    """The prefixed yearly index ``<name>-YYYY`` holding a day (or a year)."""
    year = day if isinstance(day, int) else day.year
    return prefixed(f"{alias_name}-{year:04d}")


def counter_items_alias() -> str:
    """COUNTER's monthly per-item usage alias (over every yearly index)."""
    return prefixed(COUNTER_ITEMS)


def usage_state_alias() -> str:
    """The usage aggregation's state alias (over one fixed index)."""
    return prefixed(USAGE_STATE)


def events_alias() -> str:
    """The membership history alias (over every yearly index)."""
    return prefixed(EVENTS)


def events_index(day: date | int) -> str:
    """The yearly membership history index holding a day's events."""
    return yearly_index(EVENTS, day)


def destroy_patterns() -> list[str]:
    """:data:`DESTROY_PATTERNS`, prefixed."""
    return [prefixed(pattern) for pattern in DESTROY_PATTERNS]


# --------------------------------------------------------------------------- Invenio's
def record_class_alias(record_cls) -> str:
    """The prefixed search alias of an Invenio record class (records, users, vocabularies)."""
    return prefixed(record_cls.index.search_alias)


def refresh_record_classes(*record_classes) -> None:
    """Make what was indexed for these record classes searchable (prefixed aliases)."""
    from .engine import search_client

    search_client.indices.refresh(index=",".join(record_class_alias(cls) for cls in record_classes))


def records_alias() -> str:
    """Published records (tombstones included) of InvenioRDM."""
    from invenio_rdm_records.records.api import RDMRecord

    return record_class_alias(RDMRecord)


def communities_alias() -> str:
    """Communities of InvenioRDM."""
    from invenio_communities.communities.records.api import Community

    return record_class_alias(Community)


# --------------------------------------------------------------------------- usage events
def event_name(event_type: str) -> str:
    """invenio-stats event name for a CLI name (``view`` -> ``record-view``)."""
    return EVENT_TYPES.get(event_type, event_type)


def usage_read_alias(event_type: str) -> str:
    """The alias invenio-stats reads events of a type from (``events-stats-<event>``)."""
    return prefixed(f"events-stats-{event_name(event_type)}")


def raw_index(event_type: str, month: str) -> str:
    """Raw monthly index, as invenio-stats' ``EventsIndexer`` names it."""
    return f"{usage_read_alias(event_type)}-{month}"


def enriched_index(event_type: str, month: str) -> str:
    """Enriched monthly index (``...-YYYY-MM-v2.0.0``)."""
    return f"{raw_index(event_type, month)}{ENRICHED_SUFFIX}"


def enriched_pattern(event_type: str) -> str:
    """Wildcard over every enriched monthly index of an event type."""
    return f"{usage_read_alias(event_type)}-*{ENRICHED_SUFFIX}"


def enriched_patterns() -> str:
    """Both enriched patterns (views and downloads), comma-separated."""
    return ",".join(enriched_pattern(event_type) for event_type in EVENT_TYPES)


def is_download_index(name: str) -> bool:
    """True for an index of download events (by its name)."""
    return f"events-stats-{EVENT_TYPES['download']}" in name


def months_of(names, event_type: str, enriched: bool) -> set[str]:
    """The months of the raw (or enriched) monthly indices among concrete ``names``."""
    base = usage_read_alias(event_type) + "-"
    suffix = ENRICHED_SUFFIX if enriched else ""
    found = set()
    for name in names:
        if name.startswith(base) and name.endswith(suffix):
            middle = name[len(base) : len(name) - len(suffix)] if suffix else name[len(base) :]
            if MONTH_RE.match(middle):
                found.add(middle)
    return found
