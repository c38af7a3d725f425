"""Subcounts: which values a record or a usage event is counted under, per key.

Records and usage events are read through the same fields: the enriched event fields
of the data model, which :func:`~invenio_stats_dashboard.record_facts.record_facts`
also produces for a record. So a record and the views of that record fall under the same
subcount items, with the same ids and labels.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from flask import current_app

Value = tuple[str, str | None]
"""``(id, label)`` of one subcount item."""


def label_of(value) -> str | None:
    """A display label from a string or a multilingual title (``{"en": ...}``)."""
    if isinstance(value, dict):
        return value.get("en") or next((v for v in value.values() if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


def _vocabulary(field: str, label_key: str) -> Callable[[dict], list[Value]]:
    """Values of a list (or one dict) of vocabulary entries: id, else the label text."""

    def extract(doc: dict) -> list[Value]:
        items = doc.get(field) or []
        if isinstance(items, dict):
            items = [items]
        found = []
        for item in items:
            if not isinstance(item, dict):
                continue
            label = label_of(item.get(label_key))
            ident = item.get("id") or label
            if ident:
                found.append((str(ident), label))
        return found

    return extract


def _plain(field: str) -> Callable[[dict], list[Value]]:
    """Values of a plain field (a string or a list of strings)."""

    def extract(doc: dict) -> list[Value]:
        values = doc.get(field)
        if values in (None, "", []):
            return []
        values = values if isinstance(values, list) else [values]
        return [(str(v), str(v)) for v in values if v not in (None, "")]

    return extract


def _referrer(doc: dict) -> list[Value]:
    referrer = doc.get("referrer")
    if not referrer:
        return []
    host = (urlsplit(referrer).netloc or referrer).lower()
    return [(host, host)]


SOURCES: dict[str, Callable[[dict], list[Value]]] = {
    "resource_types": _vocabulary("resource_type", "title"),
    "access_statuses": _plain("access_status"),
    "file_types": _plain("file_types"),
    "languages": _vocabulary("languages", "title"),
    "subjects": _vocabulary("subjects", "subject"),
    "rights": _vocabulary("rights", "title"),
    "funders": _vocabulary("funders", "name"),
    "periodicals": _plain("journal_title"),
    "publishers": _plain("publisher"),
    "affiliations": _vocabulary("affiliations", "name"),
    "countries": _plain("country"),
    "referrers": _referrer,
}
"""Subcount key -> the ``(id, label)`` values an enriched-shaped document carries."""

USAGE_ONLY = ("countries", "referrers")
"""Keys a record has no value for (they describe the visit)."""


def active(config_key: str, usage: bool) -> dict[str, str]:
    """The configured keys (``config_key``) this side can count, and their kind."""
    configured = current_app.config.get(config_key) or {}
    return {
        key: kind
        for key, kind in configured.items()
        if key in SOURCES and (usage or key not in USAGE_ONLY)
    }


def values_of(doc: dict, keys: Iterable[str]) -> dict[str, list[Value]]:
    """``key -> distinct (id, label) values`` of a document (keys without values left out)."""
    found = {}
    for key in keys:
        values: dict[str, str | None] = {}
        for ident, label in SOURCES[key](doc):
            if values.get(ident) is None:
                values[ident] = label
        if values:
            found[key] = list(values.items())
    return found


def describe(kinds: dict[str, str], limit: int | None = None) -> str:
    """The subcount settings a stored result was built with (``key=kind,...[;top=N]``).

    Compared before a run goes on from stored results (usage states, copied snapshots):
    different settings mean the results must be computed again.
    """
    text = ",".join(f"{key}={kind}" for key, kind in sorted(kinds.items()))
    return text if limit is None else f"{text};top={limit}"


def top_limit() -> int:
    """``COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT``: values a "top" subcount keeps."""
    return int(current_app.config.get("COMMUNITY_STATS_TOP_SUBCOUNT_LIMIT") or 20)


def ranked(items: dict, weight: Callable, kind: str, limit: int) -> list[tuple]:
    """``(id, item)`` pairs by weight (desc) then id; "top" kinds keep the first ``limit``."""
    key = lambda kv: (-weight(kv[1]), kv[0])  # noqa: E731
    if kind == "top":
        return heapq.nsmallest(limit, items.items(), key=key)
    return sorted(items.items(), key=key)
