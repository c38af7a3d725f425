"""Synthetic view/download events in invenio-stats' indexed shape.

``raw_event`` builds the document (and ``_id``) invenio-stats' ``EventsIndexer`` would
have written for one view or download after its preprocessors (robot/machine flags,
anonymised visitor, ``unique_id``). ``usage-events generate`` indexes such documents
directly, and the tests and benchmarks use them to build raw monthly indices.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from invenio_stats.processors import hash_id

from ..core.days import utc_now

COUNTRIES = ["US", "GB", "DE", "FR", "CA", "IN", "BR", "JP", "AU", "NL", "MX", "ZA"]
REFERRERS = [
    "https://www.google.com/",
    "https://scholar.google.com/scholar?q=x",
    "https://twitter.com/",
    "https://hcommons.org/groups/",
    "https://www.bing.com/search",
    None,
]


@dataclass(frozen=True)
class RecordTarget:
    """What an event needs to know about its record (from the records index)."""

    recid: str
    parent_recid: str
    record_id: str | None = None
    parent_id: str | None = None
    bucket_id: str | None = None
    files: tuple[tuple[str, str, int], ...] = ()
    """(file_id, key, size) of each file."""

    @classmethod
    def from_record(cls, record) -> RecordTarget:
        """From an ``RDMRecord`` (files read from its bucket)."""
        files = []
        if record.files.enabled:
            for key in sorted(record.files.entries):
                version = record.files[key].object_version
                files.append((str(version.file_id), key, int(version.file.size)))
        return cls(
            recid=record["id"],
            parent_recid=record.parent["id"],
            record_id=str(record.id),
            parent_id=str(record.parent.id),
            bucket_id=str(record.bucket_id) if record.bucket_id else None,
            files=tuple(files),
        )

    @classmethod
    def from_source(cls, source: Mapping) -> RecordTarget:
        """From a records index document."""
        files = source.get("files") or {}
        entries = files.get("entries") or []
        if isinstance(entries, Mapping):
            entries = list(entries.values())
        return cls(
            recid=source["id"],
            parent_recid=(source.get("parent") or {}).get("id"),
            record_id=source.get("uuid"),
            parent_id=(source.get("parent") or {}).get("uuid"),
            bucket_id=files.get("bucket_id") or source.get("bucket_id"),
            files=tuple(
                (e.get("file_id") or e.get("id"), e["key"], int(e.get("size") or 0))
                for e in entries
                if e.get("key")
            ),
        )


def _visitor_hash(visitor: int, day: date, hour: int | None = None) -> str:
    """A daily-salted visitor id (and hourly session id), as invenio-stats makes them."""
    text = f"{visitor}|{day.isoformat()}" + (f"|{hour}" if hour is not None else "")
    return hashlib.sha224(text.encode()).hexdigest()


def raw_event(
    record: RecordTarget,
    timestamp: datetime,
    visitor: int,
    file: tuple[str, str, int] | None = None,
    country: str | None = "US",
    referrer: str | None = None,
    is_robot: bool = False,
    is_machine: bool = False,
    via_api: bool = False,
) -> tuple[str, dict]:
    """``(_id, _source)`` of one indexed view (``file=None``) or download event."""
    ts = timestamp.replace(microsecond=0, tzinfo=None)
    doc = {
        "timestamp": ts.isoformat(),
        "recid": record.recid,
        "parent_recid": record.parent_recid,
        "referrer": referrer,
        "via_api": via_api,
        "is_robot": is_robot,
        "is_machine": is_machine,
        "country": country,
        "visitor_id": _visitor_hash(visitor, ts.date()),
        "unique_session_id": _visitor_hash(visitor, ts.date(), ts.hour),
        "updated_timestamp": utc_now().isoformat(),
    }
    if file is None:
        doc["unique_id"] = f"ui_{record.recid}"
    else:
        file_id, key, size = file
        doc.update(
            {
                "bucket_id": record.bucket_id,
                "file_id": file_id,
                "file_key": key,
                "size": size,
                "unique_id": f"{record.bucket_id}_{file_id}",
            }
        )
    window = ts - timedelta(seconds=ts.second % 10)
    return hash_id(window.isoformat(), doc), doc


def spread_events(
    rng: random.Random,
    records: list[RecordTarget],
    start: date,
    end: date,
    per_record: int,
    visitors: int = 5000,
) -> Iterator[tuple[str, dict, str]]:
    """``(_id, _source, event name)`` for ``per_record`` events of each record.

    Timestamps spread uniformly over ``[start, end]`` (whole days, any second), visitors
    drawn from a population, countries and referrers from fixed lists; records with
    files get downloads (about a third of their events) of a random file.
    """
    days = (end - start).days + 1
    for record in records:
        for _ in range(per_record):
            moment = datetime.combine(
                start + timedelta(days=rng.randrange(days)), datetime.min.time()
            ) + timedelta(seconds=rng.randrange(86400))
            download = bool(record.files) and rng.random() < 0.34
            file = rng.choice(record.files) if download else None
            _id, doc = raw_event(
                record,
                moment,
                visitor=rng.randrange(1, visitors + 1),
                file=file,
                country=rng.choice(COUNTRIES),
                referrer=rng.choice(REFERRERS),
            )
            yield _id, doc, "file-download" if download else "record-view"
