"""Names and states of the raw and enriched (``-v2.0.0``) monthly event indices.

invenio-stats writes raw events to ``events-stats-<event>-YYYY-MM`` and reads them through
the alias ``events-stats-<event>`` (the *read alias*: its per-record aggregations query it).
Enriched events live in ``events-stats-<event>-YYYY-MM-v2.0.0``. For one month exactly one of
the two indices holds the read alias, so readers never count an event twice:

- the raw index until that month is migrated and validated (``switch_month``);
- the enriched index afterwards, and from the start for months that have no raw index
  (new traffic after the upgrade).
"""

from __future__ import annotations

import re

from invenio_search import current_search_client
from invenio_search.utils import prefix_index

EVENT_TYPES = {"view": "record-view", "download": "file-download"}
"""CLI names of the event types and their invenio-stats names."""

ENRICHED_SUFFIX = "-v2.0.0"
MONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def event_name(event_type: str) -> str:
    """invenio-stats event name for a CLI name (``view`` -> ``record-view``)."""
    return EVENT_TYPES.get(event_type, event_type)


def read_alias(event_type: str) -> str:
    """The alias invenio-stats reads events from (prefixed)."""
    return prefix_index(f"events-stats-{event_name(event_type)}")


def raw_index(event_type: str, month: str) -> str:
    """Raw monthly index, as invenio-stats' ``EventsIndexer`` names it."""
    return f"{read_alias(event_type)}-{month}"


def enriched_index(event_type: str, month: str) -> str:
    """Enriched monthly index (``...-YYYY-MM-v2.0.0``)."""
    return f"{raw_index(event_type, month)}{ENRICHED_SUFFIX}"


def enriched_pattern(event_type: str) -> str:
    """Wildcard over every enriched monthly index of an event type."""
    return f"{read_alias(event_type)}-*{ENRICHED_SUFFIX}"


def _months(names, event_type: str, suffix: str) -> set[str]:
    base = read_alias(event_type) + "-"
    found = set()
    for name in names:
        if name.startswith(base) and name.endswith(suffix):
            middle = name[len(base) : len(name) - len(suffix)] if suffix else name[len(base) :]
            if MONTH_RE.match(middle):
                found.add(middle)
    return found


def list_indices(event_type: str) -> tuple[set[str], set[str]]:
    """Months that have a raw index, and months that have an enriched index."""
    base = read_alias(event_type)
    res = current_search_client.indices.get(
        index=f"{base}-*", expand_wildcards="open", ignore_unavailable=True, allow_no_indices=True
    )
    names = list(res.keys())
    return _months(names, event_type, ""), _months(names, event_type, ENRICHED_SUFFIX)


def alias_holders(event_type: str) -> set[str]:
    """Concrete indices that currently hold the read alias."""
    alias = read_alias(event_type)
    res = current_search_client.indices.get_alias(name=alias, ignore=[404])
    if not isinstance(res, dict) or res.get("status") == 404:
        return set()
    return {name for name, body in res.items() if alias in (body.get("aliases") or {})}


def index_exists(name: str) -> bool:
    """True when a concrete index (or alias) of that name exists."""
    return bool(current_search_client.indices.exists(index=name))


def ensure_enriched_index(event_type: str, month: str, readable: bool) -> str:
    """Create the enriched index of a month if missing; give it the read alias if asked.

    Creation is idempotent (a concurrent creator wins harmlessly). ``readable`` is True
    when no raw index of that month holds the read alias (nothing to migrate).
    """
    name = enriched_index(event_type, month)
    if not index_exists(name):
        body = {"aliases": {read_alias(event_type): {}}} if readable else {}
        current_search_client.indices.create(index=name, body=body, ignore=[400])
    elif readable and name not in alias_holders(event_type):
        current_search_client.indices.put_alias(index=name, name=read_alias(event_type))
    return name


def switch_month(event_type: str, month: str) -> None:
    """Atomically move the read alias of a month from the raw to the enriched index."""
    alias = read_alias(event_type)
    actions = [{"add": {"index": enriched_index(event_type, month), "alias": alias}}]
    if raw_index(event_type, month) in alias_holders(event_type):
        actions.insert(0, {"remove": {"index": raw_index(event_type, month), "alias": alias}})
    current_search_client.indices.update_aliases(body={"actions": actions})
