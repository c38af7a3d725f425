"""COUNTER's processing rules, applied to a time-ordered stream of usage events.

- Investigations are views and downloads, Requests are downloads (COUNTER R5.1 §3.3).
- Double clicks: two actions of one user-session on one item (the same file, for a
  download) within :data:`DOUBLE_CLICK_SECONDS` of each other count once: the first is
  removed and the second kept (§7.3). invenio-stats already merged events falling in the
  same fixed time bucket when it indexed them; this is COUNTER's sliding window on top.
- Unique_Item_*: the user-sessions with at least one such action on the item (§7.4). A
  user-session is invenio-stats' ``unique_session_id`` (the anonymised user, session or
  IP and user agent, within one hour: COUNTER's definition); events without it fall back
  to the day's ``visitor_id`` and the hour.
- Robots are left out by the reader (invenio-stats flags ``is_robot`` with COUNTER's
  robots list); machine traffic (``is_machine``) is ``Access_Method`` TDM, the rest Regular.

An event counts for every community in its ``community_ids`` (membership on the event's
day, set at enrichment) and for "global". Memory holds the events of the last 30 seconds
and the open days' user-session sets, whatever the volume.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from ..core.days import to_datetime
from ..core.ids import GLOBAL

DOUBLE_CLICK_SECONDS = 30
"""Two clicks this many seconds apart or closer are one (COUNTER R5.1 §7.3)."""

METRICS = (
    "Total_Item_Investigations",
    "Unique_Item_Investigations",
    "Total_Item_Requests",
    "Unique_Item_Requests",
)
"""The item metrics this package computes, in report order."""

TII, UII, TIR, UIR = range(4)

EVENT_FIELDS = [
    "timestamp",
    "recid",
    "community_ids",
    "unique_session_id",
    "visitor_id",
    "is_machine",
    "file_key",
    "file_id",
]
"""The enriched event fields the rules read."""

WINDOW = timedelta(seconds=DOUBLE_CLICK_SECONDS)

UsageKey = tuple[str, str, str]
"""``(community id, recid, access method)``."""


def access_method(event: dict) -> str:
    """COUNTER's Access_Method: machine traffic is text and data mining."""
    return "TDM" if event.get("is_machine") else "Regular"


def session_of(event: dict, moment: datetime) -> str:
    """The user-session of an event (invenio-stats' id, else visitor and hour)."""
    session = event.get("unique_session_id")
    if session:
        return str(session)
    return f"{event.get('visitor_id') or '-'}|{moment:%Y-%m-%dT%H}"


@dataclass
class DayUsage:
    """One day's metrics per (community, item, access method)."""

    day: date
    totals: dict[UsageKey, list[int]] = field(default_factory=lambda: defaultdict(lambda: [0] * 4))
    investigating: dict[UsageKey, set[str]] = field(default_factory=lambda: defaultdict(set))
    requesting: dict[UsageKey, set[str]] = field(default_factory=lambda: defaultdict(set))

    def metrics(self) -> dict[UsageKey, list[int]]:
        """``key -> [TII, UII, TIR, UIR]`` (user-session sets turned into counts)."""
        out = {}
        for key in set(self.totals) | set(self.investigating):
            values = list(self.totals.get(key, [0] * 4))
            values[UII] = len(self.investigating.get(key, ()))
            values[UIR] = len(self.requesting.get(key, ()))
            out[key] = values
        return out


@dataclass
class _Pending:
    moment: datetime
    day: date
    keys: tuple[UsageKey, ...]
    request: bool
    serial: int


class CounterRules:
    """Feed events in time order with :meth:`add`; completed days come out of it.

    A day is complete once the stream has passed its end by the double-click window (an
    event in the first seconds of the next day may still remove its last ones).
    """

    def __init__(self):
        self.pending: dict[tuple, _Pending] = {}
        self.queue: deque[tuple[tuple, int]] = deque()
        self.days: dict[date, DayUsage] = {}
        self.serial = 0

    def add(self, event: dict, download: bool) -> Iterator[DayUsage]:
        """Take one event (not a robot's); yield the days it completes."""
        moment = to_datetime(event["timestamp"])
        yield from self._advance(moment)
        day = moment.date()
        method = access_method(event)
        recid = str(event["recid"])
        communities = {*(event.get("community_ids") or []), GLOBAL}
        keys = tuple((cid, recid, method) for cid in sorted(communities))
        session = session_of(event, moment)
        usage = self._day(day)
        for key in keys:
            usage.investigating[key].add(session)
            if download:
                usage.requesting[key].add(session)
        target = (event.get("file_id") or event.get("file_key") or "") if download else ""
        click = (session, recid, download, target)
        # an earlier click within the window is removed: only the later one will count
        self.serial += 1
        self.pending[click] = _Pending(moment, day, keys, download, self.serial)
        self.queue.append((click, self.serial))

    def finish(self) -> Iterator[DayUsage]:
        """The stream ended: every pending click counts; yield the remaining days."""
        yield from self._advance(None)

    def _day(self, day: date) -> DayUsage:
        usage = self.days.get(day)
        if usage is None:
            usage = self.days[day] = DayUsage(day)
        return usage

    def _advance(self, moment: datetime | None) -> Iterator[DayUsage]:
        """Count the clicks no later click can remove any more; yield completed days."""
        horizon = None if moment is None else moment - WINDOW
        while self.queue:
            click, serial = self.queue[0]
            entry = self.pending.get(click)
            if entry is not None and entry.serial == serial:
                if horizon is not None and entry.moment >= horizon:
                    break
                del self.pending[click]
                totals = self._day(entry.day).totals
                for key in entry.keys:
                    values = totals[key]
                    values[TII] += 1
                    if entry.request:
                        values[TIR] += 1
            self.queue.popleft()
        for day in sorted(self.days):
            if moment is not None and moment < datetime.combine(day, datetime.min.time()) + (
                timedelta(days=1) + WINDOW
            ):
                break
            yield self.days.pop(day)
