"""The counting rules of the records aggregations and the shape of their documents.

Input: each member record's member days and dates (its membership history read by the
one rule of :mod:`~invenio_stats_dashboard.membership.model`). Output: the intervals in
which it counts under a date basis (:func:`counted_intervals`); the per-day sums over
records that :mod:`.workspace` computes become delta bodies (:func:`delta_body`) and
running snapshot totals (:class:`SnapshotTotals`). No search requests happen here.

Counting rule (data model, "Date bases"): under basis B a record counts for a community
on day d when d >= basis day and (d is inside one of its membership intervals
``[added day, removed day)``, or d is before its first addition). So the created and
published bases attribute a record from its created / publication day even when it joined
later; every basis stops counting on removal or deletion, and a re-addition (restore)
counts again. For "global" the added basis is the record's created day. Days before
``COMMUNITY_STATS_EARLIEST_DATE`` are folded onto that day.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date

from ...membership.model import Interval, day_intervals
from ...membership.store import MemberHistory
from ..subcounts import ranked

SPLITS = ("metadata_only", "with_files")
BASES = ("created", "published", "added")


@dataclass(slots=True)
class Membership:
    """One record's member days in one community, and its dates."""

    intervals: list[Interval]
    """Sorted, disjoint, non-touching ``[start, end)`` day intervals; end None = still in."""
    created: date | None = None
    published: date | None = None


def membership_of(history: MemberHistory) -> Membership:
    """A record's stored history in one community, read by the one membership rule."""
    return Membership(day_intervals(history.changes), history.created, history.published)


def basis_day(membership: Membership, basis: str, is_global: bool) -> date | None:
    """The day a record enters the counts under a basis (before clamping)."""
    if not membership.intervals:
        return None
    first_added = membership.intervals[0][0]
    created = membership.created or first_added
    if basis == "created":
        return created
    if basis == "published":
        return membership.published or created
    return created if is_global else first_added


def counted_intervals(
    membership: Membership, basis: str, is_global: bool, earliest: date
) -> list[tuple[date, date | None]]:
    """The ``[start, end)`` intervals in which the record counts under a basis."""
    day = basis_day(membership, basis, is_global)
    if day is None:
        return []
    intervals = list(membership.intervals)
    if day < intervals[0][0]:
        intervals[0] = (day, intervals[0][1])
    result: list[tuple[date, date | None]] = []
    for start, end in intervals:
        start = max(start, day, earliest)
        if end is not None:
            end = max(end, earliest)
            if end <= start:
                continue
        result.append((start, end))
    return result


# --------------------------------------------------------------------------- documents
def _zero_split() -> dict[str, int]:
    return {"metadata_only": 0, "with_files": 0}


def _zero_files() -> dict[str, int]:
    return {"file_count": 0, "data_volume": 0}


@dataclass
class SubcountConfig:
    """Active subcount keys (key -> "all" | "top"), the top limit and the labels."""

    kinds: dict[str, str]
    limit: int = 20
    labels: dict[str, dict[str, str]] = field(default_factory=dict)

    def label(self, key: str, value: str) -> str:
        """Label of a value (the id when none is known)."""
        return self.labels.get(key, {}).get(value) or value


TOTAL = ""
"""The ``key`` (and ``value``) of a row about all records rather than one subcount value."""

UPLOADERS = "@uploaders"
"""The ``key`` of a delta row counting the distinct owners of the records entering."""

DIRECTIONS = ("added", "removed")


@dataclass(slots=True)
class DeltaRow:
    """Records entering (direction 0) or leaving (1) on one day, of one split and group."""

    key: str
    value: str
    direction: int
    split: int
    records: int
    parents: int
    """Distinct parents among these records."""
    file_count: int
    volume: int


def _delta_item(value: str, label: str) -> dict:
    return {
        "id": value,
        "label": label,
        "records": {"added": _zero_split(), "removed": _zero_split()},
        "parents": {"added": _zero_split(), "removed": _zero_split()},
        "files": {"added": _zero_files(), "removed": _zero_files()},
    }


def delta_body(rows: Iterable[DeltaRow], subcounts: SubcountConfig) -> dict:
    """Delta metrics of one day (without dates and ids) from that day's rows."""
    body = _delta_item("", "")
    del body["id"], body["label"]
    body["uploaders"] = 0
    items: dict[str, dict[str, dict]] = {key: {} for key in subcounts.kinds}
    for row in rows:
        if row.key == UPLOADERS:
            body["uploaders"] = row.records
            continue
        if row.key == TOTAL:
            target = body
        else:
            target = items[row.key].get(row.value)
            if target is None:
                label = subcounts.label(row.key, row.value)
                target = items[row.key][row.value] = _delta_item(row.value, label)
        direction, split = DIRECTIONS[row.direction], SPLITS[row.split]
        target["records"][direction][split] += row.records
        target["parents"][direction][split] += row.parents
        target["files"][direction]["file_count"] += row.file_count
        target["files"][direction]["data_volume"] += row.volume
    body["subcounts"] = {
        key: [
            item
            for _, item in ranked(
                items[key],
                lambda item: (
                    sum(item["records"]["added"].values())
                    + sum(item["records"]["removed"].values())
                ),
                kind,
                subcounts.limit,
            )
        ]
        for key, kind in subcounts.kinds.items()
    }
    return body


@dataclass(slots=True)
class SnapshotStep:
    """How one group's totals change on one day (records of one split)."""

    key: str
    value: str
    split: int
    records: int
    parents: int
    """Change in distinct parents present (a parent is present while a version counts)."""
    file_count: int
    volume: int
    uploaders: int
    """Change in distinct owners present (``TOTAL`` rows only)."""


class _Tally:
    """Member records, distinct parents and files of one group (all, or one value)."""

    __slots__ = ("records", "parents", "files")

    def __init__(self):
        self.records = [0, 0]
        self.parents = [0, 0]
        self.files = [0, 0]

    @property
    def total(self) -> int:
        return self.records[0] + self.records[1]

    def as_metrics(self) -> dict:
        return {
            "records": dict(zip(SPLITS, self.records, strict=True)),
            "parents": dict(zip(SPLITS, self.parents, strict=True)),
            "files": {"file_count": self.files[0], "data_volume": self.files[1]},
        }


class SnapshotTotals:
    """A community's totals at the end of a day, kept by applying each day's steps.

    Holds one tally per subcount value present, never the records.
    """

    def __init__(self, subcounts: SubcountConfig):
        """Start empty."""
        self.subcounts = subcounts
        self.total = _Tally()
        self.uploaders = 0
        self.values: dict[str, dict[str, _Tally]] = {key: {} for key in subcounts.kinds}

    def apply(self, steps: Iterable[SnapshotStep], sign: int = 1) -> None:
        """Apply one day's steps (``sign`` -1: take them back); drop emptied values."""
        emptied = []
        for step in steps:
            if step.key == TOTAL:
                tally = self.total
                self.uploaders += sign * step.uploaders
            else:
                tallies = self.values.setdefault(step.key, {})
                tally = tallies.get(step.value)
                if tally is None:
                    tally = tallies[step.value] = _Tally()
                emptied.append((step.key, step.value))
            tally.records[step.split] += sign * step.records
            tally.parents[step.split] += sign * step.parents
            tally.files[0] += sign * step.file_count
            tally.files[1] += sign * step.volume
        for key, value in emptied:
            tally = self.values[key].get(value)
            if tally is not None and tally.total == 0:
                del self.values[key][value]

    def dump(self) -> dict:
        """The totals as plain data (kept between runs)."""
        return {
            "total": _tally_dump(self.total),
            "uploaders": self.uploaders,
            "values": {
                key: {value: _tally_dump(tally) for value, tally in tallies.items()}
                for key, tallies in self.values.items()
            },
        }

    def restore(self, state: dict) -> None:
        """Take the totals of :meth:`dump`."""
        self.total = _tally_restore(state["total"])
        self.uploaders = state["uploaders"]
        for key, tallies in state["values"].items():
            self.values[key] = {value: _tally_restore(t) for value, t in tallies.items()}

    def copy(self) -> SnapshotTotals:
        """An independent copy."""
        twin = SnapshotTotals(self.subcounts)
        twin.restore(self.dump())
        return twin

    def body(self) -> dict:
        """Snapshot metrics (without dates and ids)."""
        metrics = self.total.as_metrics()
        subcounts = {}
        for key, kind in self.subcounts.kinds.items():
            items = ranked(self.values[key], lambda t: t.total, kind, self.subcounts.limit)
            subcounts[key] = [
                {"id": value, "label": self.subcounts.label(key, value), **tally.as_metrics()}
                for value, tally in items
            ]
        return {
            "total_records": metrics["records"],
            "total_parents": metrics["parents"],
            "total_files": metrics["files"],
            "total_uploaders": self.uploaders,
            "subcounts": subcounts,
        }


def _tally_dump(tally: _Tally) -> list[int]:
    return [*tally.records, *tally.parents, *tally.files]


def _tally_restore(numbers: list[int]) -> _Tally:
    tally = _Tally()
    tally.records, tally.parents, tally.files = numbers[0:2], numbers[2:4], numbers[4:6]
    return tally
