"""One community's records on the worker's disk, kept up to date from run to run.

A community's member records (for "global": the whole site) live in a SQLite database
of their own: each record's counted intervals under the three date bases, its facts and
its subcount values. Delta and snapshot numbers are SQL sums over those rows, streamed
day by day; Python holds one page of records while loading, then one day's rows and the
running totals of the subcount values present, never the records. So memory stays
bounded whatever the community's size (SQLite keeps ``CACHE_KIB`` of pages and spills
the rest, and its sorts, to files).

The database outlives the run (``COMMUNITY_STATS_WORKSPACE_DIR``): the next run reads
only the records whose history was written, or which were edited, since the last one
(with ``COMMUNITY_STATS_RECORDS_EDIT_MARGIN`` of margin), and the snapshot totals at
each snapshot bookmark are kept, so an hourly run's work follows the new records, not
the community's size. A copy that does not add up to the stored history (events
deleted, indices recreated), other settings, or an unreadable file make a full read.

Distinct counts (parents, uploaders) follow presence: a parent is present while one of
its versions counts, an owner while one of their records does; the steps of a running
count per parent (and per subcount value and parent) or owner give the day's change.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from itertools import groupby
from pathlib import Path

from flask import current_app

from ...core.days import to_datetime, utc_now
from ...core.ids import GLOBAL
from ...core.paging import chunks
from ...membership.store import (
    HISTORY_FIELDS,
    MemberHistory,
    community_events,
    community_history,
    history_fingerprint,
    member_histories,
    records_written_since,
)
from .engine import (
    BASES,
    UPLOADERS,
    DeltaRow,
    SnapshotStep,
    SnapshotTotals,
    SubcountConfig,
    counted_intervals,
    delta_body,
    membership_of,
)
from .sources import RecentEdits, edit_margin, load_facts, page_size

FORMAT = "1"
"""The layout of a workspace database; another layout is read again in full."""

CACHE_KIB = 16 * 1024
"""SQLite page cache of a workspace; beyond it pages and sorts go to files."""

REREAD_SHARE = 0.5
"""When more than this share of the records changed, a full read is cheaper."""

_SCHEMA = """
CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE members (record_id TEXT PRIMARY KEY, events INTEGER);
CREATE TABLE counted (basis INTEGER, record_id TEXT, start INTEGER, stop INTEGER);
CREATE TABLE records (
    record_id TEXT PRIMARY KEY, parent TEXT, owner TEXT, split INTEGER,
    file_count INTEGER, volume INTEGER
);
CREATE TABLE record_values (
    record_id TEXT, key TEXT, value TEXT, file_count INTEGER, volume INTEGER
);
CREATE TABLE totals (basis INTEGER PRIMARY KEY, day INTEGER, state TEXT);
CREATE INDEX counted_start ON counted (basis, start);
CREATE INDEX counted_stop ON counted (basis, stop);
CREATE INDEX counted_record ON counted (record_id);
CREATE INDEX records_parent ON records (parent);
CREATE INDEX records_owner ON records (owner);
CREATE INDEX values_record ON record_values (record_id);
"""
"""``members``: every record in the community's history, with its number of events.
Days are ordinals; ``stop`` NULL: still counted; ``split`` 1: with files. ``totals``:
the snapshot totals of a basis at the end of ``day`` (its bookmark)."""

_SCOPE = """
CREATE TEMP TABLE IF NOT EXISTS scope_records (record_id TEXT PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS scope_parents (parent TEXT PRIMARY KEY);
CREATE TEMP TABLE IF NOT EXISTS scope_owners (owner TEXT PRIMARY KEY);
DELETE FROM scope_records; DELETE FROM scope_parents; DELETE FROM scope_owners;
"""

_DELTA_SQL = """
WITH moves AS MATERIALIZED (
    SELECT start AS day, 0 AS direction, record_id FROM counted
    WHERE basis = :basis AND start BETWEEN :first AND :last
    UNION ALL
    SELECT stop, 1, record_id FROM counted
    WHERE basis = :basis AND stop BETWEEN :first AND :last
)
SELECT m.day, '', '', m.direction, r.split, COUNT(*), COUNT(DISTINCT r.parent),
       SUM(r.file_count), SUM(r.volume)
FROM moves m JOIN records r USING (record_id)
GROUP BY m.day, m.direction, r.split
UNION ALL
SELECT m.day, v.key, v.value, m.direction, r.split, COUNT(*), COUNT(DISTINCT r.parent),
       SUM(v.file_count), SUM(v.volume)
FROM moves m JOIN records r USING (record_id) JOIN record_values v USING (record_id)
GROUP BY m.day, v.key, v.value, m.direction, r.split
UNION ALL
SELECT m.day, :uploaders, '', 0, 0, COUNT(DISTINCT r.owner), 0, 0, 0
FROM moves m JOIN records r USING (record_id)
WHERE m.direction = 0
GROUP BY m.day
ORDER BY 1
"""

_COUNTED_BEFORE = "c.basis = :basis AND c.start < :first AND (c.stop IS NULL OR c.stop >= :first)"
"""A ``counted`` row ``c`` in which its record counts on the day before ``:first``."""

_STEPS_SQL = f"""
WITH moves AS MATERIALIZED (
    SELECT start AS day, 1 AS sign, record_id FROM counted
    WHERE basis = :basis AND start BETWEEN :first AND :last
    UNION ALL
    SELECT stop, -1, record_id FROM counted
    WHERE basis = :basis AND stop BETWEEN :first AND :last
),
member_moves AS MATERIALIZED (
    SELECT m.day, m.sign, r.record_id, r.parent, r.owner, r.split, r.file_count, r.volume
    FROM moves m JOIN records r USING (record_id)
),
shared_parents AS MATERIALIZED (
    SELECT r.parent FROM (SELECT DISTINCT parent FROM member_moves) p
    CROSS JOIN records r INDEXED BY records_parent ON r.parent = p.parent
    GROUP BY r.parent HAVING COUNT(*) > 1
),
parents_before AS (
    SELECT r.record_id, r.parent, r.split
    FROM shared_parents p
    CROSS JOIN records r INDEXED BY records_parent ON r.parent = p.parent
    CROSS JOIN counted c INDEXED BY counted_record ON c.record_id = r.record_id
    WHERE {_COUNTED_BEFORE}
),
shared_moves AS MATERIALIZED (
    SELECT * FROM member_moves WHERE parent IN shared_parents
),
parent_moves AS (
    SELECT '' AS key, '' AS value, parent, split, day, SUM(sign) AS moved
    FROM shared_moves GROUP BY parent, split, day
    UNION ALL
    SELECT v.key, v.value, m.parent, m.split, m.day, SUM(m.sign)
    FROM shared_moves m JOIN record_values v USING (record_id)
    GROUP BY v.key, v.value, m.parent, m.split, m.day
    UNION ALL
    SELECT '', '', parent, split, :first - 1, COUNT(*) FROM parents_before
    GROUP BY parent, split
    UNION ALL
    SELECT v.key, v.value, b.parent, b.split, :first - 1, COUNT(*)
    FROM parents_before b JOIN record_values v USING (record_id)
    GROUP BY v.key, v.value, b.parent, b.split
),
parent_counts AS (
    SELECT key, value, split, day, moved,
           SUM(moved) OVER (PARTITION BY key, value, parent, split ORDER BY day) AS now
    FROM parent_moves
),
owners_before AS (
    SELECT r.owner
    FROM (SELECT DISTINCT owner FROM member_moves WHERE owner IS NOT NULL) o
    CROSS JOIN records r INDEXED BY records_owner ON r.owner = o.owner
    CROSS JOIN counted c INDEXED BY counted_record ON c.record_id = r.record_id
    WHERE {_COUNTED_BEFORE}
),
owner_moves AS (
    SELECT owner, day, SUM(sign) AS moved FROM member_moves
    WHERE owner IS NOT NULL GROUP BY owner, day
    UNION ALL
    SELECT owner, :first - 1, COUNT(*) FROM owners_before GROUP BY owner
),
owner_counts AS (
    SELECT day, moved, SUM(moved) OVER (PARTITION BY owner ORDER BY day) AS now
    FROM owner_moves
),
own_moves AS MATERIALIZED (
    SELECT *, parent NOT IN shared_parents AS alone FROM member_moves
),
steps AS (
    SELECT day, '' AS key, '' AS value, split, SUM(sign) AS records,
           SUM(sign * alone) AS parents, SUM(sign * file_count) AS file_count,
           SUM(sign * volume) AS volume, 0 AS uploaders
    FROM own_moves GROUP BY day, split
    UNION ALL
    SELECT m.day, v.key, v.value, m.split, SUM(m.sign), SUM(m.sign * m.alone),
           SUM(m.sign * v.file_count), SUM(m.sign * v.volume), 0
    FROM own_moves m JOIN record_values v USING (record_id)
    GROUP BY m.day, v.key, v.value, m.split
    UNION ALL
    SELECT day, key, value, split, 0, SUM((now > 0) - (now - moved > 0)), 0, 0, 0
    FROM parent_counts WHERE day >= :first GROUP BY day, key, value, split
    UNION ALL
    SELECT day, '', '', 0, 0, 0, 0, 0, SUM((now > 0) - (now - moved > 0))
    FROM owner_counts WHERE day >= :first GROUP BY day
)
SELECT day, key, value, split, SUM(records), SUM(parents), SUM(file_count), SUM(volume),
       SUM(uploaders)
FROM steps
GROUP BY day, key, value, split
HAVING SUM(records) OR SUM(parents) OR SUM(file_count) OR SUM(volume) OR SUM(uploaders)
ORDER BY day
"""
"""Per day of ``[first, last]``: how each group's totals change. A parent with one record
in the workspace is present exactly when its record counts, so its presence steps are
its record's; the presence counts of the parents shared by several records, and of the
owners, that move start from their records counted the day before."""


def _totals_sql(scoped: bool) -> str:
    """Totals at the end of ``:day``, of everything or of the scope tables' share.

    Scoped: records and files of the ``scope_records``, distinct parents among the
    ``scope_parents``, distinct owners among the ``scope_owners``. Those read the scope
    first (``CROSS JOIN`` keeps SQLite's order) and only their records' intervals, so
    the cost follows the scope, not the community.
    """
    counted = "c.basis = :basis AND c.start <= :day AND (c.stop IS NULL OR c.stop > :day)"
    if scoped:
        on = (
            "CROSS JOIN counted c INDEXED BY counted_record"
            f" ON c.record_id = r.record_id AND {counted}"
        )
        counts = f"scope_records s CROSS JOIN records r ON r.record_id = s.record_id {on}"
        parents = (
            f"scope_parents s CROSS JOIN records r INDEXED BY records_parent"
            f" ON r.parent = s.parent {on}"
        )
        values = "CROSS JOIN record_values v ON v.record_id = r.record_id"
        # an owner counts once one of their records does: no need to see them all
        owners = f"""
SELECT '', '', 0, 0, 0, 0, 0, COUNT(*) FROM scope_owners s
WHERE EXISTS (SELECT 1 FROM records r INDEXED BY records_owner {on} WHERE r.owner = s.owner)"""
    else:
        counts = parents = f"records r JOIN counted c ON c.record_id = r.record_id AND {counted}"
        values = "JOIN record_values v ON v.record_id = r.record_id"
        owners = f"""
SELECT '', '', 0, 0, 0, 0, 0, COUNT(DISTINCT r.owner) FROM {counts} WHERE r.owner IS NOT NULL"""
    return f"""
SELECT '', '', r.split, COUNT(*), 0, SUM(r.file_count), SUM(r.volume), 0
FROM {counts} GROUP BY r.split
UNION ALL
SELECT v.key, v.value, r.split, COUNT(*), 0, SUM(v.file_count), SUM(v.volume), 0
FROM {counts} {values} GROUP BY v.key, v.value, r.split
UNION ALL
SELECT '', '', r.split, 0, COUNT(DISTINCT r.parent), 0, 0, 0
FROM {parents} GROUP BY r.split
UNION ALL
SELECT v.key, v.value, r.split, 0, COUNT(DISTINCT r.parent), 0, 0, 0
FROM {parents} {values} GROUP BY v.key, v.value, r.split
UNION ALL{owners}
"""


def workspace_dir() -> Path | None:
    """Where workspaces are kept (``COMMUNITY_STATS_WORKSPACE_DIR``); None: not kept."""
    configured = current_app.config.get("COMMUNITY_STATS_WORKSPACE_DIR", "instance")
    if not configured:
        return None
    if configured == "instance":
        return Path(current_app.instance_path) / "community-stats-workspaces"
    return Path(configured)


@dataclass
class _Rows:
    """Rows of a page of records for the workspace's tables."""

    members: list[tuple] = field(default_factory=list)
    counted: list[tuple] = field(default_factory=list)
    records: list[tuple] = field(default_factory=list)
    values: list[tuple] = field(default_factory=list)


class RecordsWorkspace:
    """The database of one community's records (kept on disk, or temporary)."""

    def __init__(
        self,
        community_id: str,
        keys: list[str],
        earliest: date,
        edits: RecentEdits | None = None,
    ):
        """Open (or create) the community's database for these subcount keys.

        ``edits``: the run's reads of the records edited lately, shared by its workspaces.
        """
        self.community_id = community_id
        self.edits = edits or RecentEdits()
        self.settings = json.dumps({"keys": sorted(keys), "earliest": earliest.isoformat()})
        self.keys = keys
        self.earliest = earliest
        self.labels: dict[str, dict[str, str]] = {}
        self.kept: dict[tuple[str, date], SnapshotTotals] = {}
        self.path = None
        folder = workspace_dir()
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            self.path = folder / f"{community_id}.sqlite"
        self.db = self._connect()

    def _connect(self) -> sqlite3.Connection:
        """Open the database; an unreadable file is replaced by an empty one."""
        try:
            return self._open()
        except sqlite3.DatabaseError:
            self._remove()
            return self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(str(self.path) if self.path else "", isolation_level=None)
        try:
            for pragma in (
                f"cache_size = -{CACHE_KIB}",
                "synchronous = OFF",
                "temp_store = FILE",
            ):
                db.execute(f"PRAGMA {pragma}")
            db.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def _remove(self) -> None:
        if self.path is not None:
            for suffix in ("", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        """Close the database (a temporary one is deleted)."""
        self.db.close()

    def __enter__(self) -> RecordsWorkspace:
        """Use as a context manager: closed on exit."""
        return self

    def __exit__(self, *exc) -> None:
        """Close."""
        self.close()

    # ------------------------------------------------------------------ loading
    def load(self, keep_alive: Callable[[], None] = lambda: None) -> str:
        """Bring the contents up to date with the community's history and records.

        Returns how: ``"full"`` (everything read) or ``"changes"`` (only the records
        written or edited since the last load).
        """
        began = utc_now()
        fingerprint = history_fingerprint(self.community_id)
        meta = self._meta()
        how = "full"
        kept_indices = json.loads(meta.get("indices") or "null")
        if (
            meta.get("format") == FORMAT
            and meta.get("settings") == self.settings
            and isinstance(kept_indices, dict)
            and kept_indices.items() <= fingerprint[1].items()
            and meta.get("loaded")
        ):
            if self._load_changes(to_datetime(meta["loaded"]), keep_alive):
                how = "changes"
        if how == "changes" and self._events() != fingerprint[0]:
            how = "full"  # events deleted, or written with an old stamp: read again
        if how == "full":
            self._load_all(keep_alive)
        indices = json.dumps(fingerprint[1])
        self._set_meta(format=FORMAT, settings=self.settings, indices=indices, loaded=began)
        self.labels = json.loads(self._meta().get("labels") or "{}")
        return how

    def _meta(self) -> dict[str, str]:
        try:
            return dict(self.db.execute("SELECT name, value FROM meta"))
        except sqlite3.DatabaseError:
            return {}

    def _set_meta(self, **values) -> None:
        self.db.executemany(
            "INSERT OR REPLACE INTO meta VALUES (?, ?)",
            [(k, v.isoformat() if isinstance(v, datetime) else str(v)) for k, v in values.items()],
        )

    def _events(self) -> int:
        return self.db.execute("SELECT COALESCE(SUM(events), 0) FROM members").fetchone()[0]

    def _load_all(self, keep_alive: Callable[[], None]) -> None:
        """Empty the database and read the community's whole history and records."""
        self.db.close()
        self._remove()
        self.db = self._connect()
        self.db.executescript(_SCHEMA)
        labels: dict[str, dict[str, str]] = {}
        db = self.db
        db.execute("BEGIN")
        db.execute(f"CREATE TEMP TABLE events ({', '.join(HISTORY_FIELDS)})")
        insert = f"INSERT INTO events VALUES ({', '.join('?' * len(HISTORY_FIELDS))})"
        for batch in chunks(community_events(self.community_id, page_size()), page_size()):
            db.executemany(insert, [[e.get(f) for f in HISTORY_FIELDS] for e in batch])
            keep_alive()
        cursor = db.execute(f"SELECT {', '.join(HISTORY_FIELDS)} FROM events ORDER BY record_id")
        events = (dict(zip(HISTORY_FIELDS, row, strict=True)) for row in cursor)
        for page in chunks(member_histories(events), page_size()):
            self._write(self._rows(page, labels))
            keep_alive()
        db.execute("DROP TABLE events")
        self._set_meta(labels=json.dumps(labels))
        self.db.execute("COMMIT")

    def _load_changes(self, loaded: datetime, keep_alive: Callable[[], None]) -> bool:
        """Read again the records written or edited since ``loaded``; False: read all."""
        since = loaded.replace(microsecond=0) - edit_margin()
        touched = records_written_since(self.community_id, since)
        edited = sorted(self.edits.since(since))
        db = self.db
        db.executescript(_SCOPE)
        for chunk in chunks(edited, 1000):
            db.executemany("INSERT OR IGNORE INTO scope_records VALUES (?)", [(r,) for r in chunk])
        touched.update(
            row[0]
            for row in db.execute(
                "SELECT record_id FROM scope_records JOIN members USING (record_id)"
            )
        )
        db.execute("DELETE FROM scope_records")
        if not touched:
            return True
        (members,) = db.execute("SELECT COUNT(*) FROM members").fetchone()
        if len(touched) > REREAD_SHARE * max(members, 1):
            return False
        labels = json.loads(self._meta().get("labels") or "{}")
        history = community_history(self.community_id, touched, page_size())
        rows = [self._rows(page, labels) for page in chunks(history, page_size())]
        keep_alive()
        db.execute("BEGIN")
        db.executemany("INSERT INTO scope_records VALUES (?)", [(r,) for r in touched])
        self._widen_scope()  # the parents and owners they had ...
        for new in rows:  # ... and have now
            db.executemany(
                "INSERT OR IGNORE INTO scope_parents VALUES (?)", [(r[1],) for r in new.records]
            )
            db.executemany(
                "INSERT OR IGNORE INTO scope_owners VALUES (?)",
                [(r[2],) for r in new.records if r[2] is not None],
            )
        totals = self._stored_totals()
        for (basis, day), state in totals.items():
            state.apply(self._scoped_totals(basis, day), sign=-1)
        for table in ("members", "counted", "records", "record_values"):
            db.execute(f"DELETE FROM {table} WHERE record_id IN (SELECT * FROM scope_records)")
        for new in rows:
            self._write(new)
        for (basis, day), state in totals.items():
            state.apply(self._scoped_totals(basis, day), sign=+1)
            self._store_totals(basis, day, state)
        self._set_meta(labels=json.dumps(labels))
        db.execute("COMMIT")
        return True

    def _widen_scope(self) -> None:
        """Add the parents and owners the scope's records have in the database."""
        self.db.execute(
            "INSERT OR IGNORE INTO scope_parents SELECT parent FROM records"
            " WHERE record_id IN (SELECT * FROM scope_records)"
        )
        self.db.execute(
            "INSERT OR IGNORE INTO scope_owners SELECT owner FROM records"
            " WHERE owner IS NOT NULL AND record_id IN (SELECT * FROM scope_records)"
        )

    def _rows(
        self, page: list[tuple[str, MemberHistory]], labels: dict[str, dict[str, str]]
    ) -> _Rows:
        """The rows of a page of records: their history in the community, their facts."""
        is_global = self.community_id == GLOBAL
        rows = _Rows(members=[(rid, len(history.changes)) for rid, history in page])
        for record_id, history in page:
            membership = membership_of(history)
            for number, basis in enumerate(BASES):
                for start, end in counted_intervals(membership, basis, is_global, self.earliest):
                    stop = end.toordinal() if end is not None else None
                    rows.counted.append((number, record_id, start.toordinal(), stop))
        if not rows.counted:
            return rows
        facts = load_facts({row[1] for row in rows.counted}, self.keys, labels)
        for rid, f in facts.items():
            rows.records.append((rid, f.parent, f.owner, int(f.with_files), f.file_count, f.volume))
            rows.values.extend(
                (rid, key, value, *f.file_metrics(key, value))
                for key, values in f.values.items()
                for value in values
            )
        return rows

    def _write(self, rows: _Rows) -> None:
        db = self.db
        db.executemany("INSERT INTO members VALUES (?, ?)", rows.members)
        db.executemany("INSERT INTO counted VALUES (?, ?, ?, ?)", rows.counted)
        db.executemany("INSERT INTO records VALUES (?, ?, ?, ?, ?, ?)", rows.records)
        db.executemany("INSERT INTO record_values VALUES (?, ?, ?, ?, ?)", rows.values)

    # ------------------------------------------------------------------ totals
    def _stored_totals(self) -> dict[tuple[str, date], SnapshotTotals]:
        found = {}
        for basis, day, state in self.db.execute("SELECT basis, day, state FROM totals"):
            totals = SnapshotTotals(SubcountConfig(kinds=dict.fromkeys(self.keys, "all")))
            totals.restore(json.loads(state))
            found[(BASES[basis], date.fromordinal(day))] = totals
        return found

    def _store_totals(self, basis: str, day: date, totals: SnapshotTotals) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO totals VALUES (?, ?, ?)",
            (BASES.index(basis), day.toordinal(), json.dumps(totals.dump())),
        )

    def _scoped_totals(self, basis: str, day: date) -> list[SnapshotStep]:
        params = {"basis": BASES.index(basis), "day": day.toordinal()}
        return [SnapshotStep(*row) for row in self.db.execute(_totals_sql(True), params)]

    def starting_totals(
        self, basis: str, first: date, subcounts: SubcountConfig
    ) -> tuple[SnapshotTotals, date]:
        """Totals to walk from towards ``first``, and the day after them.

        The totals kept at an earlier bookmark (the days since follow from the steps;
        copies of a community without news moved its bookmarks without reading it), or
        else the sums over every record counted the day before ``first``.
        """
        totals = SnapshotTotals(subcounts)
        row = self.db.execute(
            "SELECT day, state FROM totals WHERE basis = ? AND day < ? ORDER BY day DESC LIMIT 1",
            (BASES.index(basis), first.toordinal()),
        ).fetchone()
        if row is not None:
            totals.restore(json.loads(row[1]))
            return totals, date.fromordinal(row[0] + 1)
        params = {"basis": BASES.index(basis), "day": first.toordinal() - 1}
        totals.apply(SnapshotStep(*row) for row in self.db.execute(_totals_sql(False), params))
        return totals, first

    def keep_totals(self, basis: str, day: date | None) -> None:
        """Keep the totals of ``day`` (a snapshot bookmark) for the next run, if walked."""
        totals = self.kept.get((basis, day)) if day is not None else None
        if totals is not None:
            self.db.execute("BEGIN")
            self.db.execute("DELETE FROM totals WHERE basis = ?", (BASES.index(basis),))
            self._store_totals(basis, day, totals)
            self.db.execute("COMMIT")

    # ------------------------------------------------------------------ numbers
    def first_day(self, basis: str) -> date | None:
        """The series start under a basis: the first day a record enters the counts."""
        (day,) = self.db.execute(
            "SELECT MIN(start) FROM counted WHERE basis = ?", (BASES.index(basis),)
        ).fetchone()
        return date.fromordinal(day) if day is not None else None

    def delta_bodies(
        self, basis: str, first: date, last: date, subcounts: SubcountConfig
    ) -> Iterator[tuple[date, dict]]:
        """``(day, delta metrics)`` of every day from ``first`` to ``last``."""
        cursor = self.db.execute(
            _DELTA_SQL,
            {
                "basis": BASES.index(basis),
                "first": first.toordinal(),
                "last": last.toordinal(),
                "uploaders": UPLOADERS,
            },
        )
        empty = None
        for ordinal, rows in _by_day(cursor, first, last):
            if rows:
                yield date.fromordinal(ordinal), delta_body(map(_delta_row, rows), subcounts)
            else:
                empty = empty or delta_body([], subcounts)
                yield date.fromordinal(ordinal), empty

    def snapshot_bodies(
        self,
        basis: str,
        first: date,
        last: date,
        subcounts: SubcountConfig,
        keep: Iterable[date] = (),
    ) -> Iterator[tuple[date, dict]]:
        """``(day, snapshot metrics)`` of every day from ``first`` to ``last``.

        Starts from :meth:`starting_totals`; the totals of the ``keep`` days are kept
        for :meth:`keep_totals`.
        """
        keep = set(keep)
        totals, start = self.starting_totals(basis, first, subcounts)
        cursor = self.db.execute(
            _STEPS_SQL,
            {"basis": BASES.index(basis), "first": start.toordinal(), "last": last.toordinal()},
        )
        body = None
        for ordinal, rows in _by_day(cursor, start, last):
            if rows:
                totals.apply(map(_step, rows))
                body = None
            day = date.fromordinal(ordinal)
            if day in keep:
                self.kept[(basis, day)] = totals.copy()
            if day >= first:
                body = body or totals.body()
                yield day, body


def _delta_row(row: tuple) -> DeltaRow:
    return DeltaRow(*row[1:])


def _step(row: tuple) -> SnapshotStep:
    return SnapshotStep(*row[1:])


def _by_day(cursor: Iterable[tuple], first: date, last: date) -> Iterator[tuple[int, list]]:
    """``(day ordinal, rows of that day)`` for every day of the range (rows sorted by day)."""
    grouped = groupby(cursor, key=lambda row: row[0])
    pending = next(grouped, None)
    for ordinal in range(first.toordinal(), last.toordinal() + 1):
        if pending is not None and pending[0] == ordinal:
            rows = list(pending[1])
            pending = next(grouped, None)
            yield ordinal, rows
        else:
            yield ordinal, []
