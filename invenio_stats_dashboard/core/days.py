"""UTC days and datetimes: the package's one place for dates.

Every day in the statistics is a UTC day. Stored moments are naive UTC datetimes (as
Invenio stores them) or ISO 8601 text with or without an offset; search aggregations
return epoch milliseconds. Whatever the form, :func:`to_datetime` and :func:`day_of`
turn it into UTC, so a timestamp written with an offset is never counted on the wrong
day (slicing the first ten characters of ``2024-01-01T23:30:00-05:00`` would be).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

DAY_FORMAT = "YYYY-MM-DD"


class InvalidDate(ValueError):
    """A date given by a user is not a ``YYYY-MM-DD`` day (the message says which)."""


def utc_now() -> datetime:
    """Now, as a naive UTC datetime (how Invenio stores moments)."""
    return datetime.now(UTC).replace(tzinfo=None)


def utc_today() -> date:
    """Today's UTC day."""
    return datetime.now(UTC).date()


def parse_day(value: str | date | None, name: str = "date") -> date | None:
    """A user's ``YYYY-MM-DD`` as a date (None stays None).

    Raises :class:`InvalidDate` naming the option (``name``) and the value.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidDate(f"{name} must be a day as {DAY_FORMAT}, not {value!r}") from None


def check_range(start: date | None, end: date | None) -> None:
    """Raise :class:`InvalidDate` when ``start`` is after ``end``."""
    if start is not None and end is not None and start > end:
        raise InvalidDate(f"the start date {start} is after the end date {end}")


def to_datetime(value) -> datetime | None:
    """A stored moment as a naive UTC datetime (None and "" stay None).

    Takes a datetime (aware or naive UTC), a date (its midnight), epoch milliseconds (a
    search aggregation's value) or ISO 8601 text with or without an offset.
    """
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, UTC).replace(tzinfo=None)
    else:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


def day_of(value) -> date | None:
    """The UTC day of a stored moment (any form :func:`to_datetime` takes)."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    moment = to_datetime(value)
    return moment.date() if moment is not None else None


def iso(value: datetime | date | None) -> str | None:
    """ISO text of a naive UTC datetime or a date, as stored in this package's indices."""
    return value.isoformat() if value is not None else None


def day_start(day: date) -> str:
    """``YYYY-MM-DDT00:00:00``: the first moment of a day, as stored text."""
    return f"{day.isoformat()}T00:00:00"


def day_period(day: date) -> dict[str, str]:
    """``period_start``/``period_end`` of a delta document: the day's first and last second.

    Record and usage deltas carry the same form (the reference implementation's).
    """
    return {"period_start": day_start(day), "period_end": f"{day.isoformat()}T23:59:59"}


def days(start: date, end: date) -> Iterator[date]:
    """Every day from ``start`` to ``end``, both included."""
    day = start
    while day <= end:
        yield day
        day += timedelta(days=1)


def day_range_query(field: str, start: date | None, end: date | None) -> dict | None:
    """A range filter on ``field`` covering whole UTC days ``start``..``end`` (inclusive).

    The end is an exclusive bound on the next day, so every moment of the last day is
    in, whatever the stored precision. None when both bounds are open.
    """
    bounds = {}
    if start is not None:
        bounds["gte"] = start.isoformat()
    if end is not None:
        bounds["lt"] = (end + timedelta(days=1)).isoformat()
    return {"range": {field: bounds}} if bounds else None


_EDTF_START = re.compile(r"^\s*(\d{4})(?:-(\d{2}))?(?:-(\d{2}))?")


def edtf_first_day(edtf: str | None) -> date | None:
    """First day of an EDTF date or interval (``2016`` -> 2016-01-01, ``2016-05/2017``).

    The published basis and the history's ``record_published_date`` use it. Year 0000
    (1 BCE) and unparseable values give None.
    """
    if not edtf:
        return None
    match = _EDTF_START.match(str(edtf).split("/")[0])
    if not match:
        return None
    year, month, day = (int(part) if part else 1 for part in match.groups())
    if year < 1:
        return None
    month = min(max(month, 1), 12)
    try:
        return date(year, month, max(day, 1))
    except ValueError:
        return date(year, month, 1)
