"""States of the raw and enriched (``-v2.0.0``) monthly event indices (names: ``core.indices``).

invenio-stats writes raw events to ``events-stats-<event>-YYYY-MM`` and reads them through
the alias ``events-stats-<event>`` (the *read alias*: its per-record aggregations query it).
Enriched events live in ``events-stats-<event>-YYYY-MM-v2.0.0``. For one month exactly one of
the two indices holds the read alias, so readers never count an event twice:

- the raw index until that month is migrated and validated (``switch_month``);
- the enriched index afterwards, and from the start for months that have no raw index
  (new traffic after the upgrade).
"""

from __future__ import annotations

from ..core.engine import search_client
from ..core.indices import (
    EVENT_TYPES,
    enriched_index,
    event_name,
    months_of,
    raw_index,
    usage_read_alias,
)

__all__ = (
    "EVENT_TYPES",
    "alias_holders",
    "enriched_index",
    "ensure_enriched_index",
    "event_name",
    "index_exists",
    "list_indices",
    "raw_index",
    "switch_month",
)


def list_indices(event_type: str) -> tuple[set[str], set[str]]:
    """Months that have a raw index, and months that have an enriched index."""
    res = search_client.indices.get(
        index=f"{usage_read_alias(event_type)}-*",
        expand_wildcards="open",
        ignore_unavailable=True,
        allow_no_indices=True,
    )
    names = list(res.keys())
    return months_of(names, event_type, enriched=False), months_of(names, event_type, enriched=True)


def alias_holders(event_type: str) -> set[str]:
    """Concrete indices that currently hold the read alias."""
    alias = usage_read_alias(event_type)
    res = search_client.indices.get_alias(name=alias, ignore=[404])
    if not isinstance(res, dict) or res.get("status") == 404:
        return set()
    return {name for name, body in res.items() if alias in (body.get("aliases") or {})}


def index_exists(name: str) -> bool:
    """True when a concrete index (or alias) of that name exists."""
    return bool(search_client.indices.exists(index=name))


def ensure_enriched_index(event_type: str, month: str, readable: bool) -> str:
    """Create the enriched index of a month if missing; give it the read alias if asked.

    Creation is idempotent (a concurrent creator wins harmlessly). ``readable`` is True
    when no raw index of that month holds the read alias (nothing to migrate).
    """
    name = enriched_index(event_type, month)
    if not index_exists(name):
        body = {"aliases": {usage_read_alias(event_type): {}}} if readable else {}
        search_client.indices.create(index=name, body=body, ignore=[400])
    elif readable and name not in alias_holders(event_type):
        search_client.indices.put_alias(index=name, name=usage_read_alias(event_type))
    return name


def switch_month(event_type: str, month: str) -> None:
    """Atomically move the read alias of a month from the raw to the enriched index."""
    alias = usage_read_alias(event_type)
    actions = [{"add": {"index": enriched_index(event_type, month), "alias": alias}}]
    if raw_index(event_type, month) in alias_holders(event_type):
        actions.insert(0, {"remove": {"index": raw_index(event_type, month), "alias": alias}})
    search_client.indices.update_aliases(body={"actions": actions})
