"""Enrichment of view and download events with the record's metadata and communities.

One shape, two sources: a live ``RDMRecord`` (in the event builder) or the record's
document in the records search index (in the migration). ``record_facts`` turns either
into the plain dict of enrichment fields the data model pins ("Enriched usage events");
``enrich_event`` adds them, ``community_ids`` and ``file_types`` to one event.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

ENRICHMENT_FIELDS = (
    "community_ids",
    "resource_type",
    "access_status",
    "publisher",
    "languages",
    "subjects",
    "rights",
    "affiliations",
    "funders",
    "journal_title",
    "file_types",
)
"""Fields an enriched event has on top of the invenio-stats event fields."""

IDENTITY_FIELDS = ("record_id", "parent_id")
"""Record and parent UUIDs: in the raw mapping too, but only set by the enrichment."""


def _get(data: Any, *path: str, default: Any = None) -> Any:
    """Look up a dotted path in nested mappings (``None``-safe)."""
    for key in path:
        if not isinstance(data, Mapping):
            return default
        data = data.get(key)
        if data is None:
            return default
    return data


def _vocab(item: Mapping, keys: Iterable[str]) -> dict:
    """Keep only the given keys of a vocabulary entry (and drop the empty ones)."""
    return {k: item[k] for k in keys if item.get(k) not in (None, "", [], {})}


def _unique(items: Iterable[dict], key) -> list[dict]:
    """Drop repeated items (same ``key(item)``), keeping the first."""
    seen, out = set(), []
    for item in items:
        marker = key(item)
        if marker and marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def file_extension(key: str | None) -> str | None:
    """Lower-case extension of a file name without the dot (``None`` when it has none)."""
    if not key:
        return None
    ext = os.path.splitext(key)[1].lstrip(".").lower()
    return ext or None


def _file_keys(files: Any) -> list[str]:
    """File names of a record: an API record's ``files.entries`` or an index document's."""
    entries = _get(files, "entries") if isinstance(files, Mapping) else None
    if isinstance(entries, Mapping):
        return list(entries.keys())
    if isinstance(entries, list):
        return [e.get("key") for e in entries if isinstance(e, Mapping) and e.get("key")]
    return []


def _access_status(record: Any, data: Mapping) -> str | None:
    """The record's access status (open, embargoed, restricted, metadata-only)."""
    access = getattr(record, "access", None)
    status = getattr(access, "status", None)
    if status is not None:
        return getattr(status, "value", status)
    return _get(data, "access", "status")


def record_facts(record: Any) -> dict:
    """Enrichment fields of a record: from an ``RDMRecord`` or its search document.

    The returned dict has ``record_id``, ``parent_id``, ``recid``, ``parent_recid``,
    ``current_community_ids`` (today's membership) and every enrichment field except
    ``community_ids`` (which depends on the event's day) and ``file_types`` (the
    record's extensions are under ``record_file_types``).
    """
    data: Mapping = record if isinstance(record, Mapping) else dict(record)
    metadata = data.get("metadata") or {}
    parent = getattr(record, "parent", None)
    if hasattr(parent, "communities"):  # an API record, not a search document
        community_ids = [str(c) for c in (parent.communities.ids or [])]
        parent_id = str(parent.id) if parent.id else None
        parent_recid = parent.get("id") or _get(data, "parent", "id")
        record_id = str(record.id) if getattr(record, "id", None) else None
        files = getattr(record, "files", None)
        file_keys = list(files.entries.keys()) if files is not None and files.enabled else []
    else:
        community_ids = list(_get(data, "parent", "communities", "ids", default=[]))
        parent_id = _get(data, "parent", "uuid") or _get(data, "parent", "pid", "obj_id")
        parent_recid = _get(data, "parent", "id")
        record_id = data.get("uuid") or _get(data, "pid", "obj_id")
        file_keys = _file_keys(data.get("files"))

    affiliations = [
        _vocab(aff, ("id", "name", "identifiers"))
        for person in [*(metadata.get("creators") or []), *(metadata.get("contributors") or [])]
        for aff in person.get("affiliations") or []
    ]
    funders = [
        _vocab(f["funder"], ("id", "name", "identifiers"))
        for f in metadata.get("funding") or []
        if isinstance(f.get("funder"), Mapping)
    ]
    resource_type = metadata.get("resource_type") or {}
    exts = sorted({e for e in (file_extension(k) for k in file_keys) if e})
    return {
        "record_id": record_id,
        "parent_id": parent_id,
        "recid": data.get("id"),
        "parent_recid": parent_recid,
        "current_community_ids": sorted(community_ids),
        "resource_type": _vocab(resource_type, ("id", "title", "props")) or None,
        "access_status": _access_status(record, data),
        "publisher": metadata.get("publisher") or None,
        "languages": [_vocab(x, ("id", "title")) for x in metadata.get("languages") or []],
        "subjects": [
            _vocab(x, ("id", "subject", "scheme")) for x in metadata.get("subjects") or []
        ],
        "rights": [_vocab(x, ("id", "title")) for x in metadata.get("rights") or []],
        "affiliations": _unique(affiliations, lambda a: a.get("id") or a.get("name")),
        "funders": _unique(funders, lambda f: f.get("id") or f.get("name")),
        "journal_title": _get(data, "custom_fields", "journal:journal", "title") or None,
        "record_file_types": exts,
    }


def enrich_event(
    event: dict, facts: Mapping | None, community_ids: Iterable[str], event_type: str
) -> dict:
    """Add the enrichment fields to ``event`` (in place) and return it.

    ``facts`` is ``record_facts(...)`` of the event's record, or ``None`` when the
    record cannot be found (purged): the event then gets empty enrichment. Views carry
    the record's file types, downloads the extension of the downloaded file.
    """
    facts = facts or {}
    for key in ("record_id", "parent_id"):
        if facts.get(key) and not event.get(key):
            event[key] = facts[key]
    event["community_ids"] = sorted(set(community_ids))
    for key in ENRICHMENT_FIELDS[1:-1]:
        event[key] = facts.get(key)
    if event_type == "file-download":
        ext = file_extension(event.get("file_key"))
        event["file_types"] = [ext] if ext else []
    else:
        event["file_types"] = list(facts.get("record_file_types") or [])
    return event


def strip_enrichment(event: Mapping) -> dict:
    """The event without its enrichment fields (what a raw index accepts)."""
    return {k: v for k, v in event.items() if k not in ENRICHMENT_FIELDS}
