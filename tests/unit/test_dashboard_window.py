"""Dashboard scope windows at calendar edges (pure: no AWS)."""

from datetime import UTC, datetime

import pytest

from tally.errors import TallyError
from tally.stats.dashboard import Scope, parse_scope, window


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_1year_across_new_year():
    span = window(Scope.YEAR, utc(2026, 1, 15, 8, 30))
    assert span.buckets[0] == (utc(2025, 2, 1), utc(2025, 3, 1))
    assert span.buckets[-1] == (utc(2026, 1, 1), utc(2026, 1, 15, 8, 30))
    assert len(span.buckets) == 12
    assert span.previous == (utc(2024, 2, 1), utc(2025, 2, 1))


def test_1month_and_1w_across_a_leap_day():
    month = window(Scope.MONTH, utc(2028, 3, 1, 0, 0, 30))
    assert month.buckets[0][0] == utc(2028, 2, 1)
    assert month.buckets[-1] == (utc(2028, 3, 1), utc(2028, 3, 1, 0, 0, 30))
    assert month.previous == (utc(2028, 1, 2), utc(2028, 2, 1))
    week = window(Scope.WEEK, utc(2028, 3, 1, 23, 59))
    assert [start.day for start, _ in week.buckets] == [24, 25, 26, 27, 28, 29, 1]


def test_24h_at_midnight():
    span = window(Scope.HOURS_24, utc(2026, 6, 10, 0, 0))
    assert span.buckets[0][0] == utc(2026, 6, 9, 1)
    assert span.buckets[-1] == (utc(2026, 6, 10), utc(2026, 6, 10))
    assert span.previous == (utc(2026, 6, 8, 1), utc(2026, 6, 9, 1))


def test_all_starts_at_the_first_event_month_and_has_no_previous_window():
    span = window(Scope.ALL, utc(2026, 6, 10), first_event=utc(2025, 11, 30, 23, 59))
    assert [start.month for start, _ in span.buckets] == [11, 12, 1, 2, 3, 4, 5, 6]
    assert span.previous is None
    assert len(window(Scope.ALL, utc(2026, 6, 10), first_event=utc(2026, 6, 10, 20)).buckets) == 1
    assert len(window(Scope.ALL, utc(2026, 6, 10)).buckets) == 1


def test_scope_parsing():
    assert parse_scope(None, None) is Scope.MONTH
    assert parse_scope("1w", None) is Scope.WEEK
    assert parse_scope(None, "all") is Scope.ALL
    assert parse_scope("24h", "24h") is Scope.HOURS_24
    for path, query in (("1w", "24h"), (None, "1d"), ("messages", None)):
        with pytest.raises(TallyError) as raised:
            parse_scope(path, query)
        assert raised.value.status == 400
        assert raised.value.errors[0].field == "scope"
