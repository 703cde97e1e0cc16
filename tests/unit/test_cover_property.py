"""Property: a cover-based read over counters equals a brute-force sum over the raw events."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally import counters
from tally.contributions import contribution
from tally.timeutil import (
    LADDER,
    MINUTE,
    Bucket,
    Unit,
    calendar_intervals,
    cover,
    get_zone,
)

ZONES = (
    "UTC",
    "Europe/Paris",
    "America/New_York",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
)
# Longest range drawn per unit, so that one example reads a bounded number of intervals.
SPAN = {
    Unit.HOUR: timedelta(days=3),
    Unit.DAY: timedelta(days=70),
    Unit.WEEK: timedelta(days=200),
    Unit.MONTH: timedelta(days=800),
    Unit.YEAR: timedelta(days=1100),
}
# Both DST changes of 2025 in Europe and America and of Chatham (+13:45/+12:45).
WINDOW_START = datetime(2024, 9, 1, tzinfo=UTC)
WINDOW_SECONDS = int(timedelta(days=600).total_seconds())

STATUSES = ("queued", "sent", "delivered", "failed")


@st.composite
def ranges(draw: st.DrawFn) -> tuple[datetime, datetime, Unit, str]:
    unit = draw(st.sampled_from(list(Unit)))
    start = WINDOW_START + timedelta(seconds=draw(st.integers(0, WINDOW_SECONDS)))
    length = timedelta(seconds=draw(st.integers(1, int(SPAN[unit].total_seconds()))))
    end = start + length
    if draw(st.booleans()):  # minute-aligned bounds, as most callers pass
        start = start.replace(second=0, microsecond=0)
        end = max(start + timedelta(minutes=1), end.replace(second=0, microsecond=0))
    else:
        start += timedelta(microseconds=draw(st.integers(0, 999_999)))
    return start, end, unit, draw(st.sampled_from(ZONES))


def events_around(draw: st.DrawFn, start: datetime, end: datetime) -> list[dict[str, Any]]:
    """Random messages and OTPs inside, just outside and right at the edges of the range."""
    span = int((end - start).total_seconds())
    offsets = st.one_of(
        st.integers(-7200, span + 7200),
        st.integers(-90, 90),
        st.integers(span - 90, span + 90),
    )
    events = []
    for number in range(draw(st.integers(0, 25))):
        moment = start + timedelta(seconds=draw(offsets))
        base = {"account": "acme", "event_id": f"e{number}", "occurred_at": moment.isoformat()}
        if draw(st.booleans()):
            events.append(
                base
                | {
                    "kind": "message",
                    "channel": draw(st.sampled_from(("sms", "mms"))),
                    "status": draw(st.sampled_from(STATUSES)),
                }
            )
        else:
            events.append(base | {"kind": "otp", "status": "verified"})
    return events


def brute_force(events: Iterable[dict[str, Any]], start: datetime, end: datetime) -> dict:
    """Minute by minute: the contributions of the events whose minute meets the range."""
    per_minute: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for event in events:
        for target, deltas in contribution(event).items():
            for name, value in deltas.items():
                per_minute[target.minute][name] += value
    total: dict[str, Decimal] = defaultdict(Decimal)
    # A minute counts when it meets [start, end): start floored, end ceiled (DESIGN.md, Time).
    low, high = start.timestamp(), end.timestamp()
    for minute, deltas in per_minute.items():
        if minute < high and minute + MINUTE > low:
            for name, value in deltas.items():
                total[name] += value
    return {name: value for name, value in total.items() if value}


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_cover_read_equals_brute_force(data: st.DataObject) -> None:
    start, end, unit, zone_name = data.draw(ranges())
    events = events_around(data.draw, start, end)
    table = {key: counters.Counts(values) for key, values, _ in counters.recount(events).nonzero()}

    def read_keys(keys: Iterable[str], names: None) -> dict[str, counters.Counts]:
        return {key: counters.Counts(table.get(key, {})) for key in keys}

    intervals = list(calendar_intervals(start, end, unit, get_zone(zone_name)))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(counters, "read_keys", read_keys)
        # Every drawn minute is within the minute buckets' retention of this clock.
        patch.setenv("TALLY_NOW", WINDOW_START.isoformat())
        results = counters.read_ranges("acme", intervals)
    assert intervals[0][0] == start
    assert intervals[-1][1] == end
    for (low, high), counts in zip(intervals, results, strict=True):
        assert {k: v for k, v in counts.items() if v} == brute_force(events, low, high)


def parent(bucket: Bucket) -> Bucket | None:
    index = LADDER.index(bucket.resolution)
    if index + 1 == len(LADDER):
        return None
    coarser = LADDER[index + 1]
    return Bucket(coarser, coarser.floor(bucket.start))


@settings(max_examples=300, deadline=None)
@given(
    start=st.integers(0, WINDOW_SECONDS // MINUTE),
    length=st.integers(0, 3 * 366 * 24 * 60),
)
def test_cover_tiles_exactly_and_never_leaves_a_parent_split(start: int, length: int) -> None:
    low = int(WINDOW_START.timestamp()) + start * MINUTE
    high = low + length * MINUTE
    buckets = cover(low, high)
    assert [b.start for b in buckets[1:]] == [b.end for b in buckets[:-1]]
    assert (buckets[0].start, buckets[-1].end) == (low, high) if buckets else low == high
    for bucket in buckets:
        assert bucket.resolution.floor(bucket.start) == bucket.start
        above = parent(bucket)
        # Were the whole parent inside the range, its children would have merged into it.
        assert above is None or not (low <= above.start and above.end <= high)
    # At each end, at most (parent size / size - 1) buckets per level below months.
    assert len(buckets) <= 2 * (14 + 3 + 23 + 30) + length // (28 * 24 * 60) + 1


def test_cover_rejects_unaligned_bounds() -> None:
    with pytest.raises(ValueError, match="whole minutes"):
        cover(30, 120)
