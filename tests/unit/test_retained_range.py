"""Edges older than the minute buckets' retention are read at quarter-hour precision."""

from datetime import UTC, datetime

import pytest

from tally.counters import retained_range


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_NOW", "2026-06-10T12:00:00Z")


def test_recent_edges_stay_exact_to_the_minute() -> None:
    start = datetime(2026, 6, 9, 10, 7, 30, tzinfo=UTC)
    end = datetime(2026, 6, 9, 11, 8, 10, tzinfo=UTC)
    assert retained_range(start, end) == (_epoch("2026-06-09T10:07"), _epoch("2026-06-09T11:09"))


def test_expired_edges_widen_to_the_enclosing_quarter_hours() -> None:
    start = datetime(2026, 4, 1, 10, 7, 30, tzinfo=UTC)
    end = datetime(2026, 4, 1, 11, 8, tzinfo=UTC)
    assert retained_range(start, end) == (_epoch("2026-04-01T10:00"), _epoch("2026-04-01T11:15"))


def test_only_the_expired_edge_widens() -> None:
    start = datetime(2026, 4, 1, 10, 7, tzinfo=UTC)
    end = datetime(2026, 6, 10, 11, 8, tzinfo=UTC)
    assert retained_range(start, end) == (_epoch("2026-04-01T10:00"), _epoch("2026-06-10T11:08"))


def test_aligned_expired_edges_are_unchanged() -> None:
    start = datetime(2026, 4, 1, 10, 15, tzinfo=UTC)
    end = datetime(2026, 4, 2, tzinfo=UTC)
    assert retained_range(start, end) == (_epoch("2026-04-01T10:15"), _epoch("2026-04-02T00:00"))
