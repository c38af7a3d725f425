"""The one membership rule: whether a record is a member of a community, and on which days.

The history of a record in a community is a set of "added" and "removed" events, each
at a moment. It is read in one explicit order, never in the order a search returned it:

1. chronologically by moment;
2. events at the same moment form a group. A group holding both kinds leaves the
   membership as it was before the moment (a join and a leave at one instant cancel:
   a record deleted "at" its backfilled entry never was a member; a leave and re-join
   at one instant keep it a member). Otherwise its kind decides;
3. an "added" while a member, or a "removed" while not one, changes nothing.

Statistics count by UTC day: a record is a member on the days ``[added day, removed
day)``. Usage on the day it joined counts, usage on the day it left does not; joining
and leaving on the same day leaves no member day; leaving and re-joining on the same day
keeps the day. The membership history planner, the records aggregations and the usage
enrichment all answer through this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby

ADDED = "added"
REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class Change:
    """One membership event: its moment (naive UTC) and kind (``added``/``removed``)."""

    moment: datetime
    kind: str


Interval = tuple[date, date | None]
"""``[first member day, first day no longer a member)``; None: still a member."""


def fold(changes: Iterable[Change]) -> list[tuple[datetime, datetime | None]]:
    """Moment intervals ``[joined, left)`` of the membership (left None: still in)."""
    ordered = sorted(changes, key=lambda change: change.moment)
    spans: list[tuple[datetime, datetime | None]] = []
    joined: datetime | None = None
    for moment, group in groupby(ordered, key=lambda change: change.moment):
        kinds = {change.kind for change in group}
        if len(kinds) > 1:
            continue  # a join and a leave at one instant cancel
        if ADDED in kinds and joined is None:
            joined = moment
        elif REMOVED in kinds and joined is not None:
            spans.append((joined, moment))
            joined = None
    if joined is not None:
        spans.append((joined, None))
    return spans


def is_member_after(changes: Iterable[Change]) -> bool:
    """True when the history ends with the record a member."""
    spans = fold(changes)
    return bool(spans) and spans[-1][1] is None


def day_intervals(changes: Iterable[Change]) -> list[Interval]:
    """Member days as sorted, disjoint, non-touching ``[start, end)`` day intervals."""
    intervals: list[Interval] = []
    for joined, left in fold(changes):
        start = joined.date()
        end = left.date() if left is not None else None
        if end is not None and end <= start:
            continue  # joined and left on the same day
        if intervals and intervals[-1][1] is not None and intervals[-1][1] >= start:
            intervals[-1] = (intervals[-1][0], end)
        else:
            intervals.append((start, end))
    return intervals


def member_on(intervals: Iterable[Interval], day: date) -> bool:
    """True when ``day`` is a member day of these intervals."""
    return any(start <= day and (end is None or day < end) for start, end in intervals)


def last_moment(changes: Iterable[Change]) -> datetime | None:
    """The moment of the latest event (None for an empty history)."""
    return max((change.moment for change in changes), default=None)
