"""Parsing of legacy dates, day bounds and time values (pure functions)."""

from datetime import UTC, datetime

import pytest

from invenio_record_importer_kcworks.services.health import time_value_seconds
from invenio_record_importer_kcworks.services.legacy_dates import (
    InvalidLegacyDate,
    day_bounds,
    parse_legacy_date,
    start_of_day,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-03-04T05:06:07Z", datetime(2017, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2017-03-04t05:06:07z", datetime(2017, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2017-03-04", datetime(2017, 3, 4, tzinfo=UTC)),
        (" 2017-03-04 ", datetime(2017, 3, 4, tzinfo=UTC)),
        ("2017-03-04 05:06:07", datetime(2017, 3, 4, 5, 6, 7, tzinfo=UTC)),
        ("2017-03-04T05:06", datetime(2017, 3, 4, 5, 6, tzinfo=UTC)),
        ("2017-03-04T05:06:07.5Z", datetime(2017, 3, 4, 5, 6, 7, 500000, tzinfo=UTC)),
        ("2017-03-04T05:06:07.123456+00:00", datetime(2017, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)),
        ("2017-03-04T05:06:07+05:00", datetime(2017, 3, 4, 0, 6, 7, tzinfo=UTC)),
        ("2017-03-04T22:30:00-0330", datetime(2017, 3, 5, 2, 0, tzinfo=UTC)),
        ("2017-03-04T01:00:00+02", datetime(2017, 3, 3, 23, 0, tzinfo=UTC)),
        ("2016-02-29T00:00:00Z", datetime(2016, 2, 29, tzinfo=UTC)),
    ],
)
def test_valid_legacy_dates(value, expected):
    parsed = parse_legacy_date(value)
    assert parsed == expected
    assert parsed.utcoffset().total_seconds() == 0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "03/08/2017",
        "2017/2018",
        "2017-02-30",
        "0000-00-00 00:00:00",
        "2017",
        "2017-03",
        "20170304",
        "2017-W10-1",
        "2017-03-04T25:00:00Z",
        "2017-03-04T05:06:07 UTC",
        "March 4, 2017",
        None,
        20170304,
    ],
)
def test_invalid_legacy_dates(value):
    with pytest.raises(InvalidLegacyDate) as info:
        parse_legacy_date(value)
    assert repr(value) in str(info.value)


def test_start_of_day_after_conversion_to_utc():
    # 23:30 at -05:00 is already the next day in UTC
    assert start_of_day(parse_legacy_date("2010-03-03T23:30:00-05:00")) == datetime(
        2010, 3, 4, tzinfo=UTC
    )


def test_day_bounds_cover_whole_days():
    lower, upper = day_bounds("2020-01-01", "2020-01-31")
    assert lower == datetime(2020, 1, 1, tzinfo=UTC)
    assert upper == datetime(2020, 2, 1, tzinfo=UTC)
    assert day_bounds(None, None) == (None, None)
    assert day_bounds("2020-01-01", "2020-01-01")[1] == datetime(2020, 1, 2, tzinfo=UTC)


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2020-13-01", None),
        (None, "2020-02-30"),
        ("2020/01/01", None),
        ("2020-02-01", "2020-01-31"),
    ],
)
def test_day_bounds_reject_bad_or_reversed_days(start, end):
    with pytest.raises(ValueError):
        day_bounds(start, end)


def test_time_values():
    assert time_value_seconds("5s") == 5
    assert time_value_seconds("500ms") == 0.5
    assert time_value_seconds("2m") == 120
    with pytest.raises(ValueError):
        time_value_seconds("5")
