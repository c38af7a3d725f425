"""Strict parsing of the legacy (CORE) dates and of the command's day bounds.

Legacy values seen on the live site: ``YYYY-MM-DDTHH:MM:SSZ`` mostly, also ``""``,
a date only, naive datetimes (taken as UTC) and datetimes with an offset (converted
to UTC). Anything else (``03/08/2017``, ``2017/2018``, ``2017-02-30``,
``0000-00-00 00:00:00``) is rejected: it is reported per item, never guessed.
"""

import re
from datetime import UTC, date, datetime, time, timedelta

from invenio_stats_dashboard.core.days import parse_day as core_parse_day

_LEGACY_DATE = re.compile(
    r"""
    \d{4}-\d{2}-\d{2}                      # calendar date
    (?:[Tt\ ]\d{2}:\d{2}                   # time: hours and minutes
        (?::\d{2}(?:[.,]\d{1,6})?)?        # seconds, fraction
        (?:[Zz]|[+-]\d{2}(?::?\d{2})?)?    # UTC designator or offset
    )?
    """,
    re.VERBOSE,
)


class InvalidLegacyDate(ValueError):
    """A legacy creation date that is not a real calendar instant."""

    def __init__(self, value):
        """Keep the offending value in the message (the operator must find it)."""
        super().__init__(f"Invalid timestamp format: {value!r}")
        self.value = value


def as_utc(value: datetime) -> datetime:
    """The same instant as an aware UTC datetime (naive values are UTC already)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_legacy_date(value) -> datetime:
    """Parse a legacy creation date into an aware UTC datetime.

    Accepts ISO 8601 calendar dates with an optional time (``T`` or a space),
    optional seconds and fraction, and an optional ``Z`` or numeric offset. A
    date alone means midnight UTC; a naive time is UTC. Raises
    :class:`InvalidLegacyDate` for anything else, including impossible dates.
    """
    if not isinstance(value, str):
        raise InvalidLegacyDate(value)
    text = value.strip()
    if not _LEGACY_DATE.fullmatch(text):
        raise InvalidLegacyDate(value)
    text = text.replace(",", ".")
    if text[-1] in "Zz":
        text = text[:-1] + "+00:00"
    try:
        return as_utc(datetime.fromisoformat(text))
    except ValueError:
        raise InvalidLegacyDate(value) from None


def parse_day(value: str, name: str = "date") -> date:
    """Parse a ``YYYY-MM-DD`` day (the command's ``--start-date``/``--end-date``).

    The package's one day parser (``core.days``); raises a ``ValueError`` naming ``name``.
    """
    return core_parse_day(value, name)


def day_bounds(
    start_date: str | None, end_date: str | None
) -> tuple[datetime | None, datetime | None]:
    """Half-open UTC bounds ``[start, end)`` covering both days whole.

    ``start_date`` and ``end_date`` are inclusive ``YYYY-MM-DD`` days; the upper
    bound is midnight after ``end_date``. Raises ``ValueError`` for a malformed day
    or an end before the start.
    """
    start = parse_day(start_date, "start date") if start_date else None
    end = parse_day(end_date, "end date") if end_date else None
    if start and end and end < start:
        raise ValueError(f"end date {end_date} is before start date {start_date}")
    lower = datetime.combine(start, time(), UTC) if start else None
    upper = datetime.combine(end + timedelta(days=1), time(), UTC) if end else None
    return lower, upper


def start_of_day(value: datetime) -> datetime:
    """Midnight UTC of the day ``value`` falls on, in UTC."""
    value = as_utc(value)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of an instant, in UTC (``None`` stays ``None``)."""
    return as_utc(value).isoformat() if value is not None else None
