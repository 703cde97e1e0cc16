"""Channel intervals and signed covers, checked against zoneinfo and a minute sweep."""

from __future__ import annotations

import itertools
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally.errors import TallyError
from tally.stats.channel import ChannelStatsRequest, intervals_for, parse_request
from tally.timeutil import cover, signed_cover

ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")
NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
LOW = datetime(2025, 1, 1, tzinfo=UTC)


def local_key(unit: str, zone: ZoneInfo, moment: datetime) -> object:
    local = moment.astimezone(zone)
    day = local.date()
    return {
        "hourly": lambda: (
            moment
            - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
        ),
        "daily": lambda: day,
        "weekly": lambda: day - timedelta(days=day.weekday()),
        "monthly": lambda: (day.year, day.month),
        "yearly": lambda: day.year,
    }[unit]()


instants = st.integers(0, int((NOW - LOW).total_seconds())).map(
    lambda s: LOW + timedelta(seconds=s)
)


@settings(max_examples=60, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    unit=st.sampled_from(["hourly", "daily", "weekly", "monthly", "yearly"]),
    bounds=st.tuples(instants, instants).map(sorted),
)
def test_intervals_tile_the_range_one_local_unit_each(zone_name, unit, bounds):
    start, end = bounds
    zone = ZoneInfo(zone_name)
    if unit == "hourly":
        end = min(end, start + timedelta(days=20))
    request = ChannelStatsRequest(
        type=unit, start_time=start.isoformat(), end_time=end.isoformat(), timezone=zone_name
    )
    intervals = intervals_for(request, zone, NOW)
    if start == end:
        assert intervals in ([], [(start, end)])
        return
    assert intervals[0][0] == start
    assert intervals[-1][1] == end
    for (_, left_end), (right_start, _) in itertools.pairwise(intervals):
        assert left_end == right_start
        assert local_key(unit, zone, left_end - timedelta(microseconds=1)) != local_key(
            unit, zone, left_end
        )
    for low, high in intervals:
        assert local_key(unit, zone, low) == local_key(unit, zone, high - timedelta(microseconds=1))


minutes = st.integers(0, 2 * 366 * 24 * 60).map(lambda m: int(LOW.timestamp()) + 60 * m)


@settings(max_examples=200, deadline=None)
@given(bounds=st.tuples(minutes, minutes).map(sorted), offset=st.sampled_from([0, 15, 30, 45]))
def test_signed_cover_counts_every_minute_once(bounds, offset):
    start, end = bounds[0] + offset * 60, bounds[1] + offset * 60
    plan = signed_cover(start, end)
    assert len(plan) <= len(cover(start, end))
    # Net coverage, swept over the bucket edges: 1 inside [start, end), 0 outside.
    edges: Counter[int] = Counter()
    for sign, bucket in plan:
        edges[bucket.start] += sign
        edges[bucket.end] -= sign
    level = 0
    for point in sorted(edges):
        level += edges[point]
        assert level == (1 if start <= point < end else 0), (point, level)


def test_a_kolkata_day_takes_fewer_buckets_signed():
    day_start = int(datetime(2026, 5, 1, 18, 30, tzinfo=UTC).timestamp())
    assert len(cover(day_start, day_start + 86400)) == 27
    assert len(signed_cover(day_start, day_start + 86400)) == 15


def test_times_without_offset_are_wall_clock_in_the_zone():
    request = parse_request(
        '{"type": "daily", "start_time": "2026-03-29", "end_time": "2026-03-30T00:00:00",'
        ' "timezone": "Europe/Paris"}'
    )
    [(start, end)] = intervals_for(request, ZoneInfo("Europe/Paris"), NOW)
    assert (start, end) == (
        datetime(2026, 3, 28, 23, tzinfo=UTC),
        datetime(2026, 3, 29, 22, tzinfo=UTC),
    )


def test_nulls_mean_defaults():
    assert parse_request('{"type": null, "timezone": null}') == ChannelStatsRequest()
    assert parse_request("") == ChannelStatsRequest()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"type": "biweekly"}', "type"),
        ('{"start_time": 5}', "start_time"),
        ('{"extra": 1}', "extra"),
        ("[]", "body"),
        ("nope", "body"),
    ],
)
def test_bad_bodies_are_400_naming_the_field(body, field):
    with pytest.raises(TallyError) as raised:
        parse_request(body, "application/json")
    assert raised.value.status == 400
    assert [error.field for error in raised.value.errors] == [field]


def test_a_body_that_is_not_json_without_a_content_type_is_415():
    """The one body parser's rule (tally.payload), the same as ingest's."""
    with pytest.raises(TallyError) as raised:
        parse_request("nope")
    assert raised.value.status == 415
    assert [error.field for error in raised.value.errors] == ["Content-Type"]
