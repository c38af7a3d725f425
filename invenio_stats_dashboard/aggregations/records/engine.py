"""Pure computation of the records delta and snapshot series of one community.

Input: each member record's member days and dates (its membership history read by the
one rule of :mod:`~invenio_stats_dashboard.membership.model`) and its
:class:`RecordFacts`. Output: per day, the
records entering and leaving the counts under a date basis, and the running state from
which snapshot documents are built. No search requests happen here.

Counting rule (data model, "Date bases"): under basis B a record counts for a community
on day d when d >= basis day and (d is inside one of its membership intervals
``[added day, removed day)``, or d is before its first addition). So the created and
published bases attribute a record from its created / publication day even when it joined
later; every basis stops counting on removal or deletion, and a re-addition (restore)
counts again. For "global" the added basis is the record's created day. Days before
``COMMUNITY_STATS_EARLIEST_DATE`` are folded onto that day.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

from ...membership.model import Interval, day_intervals
from ...membership.store import MemberHistory
from ..subcounts import ranked
from .facts import RecordFacts

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


@dataclass
class DayChanges:
    """Records entering and leaving the counts, by day."""

    entering: dict[date, list[str]] = field(default_factory=lambda: defaultdict(list))
    leaving: dict[date, list[str]] = field(default_factory=lambda: defaultdict(list))

    @property
    def first_day(self) -> date | None:
        """The series start: the first day a record enters."""
        return min(self.entering) if self.entering else None

    def days(self) -> list[date]:
        """Every day with a change, sorted."""
        return sorted(set(self.entering) | set(self.leaving))


def day_changes(
    memberships: dict[str, Membership], basis: str, is_global: bool, earliest: date
) -> DayChanges:
    """Index the entering / leaving days of every record under a basis."""
    changes = DayChanges()
    for record_id, membership in memberships.items():
        for start, end in counted_intervals(membership, basis, is_global, earliest):
            changes.entering[start].append(record_id)
            if end is not None:
                changes.leaving[end].append(record_id)
    return changes


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


def delta_body(
    entering: list[str],
    leaving: list[str],
    facts: dict[str, RecordFacts],
    subcounts: SubcountConfig,
) -> dict:
    """Delta metrics of one day (without dates and ids)."""
    body = {
        "records": {"added": _zero_split(), "removed": _zero_split()},
        "parents": {"added": _zero_split(), "removed": _zero_split()},
        "files": {"added": _zero_files(), "removed": _zero_files()},
        "uploaders": len({facts[r].owner for r in entering if facts[r].owner is not None}),
    }
    items: dict[str, dict[str, dict]] = {key: {} for key in subcounts.kinds}
    parent_sets: dict[tuple, set] = defaultdict(set)
    for direction, record_ids in (("added", entering), ("removed", leaving)):
        for record_id in record_ids:
            record = facts[record_id]
            split = record.split
            body["records"][direction][split] += 1
            parent_sets[(None, None, direction, split)].add(record.parent)
            count, volume = record.file_metrics()
            body["files"][direction]["file_count"] += count
            body["files"][direction]["data_volume"] += volume
            for key in subcounts.kinds:
                for value in record.values.get(key, ()):
                    item = items[key].get(value)
                    if item is None:
                        item = items[key][value] = {
                            "id": value,
                            "label": subcounts.label(key, value),
                            "records": {"added": _zero_split(), "removed": _zero_split()},
                            "parents": {"added": _zero_split(), "removed": _zero_split()},
                            "files": {"added": _zero_files(), "removed": _zero_files()},
                        }
                    item["records"][direction][split] += 1
                    parent_sets[(key, value, direction, split)].add(record.parent)
                    count, volume = record.file_metrics(key, value)
                    item["files"][direction]["file_count"] += count
                    item["files"][direction]["data_volume"] += volume
    for (key, value, direction, split), parents in parent_sets.items():
        target = body if key is None else items[key][value]
        target["parents"][direction][split] = len(parents)
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


class _Tally:
    """Member records, distinct parents and files of one group (all, or one value)."""

    __slots__ = ("records", "parent_counts", "parents", "files")

    def __init__(self):
        self.records = _zero_split()
        self.parent_counts: Counter = Counter()
        self.parents = _zero_split()
        self.files = [0, 0]

    def apply(self, split: str, parent: str, count: int, volume: int, sign: int) -> None:
        self.records[split] += sign
        key = (parent, split)
        before = self.parent_counts[key]
        after = before + sign
        if after:
            self.parent_counts[key] = after
        else:
            del self.parent_counts[key]
        if before == 0 and after > 0:
            self.parents[split] += 1
        elif before > 0 and after == 0:
            self.parents[split] -= 1
        self.files[0] += sign * count
        self.files[1] += sign * volume

    @property
    def total(self) -> int:
        return self.records["metadata_only"] + self.records["with_files"]

    def as_metrics(self) -> dict:
        return {
            "records": dict(self.records),
            "parents": dict(self.parents),
            "files": {"file_count": self.files[0], "data_volume": self.files[1]},
        }


class SnapshotState:
    """The member records of a community at the end of a day, as running tallies."""

    def __init__(self, facts: dict[str, RecordFacts], subcounts: SubcountConfig):
        """Start empty."""
        self.facts = facts
        self.subcounts = subcounts
        self.total = _Tally()
        self.owners: Counter = Counter()
        self.values: dict[str, dict[str, _Tally]] = {key: {} for key in subcounts.kinds}

    def apply(self, record_id: str, sign: int) -> None:
        """Add (+1) or remove (-1) a member record."""
        record = self.facts[record_id]
        split = record.split
        count, volume = record.file_metrics()
        self.total.apply(split, record.parent, count, volume, sign)
        if record.owner is not None:
            self.owners[record.owner] += sign
            if not self.owners[record.owner]:
                del self.owners[record.owner]
        for key in self.subcounts.kinds:
            tallies = self.values[key]
            for value in record.values.get(key, ()):
                tally = tallies.get(value)
                if tally is None:
                    tally = tallies[value] = _Tally()
                count, volume = record.file_metrics(key, value)
                tally.apply(split, record.parent, count, volume, sign)
                if tally.total == 0:
                    del tallies[value]

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
            "total_uploaders": len(self.owners),
            "subcounts": subcounts,
        }


def _apply(state: SnapshotState, changes: DayChanges, day: date) -> None:
    for record_id in changes.leaving.get(day, ()):
        state.apply(record_id, -1)
    for record_id in changes.entering.get(day, ()):
        state.apply(record_id, +1)


def walk_days(
    changes: DayChanges, state: SnapshotState | None, emit_from: date, emit_to: date
) -> Iterator[tuple[date, list[str], list[str], bool]]:
    """Apply changes day by day; yield ``(day, entering, leaving, changed)`` in the range.

    Days before ``emit_from`` are applied silently (they build the state); ``state``
    holds the end-of-day membership when a day is yielded. Without a state (deltas)
    only the day lists are yielded.
    """
    change_days = changes.days()
    position = 0
    while state is not None and position < len(change_days) and change_days[position] < emit_from:
        _apply(state, changes, change_days[position])
        position += 1
    day = emit_from
    while day <= emit_to:
        entering = changes.entering.get(day, [])
        leaving = changes.leaving.get(day, [])
        if state is not None:
            _apply(state, changes, day)
        yield day, entering, leaving, bool(entering or leaving)
        day += timedelta(days=1)
