"""What the records aggregations need to know about one record, read from its index document.

``SOURCE_FIELDS`` is the ``_source`` filter for the records index; ``facts_from_source``
turns one document into a compact :class:`RecordFacts`; ``SUBCOUNT_EXTRACTORS`` maps
each subcount key of the data model to the values (id, label) a record carries.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

SOURCE_FIELDS = [
    "uuid",
    "parent.id",
    "parent.access.owned_by.user",
    "files.enabled",
    "files.count",
    "files.totalbytes",
    "files.entries.ext",
    "files.entries.key",
    "files.entries.size",
    "access.status",
    "metadata.resource_type",
    "metadata.languages",
    "metadata.subjects",
    "metadata.rights",
    "metadata.funding.funder",
    "metadata.publisher",
    "metadata.creators.affiliations",
    "metadata.contributors.affiliations",
    "custom_fields.journal:journal.title",
]


@dataclass(slots=True)
class RecordFacts:
    """Counting facts of one record (one published version)."""

    parent: str
    owner: str | None
    with_files: bool
    file_count: int
    volume: int
    ext_files: dict[str, tuple[int, int]]
    """Extension -> (number of files, bytes)."""
    values: dict[str, tuple[str, ...]]
    """Subcount key -> distinct value ids the record carries."""

    @property
    def split(self) -> str:
        """``with_files`` or ``metadata_only`` (by ``files.enabled``)."""
        return "with_files" if self.with_files else "metadata_only"

    def file_metrics(self, key: str | None = None, value: str | None = None) -> tuple[int, int]:
        """(file count, bytes) of the record, or of one extension's files for file_types."""
        if key == "file_types":
            return self.ext_files.get(value, (0, 0))
        return self.file_count, self.volume


def missing_facts(record_id: str) -> RecordFacts:
    """Facts for a record absent from the records index (counted, metadata only)."""
    return RecordFacts(record_id, None, False, 0, 0, {}, {})


def label_of(value) -> str | None:
    """A display label from a string or a multilingual title dict."""
    if isinstance(value, dict):
        return value.get("en") or next((v for v in value.values() if isinstance(v, str)), None)
    return value if isinstance(value, str) else None


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _get(source: dict, path: str):
    value = source
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _file_entries(source: dict) -> list[dict]:
    entries = _get(source, "files.entries") or []
    return list(entries.values()) if isinstance(entries, dict) else list(entries)


def _ext(entry: dict) -> str:
    ext = entry.get("ext")
    if not ext:
        key = entry.get("key") or ""
        ext = key.rsplit(".", 1)[1] if "." in key else ""
    return (ext or "unknown").lower()


def _resource_types(source: dict) -> Iterator[tuple[str, str | None]]:
    rt = _get(source, "metadata.resource_type") or {}
    if rt.get("id"):
        yield rt["id"], label_of(rt.get("title"))


def _access_statuses(source: dict) -> Iterator[tuple[str, str | None]]:
    status = _get(source, "access.status")
    if status:
        yield status, status


def _file_types(source: dict) -> Iterator[tuple[str, str | None]]:
    if _get(source, "files.enabled"):
        for entry in _file_entries(source):
            ext = _ext(entry)
            yield ext, ext


def _vocabulary(path: str, label_field: str = "title") -> Callable:
    def extract(source: dict) -> Iterator[tuple[str, str | None]]:
        for item in _as_list(_get(source, path)):
            if not isinstance(item, dict):
                continue
            label = label_of(item.get(label_field))
            ident = item.get("id") or label
            if ident:
                yield ident, label

    return extract


def _funders(source: dict) -> Iterator[tuple[str, str | None]]:
    for funding in _as_list(_get(source, "metadata.funding")):
        funder = (funding or {}).get("funder") or {}
        ident = funder.get("id") or funder.get("name")
        if ident:
            yield ident, label_of(funder.get("name"))


def _periodicals(source: dict) -> Iterator[tuple[str, str | None]]:
    title = _get(source, "custom_fields.journal:journal.title")
    if title:
        yield title, title


def _publishers(source: dict) -> Iterator[tuple[str, str | None]]:
    publisher = _get(source, "metadata.publisher")
    if publisher:
        yield publisher, publisher


def _affiliations(source: dict) -> Iterator[tuple[str, str | None]]:
    for role in ("creators", "contributors"):
        for person in _as_list(_get(source, f"metadata.{role}")):
            for affiliation in _as_list((person or {}).get("affiliations")):
                ident = (affiliation or {}).get("id") or (affiliation or {}).get("name")
                if ident:
                    yield ident, label_of(affiliation.get("name"))


SUBCOUNT_EXTRACTORS: dict[str, Callable[[dict], Iterator[tuple[str, str | None]]]] = {
    "resource_types": _resource_types,
    "access_statuses": _access_statuses,
    "file_types": _file_types,
    "languages": _vocabulary("metadata.languages"),
    "subjects": _vocabulary("metadata.subjects", "subject"),
    "rights": _vocabulary("metadata.rights"),
    "funders": _funders,
    "periodicals": _periodicals,
    "publishers": _publishers,
    "affiliations": _affiliations,
}
"""Subcount key -> function yielding (value id, label) pairs of a record document."""


def facts_from_source(
    source: dict, keys: list[str], labels: dict[str, dict[str, str]]
) -> RecordFacts:
    """Compact facts of one records-index document; fills ``labels`` (first label wins)."""
    with_files = bool(_get(source, "files.enabled"))
    ext_files: dict[str, tuple[int, int]] = {}
    file_count = volume = 0
    if with_files:
        entries = _file_entries(source)
        for entry in entries:
            ext = _ext(entry)
            count, size = ext_files.get(ext, (0, 0))
            ext_files[ext] = (count + 1, size + int(entry.get("size") or 0))
        file_count = len(entries) if entries else int(_get(source, "files.count") or 0)
        volume = (
            sum(size for _, size in ext_files.values())
            if entries
            else int(_get(source, "files.totalbytes") or 0)
        )
    values: dict[str, tuple[str, ...]] = {}
    for key in keys:
        found: dict[str, None] = {}
        key_labels = labels.setdefault(key, {})
        for ident, label in SUBCOUNT_EXTRACTORS[key](source):
            found[ident] = None
            if ident not in key_labels and label:
                key_labels[ident] = label
        if found:
            values[key] = tuple(found)
    owner = _get(source, "parent.access.owned_by.user")
    return RecordFacts(
        parent=_get(source, "parent.id") or source.get("uuid") or "",
        owner=str(owner) if owner is not None else None,
        with_files=with_files,
        file_count=file_count,
        volume=volume,
        ext_files=ext_files,
        values=values,
    )
