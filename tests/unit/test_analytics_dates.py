"""startDate/endDate parsing and defaults of the analytics API (pure, no AWS)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tally.errors import TallyError
from tally.stats.analytics import DateRange, date_range, parse_bound

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_NOW", "2026-06-10T12:34:56Z")


@pytest.mark.parametrize(
    ("text", "is_end", "expected"),
    [
        ("2026-06-01", False, datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01", True, datetime(2026, 6, 2, tzinfo=UTC)),
        ("2026-12-31", True, datetime(2027, 1, 1, tzinfo=UTC)),
        ("2026-06-01T10:00:00Z", True, datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("2026-06-01T10:00:00+02:00", False, datetime(2026, 6, 1, 8, tzinfo=UTC)),
        ("2026-06-01T10:00:00.123Z", False, datetime(2026, 6, 1, 10, 0, 0, 123000, tzinfo=UTC)),
        ("2026-06-01T10:00:00", False, datetime(2026, 6, 1, 10, tzinfo=UTC)),  # no offset: UTC
        (" 2026-06-01 ", False, datetime(2026, 6, 1, tzinfo=UTC)),
    ],
)
def test_parse_bound(text: str, is_end: bool, expected: datetime) -> None:
    assert parse_bound("startDate", text, is_end=is_end) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2026-02-30", "2026-06-01T25:00", "1717200000"])
def test_malformed_bounds_name_the_field(text: str) -> None:
    with pytest.raises(TallyError) as raised:
        parse_bound("endDate", text, is_end=True)
    assert raised.value.status == 400
    assert [error.field for error in raised.value.errors] == ["endDate"]
    assert "ISO 8601" in raised.value.errors[0].reason


def test_defaults_are_the_days_ending_now() -> None:
    assert date_range(None, None) == DateRange(NOW - timedelta(days=30), NOW)
    assert date_range(None, None, default_days=90).start == NOW - timedelta(days=90)
    only_end = date_range(None, "2026-05-31")
    assert only_end == DateRange(datetime(2026, 5, 2, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC))
    assert date_range("2026-06-01", None) == DateRange(datetime(2026, 6, 1, tzinfo=UTC), NOW)


def test_date_range_echo_uses_milliseconds() -> None:
    dates = date_range("2026-06-01T10:00:00.123456+02:00", "2026-06-03")
    assert dates.as_dict() == {
        "start": "2026-06-01T08:00:00.123Z",
        "end": "2026-06-04T00:00:00.000Z",
    }


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("2026-06-05", "2026-06-04", "endDate"),
        ("2026-06-05T10:00:00Z", "2026-06-05T09:59:59Z", "endDate"),
        ("2026-06-11", None, "startDate"),  # after the default end (now)
        ("2025-01-01", "2026-06-01", "startDate"),  # beyond max_days
        ("0001-01-01", "9999-12-31", "endDate"),  # the end of 9999-12-31 is not representable
        ("0001-01-01T00:00:00+05:00", "2026-06-01", "startDate"),  # before year 1 in UTC
    ],
)
def test_bad_ranges_name_the_field(start: str, end: str | None, field: str) -> None:
    with pytest.raises(TallyError) as raised:
        date_range(start, end, max_days=366)
    assert [error.field for error in raised.value.errors] == [field]


def test_same_day_is_one_whole_day_and_equal_instants_are_rejected() -> None:
    day = date_range("2026-06-05", "2026-06-05")
    assert day.end - day.start == timedelta(days=1)
    with pytest.raises(TallyError) as raised:
        date_range("2026-06-05T10:00:00Z", "2026-06-05T10:00:00Z")
    assert raised.value.errors[0].field == "endDate"


def test_reads_are_clamped_to_when_events_can_exist() -> None:
    dates = date_range("1990-01-01", "2030-01-01")
    assert dates.readable == (datetime(2000, 1, 1, tzinfo=UTC), NOW + timedelta(days=1))
    assert dates.as_dict()["start"] == "1990-01-01T00:00:00.000Z"  # the echo is as requested
