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
from functools import cache, lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

MINUTE = 60
QUARTER = 900
HOUR = 3600
DAY = 86400
# Minute buckets expire after this; every rolling window up to 30 days stays exact.
MINUTE_RETENTION_SECONDS = 35 * DAY
# No event is older: every "since the beginning" read starts here.
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# No event is later than this ahead of the clock (a client with a wrong clock or unit).
FUTURE_SLACK = timedelta(days=1)


class Resolution(Enum):
    """A bucket size; the value is the short code used in counter item keys."""

    MINUTE = "m"
    QUARTER = "q"
    HOUR = "h"
    DAY = "d"
    MONTH = "M"
    YEAR = "Y"

    # Members are singletons compared by identity: the C-level identity hash serves every
    # dict keyed by resolution, where Enum's own (a Python call per lookup) was a tenth of
    # a warm read's CPU.
    __hash__ = object.__hash__

    @property
    def seconds(self) -> int | None:
        return _FIXED_SECONDS.get(self)

    def floor(self, epoch: int) -> int:
        size = self.seconds
        if size is not None:
            return epoch - epoch % size
        day = _date_of(epoch)
        return _epoch_of(day.replace(month=1 if self is Resolution.YEAR else day.month, day=1))

    def next(self, bucket: int) -> int:
        size = self.seconds
        if size is not None:
            return bucket + size
        day = _date_of(bucket)
        if self is Resolution.YEAR or day.month == 12:
            return _epoch_of(date(day.year + 1, 1, 1))
        return _epoch_of(date(day.year, day.month + 1, 1))


# Months and years by date ordinals: the UTC calendar without a timezone-aware datetime
# per step (cover walks these on every read).
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _date_of(epoch: int) -> date:
    return date.fromordinal(_EPOCH_ORDINAL + epoch // DAY)


def _epoch_of(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORDINAL) * DAY


_FIXED_SECONDS = {
    Resolution.MINUTE: MINUTE,
    Resolution.QUARTER: QUARTER,
    Resolution.HOUR: HOUR,
    Resolution.DAY: DAY,
}
# The shortest bucket of each resolution: a range shorter than that cannot hold one.
_SHORTEST = {**_FIXED_SECONDS, Resolution.MONTH: 28 * DAY, Resolution.YEAR: 365 * DAY}
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


@dataclass(frozen=True, order=True, slots=True)
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


_INSTANT_LENGTH = len("2000-01-01T00:00:00.000000Z")


def millis_of_instant(stored: str) -> str:
    """`format_millis(parse_instant(stored))`: a stored `format_instant` string (fixed width,
    UTC) is cut to its milliseconds without parsing, as `isoformat` truncates; any other
    form is parsed."""
    if len(stored) == _INSTANT_LENGTH and stored[19] == "." and stored[-1] == "Z":
        return stored[:23] + "Z"
    return format_millis(parse_instant(stored))


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


@cache
def _coarsest_first(ladder: Ladder) -> tuple[tuple[Resolution, Resolution | None], ...]:
    """(resolution, the next coarser one) of `ladder`, coarsest first."""
    coarsest = ladder[::-1]
    return tuple(zip(coarsest, (None, *coarsest[:-1]), strict=True))


def _starts_at(resolution: Resolution, point: int) -> bool:
    size = resolution.seconds
    if size is not None:
        return point % size == 0
    # Months and years start at a UTC midnight: the calendar is only consulted there.
    return point % DAY == 0 and resolution.floor(point) == point


# A run of consecutive buckets of one resolution: (resolution, first start, count).
Run = tuple[Resolution, int, int]


def _runs(start: int, end: int, ladder: Ladder) -> list[Run]:
    """The minimal tiling of `[start, end)` as runs.

    Greedy from the left: the ladder nests, so at each point the largest bucket
    that starts there and fits is part of the minimal tiling. Once a resolution is
    chosen, its buckets follow each other up to the next boundary of the coarser
    resolution above it (where nothing coarser can start) or the end, so a run of
    fixed-size buckets is one division and coarser resolutions are only tried
    where a run ends: every read plans its buckets through this.
    """
    runs: list[Run] = []
    point = start
    while point < end:
        for resolution, coarser in _coarsest_first(ladder):
            if _SHORTEST[resolution] > end - point or not _starts_at(resolution, point):
                continue
            limit = end if coarser is None else min(end, coarser.next(coarser.floor(point)))
            size = resolution.seconds
            if size is not None:
                count = (limit - point) // size
                following = point + count * size
            else:
                count, following = 0, point
                while following < limit and (after := resolution.next(following)) <= end:
                    count, following = count + 1, after
            if count:
                runs.append((resolution, point, count))
                point = following
                break
    return runs


def _buckets(runs: list[Run]) -> list[Bucket]:
    buckets = []
    for resolution, first, count in runs:
        point = first
        for _ in range(count):
            buckets.append(Bucket(resolution, point))
            point = resolution.next(point)
    return buckets


def _length(runs: list[Run]) -> int:
    return sum(count for _, _, count in runs)


def cover(start: int, end: int, ladder: Ladder = LADDER) -> list[Bucket]:
    """The coarsest buckets of `ladder` that tile `[start, end)` exactly (both minute-aligned,
    UTC epochs)."""
    if start % MINUTE or end % MINUTE:
        raise ValueError("cover bounds must be whole minutes")
    return _buckets(_runs(start, end, ladder))


# A plan depends on the range alone, not on the account: a warm container answers the same
# UTC days, months and local-day tails for every account and call (a 30-day series repeats
# 29 of its 30 ranges for a day), and planning them was a sixth of a read route's CPU.
@lru_cache(maxsize=2048)
def signed_cover(start: int, end: int, ladder: Ladder = LADDER) -> tuple[tuple[int, Bucket], ...]:
    """The fewest (sign, bucket) pairs of `ladder` summing exactly to `[start, end)`.

    Adding the plain cover is not always cheapest: an Asia/Kolkata day (18:30 to
    18:30 UTC) needs 27 buckets, but one UTC day bucket plus the 18:30-24:00 tail
    before it minus the tail inside it needs 15, and adjacent days share their
    tails. Each end may move to a UTC day or month boundary on either side, the
    piece in between added or subtracted; the cheapest combination wins. Plans are
    compared by their length in runs; only the winner becomes buckets.
    """
    direct = cover(start, end, ladder)
    boundaries = [res for res in (Resolution.DAY, Resolution.MONTH) if res in ladder]
    # A plan that moves an end holds a piece for the move and at least one bucket between
    # the ends: a direct cover of two buckets or fewer is already the cheapest.
    if end - start < DAY or not boundaries or len(direct) <= 2:
        return tuple((1, bucket) for bucket in direct)

    def moves(point: int, outward: int) -> list[tuple[int, int, list[Run]]]:
        """(new point, sign, runs restoring `point`); `outward` is -1 on the left."""
        options: list[tuple[int, int, list[Run]]] = [(point, 1, [])]
        for resolution in boundaries:
            below = resolution.floor(point)
            for moved in {below, resolution.next(below)} - {point}:
                low, high = min(moved, point), max(moved, point)
                sign = -1 if (moved - point) * outward > 0 else 1
                options.append((moved, sign, _runs(low, high, ladder)))
        return options

    best: tuple[int, list[tuple[int, list[Run]]]] = (len(direct), [])
    for left, left_sign, left_runs in moves(start, -1):
        for right, right_sign, right_runs in moves(end, 1):
            unmoved = left == start and right == end
            pieces = _length(left_runs) + _length(right_runs)
            # The middle takes at least one bucket: skip what cannot beat the best plan.
            if unmoved or left >= right or pieces + 1 >= best[0]:
                continue
            middle = _runs(left, right, ladder)
            if pieces + _length(middle) < best[0]:
                plan = [(left_sign, left_runs), (1, middle), (right_sign, right_runs)]
                best = (pieces + _length(middle), plan)
    if not best[1]:
        return tuple((1, bucket) for bucket in direct)
    return tuple((sign, bucket) for sign, runs in best[1] for bucket in _buckets(runs))


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

    __hash__ = object.__hash__  # as Resolution's: singletons, looked up per bucket


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


_LONGEST = {
    Unit.HOUR: timedelta(hours=1),
    Unit.DAY: timedelta(days=1),
    Unit.WEEK: timedelta(days=7),
    Unit.MONTH: timedelta(days=31),
    Unit.YEAR: timedelta(days=366),
}


def _local_next(boundary: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    """The first local `unit` boundary after `boundary` (itself a boundary)."""
    step = _LONGEST[unit]
    # Overshoot by the unit's longest length plus a DST change, then floor back.
    probe = boundary + step + timedelta(hours=3) if unit is not Unit.HOUR else boundary + step
    candidate = _local_floor(probe, unit, zone)
    if candidate <= boundary:
        candidate = _local_floor(boundary + step + step, unit, zone)
    return candidate


def local_floor(moment: datetime, unit: Unit, zone: ZoneInfo) -> datetime:
    """The start (UTC) of the local calendar `unit` containing `moment`."""
    return _local_floor(moment, unit, zone)


# In UTC an hour, a day and a week have one length: the next boundary is one step on, not
# a local floor computed per bucket (most of a daily UTC series' window).
_UTC_STEPS = {
    Unit.HOUR: timedelta(hours=1),
    Unit.DAY: timedelta(days=1),
    Unit.WEEK: timedelta(days=7),
}


def calendar_intervals(
    start: datetime, end: datetime, unit: Unit, zone: ZoneInfo
) -> Iterator[tuple[datetime, datetime]]:
    """Local calendar intervals meeting `[start, end)`, clipped to it, chronological (UTC)."""
    boundary = _local_floor(start, unit, zone)
    step = _UTC_STEPS.get(unit) if zone.key == "UTC" else None
    while boundary < end:
        following = boundary + step if step else _local_next(boundary, unit, zone)
        yield max(boundary, start), min(following, end)
        boundary = following
