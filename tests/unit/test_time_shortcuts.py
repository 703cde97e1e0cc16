"""The time helpers' shortcuts agree with the general path they skip: UTC calendar
intervals stepped instead of floored per bucket, stored instants cut to milliseconds
instead of parsed."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from tally.timeutil import (
    _LONGEST,
    Unit,
    calendar_intervals,
    format_instant,
    format_millis,
    get_zone,
    millis_of_instant,
    parse_instant,
)

instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(start=instants, units=st.floats(0, 40), unit=st.sampled_from(list(Unit)))
def test_utc_intervals_match_the_floor_per_bucket(
    start: datetime, units: float, unit: Unit
) -> None:
    end = start + _LONGEST[unit] * units  # up to ~40 buckets
    stepped = list(calendar_intervals(start, end, unit, get_zone("UTC")))
    # Etc/UTC is the same zone under another name: it takes the general path.
    assert stepped == list(calendar_intervals(start, end, unit, get_zone("Etc/UTC")))
    assert len(stepped) >= int(units * 0.9)


@settings(max_examples=300, deadline=None)
@given(moment=instants)
def test_stored_instants_cut_to_milliseconds_as_parsed(moment: datetime) -> None:
    stored = format_instant(moment)
    assert millis_of_instant(stored) == format_millis(parse_instant(stored))


def test_other_instant_forms_are_parsed() -> None:
    assert millis_of_instant("2026-06-10T12:34:56Z") == "2026-06-10T12:34:56.000Z"
    assert millis_of_instant("2026-06-10T14:34:56.123456+02:00") == "2026-06-10T12:34:56.123Z"
    assert millis_of_instant("2026-06-10T12:34:56.9999999Z") == format_millis(
        parse_instant("2026-06-10T12:34:56.9999999Z")
    )
