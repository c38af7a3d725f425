"""What the statistics know about a record: one extractor for every consumer.

``record_facts`` reads a live ``RDMRecord`` (the usage event builder) or the record's
document in the records search index (the usage migration, the records aggregations)
into one plain dict: identifiers, owner, today's communities and the descriptive fields
of the data model's enriched events (resource type, access status, languages, subjects,
rights, funders, affiliations, publisher, journal title) plus the record's files.

Files come from the database (:func:`attach_database_files`), not from the search index:
InvenioRDM leaves the file entries of a public record with restricted files (embargoed
ones included) out of its index document, but they are the site's files and bytes all
the same.
"""

from __future__ import annotations

import os
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

SOURCE_FIELDS = [
    "id",
    "uuid",
    "parent.id",
    "parent.uuid",
    "parent.communities.ids",
    "parent.access.owned_by.user",
    "files.enabled",
    "files.entries.key",
    "files.entries.size",
    "access.status",
    "metadata.resource_type",
    "metadata.publisher",
    "metadata.languages",
    "metadata.subjects",
    "metadata.rights",
    "metadata.creators.affiliations",
    "metadata.contributors.affiliations",
    "metadata.funding.funder",
    "custom_fields.journal:journal.title",
]
"""The records-index ``_source`` fields :func:`record_facts` reads."""

NO_EXTENSION = "unknown"
"""The file type of a file whose name has no extension."""


def _get(data: Any, *path: str, default: Any = None) -> Any:
    """Look up a path in nested mappings (``None``-safe)."""
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


def file_extension(key: str | None) -> str:
    """Lower-case extension of a file name without the dot (``unknown`` when it has none)."""
    ext = os.path.splitext(key or "")[1].lstrip(".").lower()
    return ext or NO_EXTENSION


def file_types(files: Iterable[tuple[str, int | None]]) -> list[str]:
    """The distinct extensions of ``(key, size)`` files, sorted."""
    return sorted({file_extension(key) for key, _ in files})


def _index_files(data: Mapping) -> list[tuple[str, int | None]]:
    """``(key, size)`` of an index document's file entries (when it has them)."""
    entries = _get(data, "files", "entries")
    if isinstance(entries, Mapping):
        entries = list(entries.values())
    return [
        (e["key"], e.get("size")) for e in entries or [] if isinstance(e, Mapping) and e.get("key")
    ]


def _access_status(record: Any, data: Mapping) -> str | None:
    """The record's access status (open, embargoed, restricted, metadata-only)."""
    access = getattr(record, "access", None)
    status = getattr(access, "status", None)
    if status is not None:
        return getattr(status, "value", status)
    return _get(data, "access", "status")


def record_facts(record: Any) -> dict:
    """The facts of a record, from an ``RDMRecord`` or its search document.

    Keys: ``record_id``, ``parent_id``, ``recid``, ``parent_recid``, ``owner``,
    ``current_community_ids`` (today's membership), ``files_enabled``, ``files``
    (``(key, size)`` pairs), ``record_file_types`` and the enrichment fields of the data
    model except ``community_ids`` (it depends on the event's day) and ``file_types``.
    """
    data: Mapping = record if isinstance(record, Mapping) else dict(record)
    metadata = data.get("metadata") or {}
    parent = getattr(record, "parent", None)
    if hasattr(parent, "communities"):  # an API record, not a search document
        community_ids = [str(c) for c in (parent.communities.ids or [])]
        parent_id = str(parent.id) if parent.id else None
        parent_recid = parent.get("id") or _get(data, "parent", "id")
        record_id = str(record.id) if getattr(record, "id", None) else None
        owner = _get(parent, "access", "owned_by", "user")
        record_files = getattr(record, "files", None)
        enabled = bool(record_files is not None and record_files.enabled)
        files = [(key, None) for key in record_files.entries] if enabled else []
    else:
        community_ids = list(_get(data, "parent", "communities", "ids", default=[]))
        parent_id = _get(data, "parent", "uuid") or _get(data, "parent", "pid", "obj_id")
        parent_recid = _get(data, "parent", "id")
        record_id = data.get("uuid") or _get(data, "pid", "obj_id")
        owner = _get(data, "parent", "access", "owned_by", "user")
        files = _index_files(data)
        enabled = bool(_get(data, "files", "enabled")) or bool(files)

    affiliations = [
        _vocab(aff, ("id", "name", "identifiers"))
        for person in [*(metadata.get("creators") or []), *(metadata.get("contributors") or [])]
        for aff in (person or {}).get("affiliations") or []
        if isinstance(aff, Mapping)
    ]
    funders = [
        _vocab(f["funder"], ("id", "name", "identifiers"))
        for f in metadata.get("funding") or []
        if isinstance((f or {}).get("funder"), Mapping)
    ]
    resource_type = metadata.get("resource_type") or {}
    return {
        "record_id": record_id,
        "parent_id": parent_id,
        "recid": data.get("id"),
        "parent_recid": parent_recid,
        "owner": str(owner) if owner is not None else None,
        "current_community_ids": sorted(community_ids),
        "files_enabled": enabled,
        "files": files,
        "record_file_types": file_types(files),
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
    }


def database_files(record_ids: Iterable[str]) -> dict[str, tuple[bool, list[tuple[str, int]]]]:
    """``record id -> (files enabled, [(key, bytes), ...])`` of published records.

    Two SQL queries for any number of records, whatever the files' access. Records the
    database does not hold are left out.
    """
    from invenio_db import db
    from invenio_files_rest.models import FileInstance, ObjectVersion
    from invenio_rdm_records.records.models import RDMFileRecordMetadata, RDMRecordMetadata

    keys = []
    for value in set(record_ids):
        try:
            keys.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    if not keys:
        return {}
    enabled = {
        str(row_id): bool(((data or {}).get("files") or {}).get("enabled"))
        for row_id, data in db.session.query(RDMRecordMetadata.id, RDMRecordMetadata.json).filter(
            RDMRecordMetadata.id.in_(keys)
        )
    }
    files: dict[str, list[tuple[str, int]]] = defaultdict(list)
    rows = (
        db.session.query(
            RDMFileRecordMetadata.record_id, RDMFileRecordMetadata.key, FileInstance.size
        )
        .join(ObjectVersion, ObjectVersion.version_id == RDMFileRecordMetadata.object_version_id)
        .join(FileInstance, FileInstance.id == ObjectVersion.file_id)
        .filter(RDMFileRecordMetadata.record_id.in_(keys))
        .order_by(RDMFileRecordMetadata.record_id, RDMFileRecordMetadata.key)
    )
    for record_id, key, size in rows:
        files[str(record_id)].append((key, int(size or 0)))
    return {
        record_id: (is_enabled, files.get(record_id, []) if is_enabled else [])
        for record_id, is_enabled in enabled.items()
    }


def attach_database_files(facts: Iterable[dict]) -> None:
    """Replace the files of these facts (in place) with the database's (see module doc)."""
    facts = [f for f in facts if f and f.get("record_id")]
    found = database_files(f["record_id"] for f in facts)
    for fact in facts:
        if fact["record_id"] in found:
            enabled, files = found[fact["record_id"]]
            fact["files_enabled"] = enabled
            fact["files"] = files
            fact["record_file_types"] = file_types(files)
