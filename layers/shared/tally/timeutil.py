"""Clock, UTC counter buckets, exact covers of ranges, and calendar intervals in any timezone.

Counters are kept in UTC buckets of a ladder of resolutions that nest exactly
(minute within quarter-hour within hour within day within month within year).
Every UTC offset in use is a multiple of 15 minutes, so any local calendar
boundary falls on a quarter-hour bucket edge and every local
hour/day/week/month/year is tiled exactly by buckets; `cover` finds the
coarsest such tiling. A series of counters may keep only the fine end of the
ladder (API usage is only ever read over the last day); covers take the
ladder of the series they read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import Enum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = 60
QUARTER = 900
HOUR = 3600
DAY = 86400
# Minute buckets expire after this; every rolling window up to 30 days stays exact.
MINUTE_RETENTION_SECONDS = 35 * DAY
# No event is older: every "since the beginning" read starts here.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)


class Resolution(Enum):
    """A bucket size; the value is the short code used in counter item keys."""

    MINUTE = "m"
    QUARTER = "q"
    HOUR = "h"
    DAY = "d"
    MONTH = "M"
    YEAR = "Y"

    @property
    def seconds(self) -> int | None:
        return _FIXED_SECONDS.get(self)

    def floor(self, epoch: int) -> int:
        size = self.seconds
        if size is not None:
            return epoch - epoch % size
        moment = datetime.fromtimestamp(epoch, UTC)
        month = 1 if self is Resolution.YEAR else moment.month
        return int(datetime(moment.year, month, 1, tzinfo=UTC).timestamp())

    def next(self, bucket: int) -> int:
        size = self.seconds
        if size is not None:
            return bucket + size
        moment = datetime.fromtimestamp(bucket, UTC)
        if self is Resolution.YEAR:
            return int(datetime(moment.year + 1, 1, 1, tzinfo=UTC).timestamp())
        year, month = (
            (moment.year + 1, 1) if moment.month == 12 else (moment.year, moment.month + 1)
        )
        return int(datetime(year, month, 1, tzinfo=UTC).timestamp())


_FIXED_SECONDS = {
    Resolution.MINUTE: MINUTE,
    Resolution.QUARTER: QUARTER,
    Resolution.HOUR: HOUR,
    Resolution.DAY: DAY,
}
Ladder = tuple[Resolution, ...]
# Finest first. Every ladder starts with minutes: every range is resolved to whole minutes.
LADDER: Ladder = (
    Resolution.MINUTE,
    Resolution.QUARTER,
    Resolution.HOUR,
    Resolution.DAY,
    Resolution.MONTH,
    Resolution.YEAR,
)


@dataclass(frozen=True, order=True)
class Bucket:
    resolution: Resolution
    start: int

    @property
    def end(self) -> int:
        return self.resolution.next(self.start)


def now() -> datetime:
    """The service clock: `TALLY_NOW` (ISO 8601) when set, else the system clock."""
    pinned = os.environ.get("TALLY_NOW")
    return parse_instant(pinned) if pinned else datetime.now(UTC)


# Instants a query may name: wide enough for any real query, narrow enough that
# calendar arithmetic in any zone (a few years either side) never leaves
# datetime's range (years 1 to 9999).
QUERY_EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
QUERY_LATEST = datetime(3000, 1, 1, tzinfo=UTC)
# Years below 1000 written without zero padding (`1-01-01T...`), as an older
# version stored them; read back as the padded form.
_SHORT_YEAR = re.compile(r"^([0-9]{1,3})-")


def parse_datetime(
    text: str, *, naive_zone: tzinfo | None = None, end_of_day: bool = False
) -> datetime:
    """An ISO 8601 date or date-time as a UTC instant; ValueError saying what is wrong.

    A date-time without an offset is wall-clock time in `naive_zone`; a date
    alone is that day's midnight there, or the next midnight when `end_of_day`.
    Both are refused when `naive_zone` is None. Digits are ASCII digits only.
    An offset or a day added that leaves datetime's range is a ValueError too.
    """
    value = text.strip()
    if not value.isascii():
        raise ValueError("only ASCII characters are allowed")
    value = _SHORT_YEAR.sub(lambda match: match.group(1).zfill(4) + "-", value)
    try:
        day: date | None = date.fromisoformat(value)
    except ValueError:
        day = None
    moment = (
        datetime(day.year, day.month, day.day) if day is not None else datetime.fromisoformat(value)
    )
    if moment.tzinfo is None or moment.utcoffset() is None:
        if naive_zone is None:
            raise ValueError("must include a timezone: `Z` or an offset such as +02:00")
        moment = moment.replace(tzinfo=naive_zone)
    try:
        if day is not None and end_of_day:
            moment += timedelta(days=1)
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError("is out of range") from None


def parse_query_instant(text: str, *, naive_zone: tzinfo, end_of_day: bool = False) -> datetime:
    """A query's date or date-time (`parse_datetime`), within [QUERY_EARLIEST, QUERY_LATEST]."""
    moment = parse_datetime(text, naive_zone=naive_zone, end_of_day=end_of_day)
    if not QUERY_EARLIEST <= moment <= QUERY_LATEST:
        raise ValueError(f"must be from {QUERY_EARLIEST.date()} to {QUERY_LATEST.date()}")
    return moment


def parse_instant(text: str) -> datetime:
    """Parse an ISO 8601 instant with `Z` or an offset; naive values are rejected."""
    return parse_datetime(text)


def format_instant(moment: datetime) -> str:
    """UTC ISO 8601 with microseconds: fixed width (years zero-padded), so strings
    sort chronologically."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def format_millis(moment: datetime) -> str:
    """UTC ISO 8601 with milliseconds (`2025-04-24T00:00:00.000Z`)."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def get_zone(name: str) -> ZoneInfo:
    """The IANA zone `name`; ValueError for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA timezone {name!r}") from exc


def epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def floor_minute(moment: datetime) -> int:
    value = epoch(moment)
    return value - value % MINUTE


def ceil_minute(moment: datetime) -> int:
    value = moment.timestamp()
    whole = int(value // MINUTE) * MINUTE
    return whole if whole == value else whole + MINUTE


def resolve_range(start: datetime, end: datetime) -> tuple[int, int]:
    """`[start, end)` in whole minutes: start floored, end ceiled (epoch seconds)."""
    return floor_minute(start), ceil_minute(end)


def cover(start: int, end: int, ladder: Ladder = LADDER) -> list[Bucket]:
    """The coarsest buckets of `ladder` that tile `[start, end)` exactly (both minute-aligned,
    UTC epochs).

    Greedy from the left: the ladder nests, so at each point the largest bucket
    that starts there and fits is part of the minimal tiling.
    """
    if start % MINUTE or end % MINUTE:
        raise ValueError("cover bounds must be whole minutes")
    coarsest_first = ladder[::-1]
    buckets: list[Bucket] = []
    point = start
    while point < end:
        for resolution in coarsest_first:
            if resolution.floor(point) == point and resolution.next(point) <= end:
                buckets.append(Bucket(resolution, point))
                point = resolution.next(point)
                break
    return buckets


def signed_cover(start: int, end: int, ladder: Ladder = LADDER) -> list[tuple[int, Bucket]]:
    """The fewest (sign, bucket) pairs of `ladder` summing exactly to `[start, end)`.

    Adding the plain cover is not always cheapest: an Asia/Kolkata day (18:30 to
    18:30 UTC) needs 27 buckets, but one UTC day bucket plus the 18:30-24:00 tail
    before it minus the tail inside it needs 15, and adjacent days share their
    tails. Each end may move to a UTC day or month boundary on either side, the
    piece in between added or subtracted; the cheapest combination wins.
    """
    direct = [(1, bucket) for bucket in cover(start, end, ladder)]
    boundaries = [res for res in (Resolution.DAY, Resolution.MONTH) if res in ladder]
    if end - start < DAY or not boundaries:
        return direct

    def moves(point: int, outward: int) -> list[tuple[int, list[tuple[int, Bucket]]]]:
        """(new point, signed buckets restoring `point`); `outward` is -1 on the left."""
        options: list[tuple[int, list[tuple[int, Bucket]]]] = [(point, [])]
        for resolution in boundaries:
            below = resolution.floor(point)
            for moved in {below, resolution.next(below)} - {point}:
                low, high = min(moved, point), max(moved, point)
                sign = -1 if (moved - point) * outward > 0 else 1
                options.append((moved, [(sign, bucket) for bucket in cover(low, high, ladder)]))
        return options

    best = direct
    for left, left_pieces in moves(start, -1):
        for right, right_pieces in moves(end, 1):
            if left >= right or len(left_pieces) + len(right_pieces) >= len(best):
                continue
            plan = (
                left_pieces + [(1, bucket) for bucket in cover(left, right, ladder)] + right_pieces
            )
            if len(plan) < len(best):
                best = plan
    return best


def buckets_at(minute: int, ladder: Ladder = LADDER) -> list[Bucket]:
    """Every bucket of `ladder` that contains the minute starting at epoch `minute`."""
    return [Bucket(resolution, resolution.floor(minute)) for resolution in ladder]


class Unit(Enum):
    """Calendar units for series grouped in a timezone."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"
    YEAR = "year"


def _local_floor(moment: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    local = moment.astimezone(zone)
    if unit is Unit.HOUR:
        floored = local.replace(minute=0, second=0, microsecond=0)
        return floored.astimezone(UTC)
    day = local.date()
    if unit is Unit.WEEK:
        day -= timedelta(days=day.weekday())
    elif unit is Unit.MONTH:
        day = day.replace(day=1)
    elif unit is Unit.YEAR:
        day = day.replace(month=1, day=1)
    # A local midnight skipped by a DST jump resolves to the instant of the jump.
    return datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(UTC)


def _local_next(boundary: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    """The first local `unit` boundary after `boundary` (itself a boundary)."""
    step = {
        Unit.HOUR: timedelta(hours=1),
        Unit.DAY: timedelta(days=1),
        Unit.WEEK: timedelta(days=7),
        Unit.MONTH: timedelta(days=31),
        Unit.YEAR: timedelta(days=366),
    }[unit]
    # Overshoot by the unit's longest length plus a DST change, then floor back.
    probe = boundary + step + timedelta(hours=3) if unit is not Unit.HOUR else boundary + step
    candidate = _local_floor(probe, unit, zone)
    if candidate <= boundary:
        candidate = _local_floor(boundary + step + step, unit, zone)
    return candidate


def local_floor(moment: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the local calendar `unit` containing `moment`."""
    return _local_floor(moment, unit, zone)


def calendar_intervals(
    start: datetime, end: datetime, unit: Unit, zone: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """Local calendar intervals meeting `[start, end)`, clipped to it, chronological (UTC)."""
    boundary = _local_floor(start, unit, zone)
    while boundary < end:
        following = _local_next(boundary, unit, zone)
        yield max(boundary, start), min(following, end)
        boundary = following
