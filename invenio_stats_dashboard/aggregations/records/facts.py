"""What the records aggregations count of one record: a compact :class:`RecordFacts`.

Built from the package's one record extractor
(:func:`~invenio_stats_dashboard.record_facts.record_facts`, files from the database) and
the shared subcount rules (:mod:`~invenio_stats_dashboard.aggregations.subcounts`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ...record_facts import file_extension
from ..subcounts import values_of


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
    """Facts for a record found neither in the records index nor the database."""
    return RecordFacts(record_id, None, False, 0, 0, {}, {})


def counting_facts(facts: dict, keys: list[str], labels: dict[str, dict[str, str]]) -> RecordFacts:
    """Compact facts of one ``record_facts`` dict; fills ``labels`` (first label wins)."""
    ext_files: dict[str, tuple[int, int]] = {}
    for key, size in facts["files"] if facts["files_enabled"] else []:
        ext = file_extension(key)
        count, total = ext_files.get(ext, (0, 0))
        ext_files[ext] = (count + 1, total + int(size or 0))
    values: dict[str, tuple[str, ...]] = {}
    shaped = {**facts, "file_types": sorted(ext_files)}
    for key, found in values_of(shaped, keys).items():
        key_labels = labels.setdefault(key, {})
        for ident, label in found:
            if ident not in key_labels and label:
                key_labels[ident] = label
        values[key] = tuple(ident for ident, _ in found)
    return RecordFacts(
        parent=facts.get("parent_id") or facts.get("record_id") or "",
        owner=facts.get("owner"),
        with_files=bool(facts["files_enabled"]),
        file_count=sum(count for count, _ in ext_files.values()),
        volume=sum(total for _, total in ext_files.values()),
        ext_files=ext_files,
        values=values,
    )
