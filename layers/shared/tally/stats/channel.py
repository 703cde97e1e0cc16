"""Channel statistics (`POST /api/v1/connect-hub/{channel}/stats`), grouped exactly in any zone.

Every interval is a local calendar unit (or a rolling window) converted to UTC;
all of a request's intervals are read with one batched counters read, each
covered by the coarsest UTC buckets that tile it exactly.

Also home of the helper the chat admin API shares: calendar intervals with a
bounded count.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal
from itertools import islice
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field

from tally import counters, events, metrics, payload
from tally.apimodel import ApiModel
from tally.counters import Counts
from tally.errors import FieldError, TallyError, bad_request
from tally.stats import shared
from tally.timeutil import (
    Unit,
    calendar_intervals,
    ceil_minute,
    get_zone,
    local_floor,
    now,
    parse_query_instant,
    resolve_range,
)

MAX_INTERVALS = 10_000
CENT = Decimal("0.01")
# Rounds any sum DynamoDB can hold (up to 1e126) to cents: the default 28-digit
# context would raise InvalidOperation on a sum of 1e30.
_AMOUNT_CONTEXT = Context(prec=130)

Interval = tuple[datetime, datetime]
StatType = Literal[
    "today",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "yearly",
    "lastm",
    "last5m",
    "last10m",
    "last30m",
    "lasth",
    "last12h",
    "last24h",
    "lastmonth",
]


def bounded_intervals(
    start: datetime, end: datetime, unit: Unit, zone: ZoneInfo, field: str
) -> list[Interval]:
    """Local calendar intervals of `[start, end)`; 400 on `field` past MAX_INTERVALS."""
    intervals = list(islice(calendar_intervals(start, end, unit, zone), MAX_INTERVALS + 1))
    if len(intervals) > MAX_INTERVALS:
        raise bad_request(
            field,
            f"the range holds more than {MAX_INTERVALS:,} {unit.value} intervals; narrow it",
        )
    return intervals


TimeText = Annotated[
    str,
    Field(
        max_length=64,
        description="ISO 8601 date-time; without an offset it is wall-clock time in `timezone`",
    ),
]


class ChannelStatsRequest(ApiModel):
    """The seed's body; every field optional. Unknown fields are rejected (typos fail loudly)."""

    model_config = ConfigDict(extra="forbid")

    type: StatType = "today"
    start_time: TimeText | None = None
    end_time: TimeText | None = None
    timezone: Annotated[str, Field(max_length=64, description="An IANA timezone")] = "UTC"


def _years_before(moment: datetime, years: int, zone: ZoneInfo) -> datetime:
    """The same local wall-clock time `years` earlier (29 February -> 28 February)."""
    local = moment.astimezone(zone)
    try:
        earlier = local.replace(year=local.year - years)
    except ValueError:
        earlier = local.replace(year=local.year - years, day=28)
    return earlier.replace(tzinfo=zone).astimezone(UTC)


def _days_before(days: int) -> Callable[[datetime, ZoneInfo], datetime]:
    """The same local wall-clock time `days` calendar days earlier (DST days count as one)."""

    def back(moment: datetime, zone: ZoneInfo) -> datetime:
        local = moment.astimezone(zone).replace(tzinfo=None) - timedelta(days=days)
        return local.replace(tzinfo=zone).astimezone(UTC)

    return back


# Grouped types: their unit and the default start for a given end.
SERIES: dict[str, tuple[Unit, Callable[[datetime, ZoneInfo], datetime]]] = {
    "hourly": (Unit.HOUR, lambda end, zone: end - timedelta(hours=24)),
    "daily": (Unit.DAY, _days_before(30)),
    "weekly": (Unit.WEEK, _days_before(12 * 7)),
    "monthly": (Unit.MONTH, lambda end, zone: _years_before(end, 1, zone)),
    "yearly": (Unit.YEAR, lambda end, zone: _years_before(end, 5, zone)),
}
# Rolling windows of whole minutes ending with the current minute.
ROLLING: dict[str, timedelta] = {
    "lastm": timedelta(minutes=1),
    "last5m": timedelta(minutes=5),
    "last10m": timedelta(minutes=10),
    "last30m": timedelta(minutes=30),
    "lasth": timedelta(hours=1),
    "last12h": timedelta(hours=12),
    "last24h": timedelta(hours=24),
    "lastmonth": timedelta(days=30),
}


def _parse_time(text: str | None, zone: ZoneInfo, field: str) -> datetime | None:
    """ISO 8601 date or date-time; one without an offset is wall-clock time in `zone`."""
    if text is None:
        return None
    try:
        return parse_query_instant(text, naive_zone=zone)
    except ValueError as exc:
        raise bad_request(
            field, f"must be an ISO 8601 date-time such as 2024-01-01T00:00:00.000Z ({exc})"
        ) from None


def parse_request(body: str | None, content_type: str | None = None) -> ChannelStatsRequest:
    """The JSON body (empty = all defaults); every problem is a 4xx naming its field
    (400 for a bad field, as the seed answers)."""
    if body is None or not body.strip():
        return ChannelStatsRequest()
    data = payload.parse_json(body, content_type)
    if not isinstance(data, dict):
        raise bad_request("body", "must be a JSON object")
    fields = {name: value for name, value in data.items() if value is not None}
    return payload.validate(ChannelStatsRequest, fields, status=400)


def intervals_for(request: ChannelStatsRequest, zone: ZoneInfo, clock: datetime) -> list[Interval]:
    """The request's intervals `[start, end)` in UTC, chronological."""
    start = _parse_time(request.start_time, zone, "start_time")
    end = _parse_time(request.end_time, zone, "end_time")
    current_minute_end = datetime.fromtimestamp(ceil_minute(clock), UTC)
    if request.type == "today":
        return [(local_floor(clock, Unit.DAY, zone), current_minute_end)]
    if request.type in ROLLING:
        return [(current_minute_end - ROLLING[request.type], current_minute_end)]
    unit, default_start = SERIES[request.type]
    end = end or clock
    start = start or default_start(end, zone)
    if end < start:
        raise bad_request("end_time", "must not be before start_time (end_time defaults to now)")
    return bounded_intervals(start, end, unit, zone, "start_time")


def _iso(epoch_seconds: int, zone: ZoneInfo) -> str:
    text = datetime.fromtimestamp(epoch_seconds, zone).isoformat(timespec="milliseconds")
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def entry(
    counts: Counts, channel: str, currency: str, interval: Interval, zone: ZoneInfo
) -> dict[str, Any]:
    """One interval's numbers in the seed's field order, then its resolved bounds."""
    start, end = resolve_range(*interval)
    total = shared.amount(counts, channel, currency).quantize(
        CENT, rounding=ROUND_HALF_UP, context=_AMOUNT_CONTEXT
    )
    return {
        "total_requests": counts.count(metrics.message(channel, "total")),
        "total_transactions": counts.count(metrics.message(channel, "sent")),
        # Summed and rounded as Decimal; a 2-decimal float prints exactly as those digits.
        "total_amount": float(total),
        "currency": currency,
        "start": _iso(start, zone),
        "end": _iso(end, zone),
    }


class ChannelStatsEntry(ApiModel):
    """One interval of the response (documents it; the body is built as plain data)."""

    total_requests: int
    total_transactions: int
    total_amount: float
    currency: str
    start: str
    end: str


def channel_stats(
    account: str, channel: str, body: str | None, content_type: str | None = None
) -> list[dict[str, Any]]:
    """The seed's response: one entry per interval of the request, zero-filled."""
    if channel not in metrics.CHANNELS:
        reason = (
            f"unknown channel {channel[:64]!r}: use one of {', '.join(sorted(metrics.CHANNELS))}"
        )
        raise TallyError(404, reason, [FieldError("channel", reason)])
    request = parse_request(body, content_type)
    try:
        zone = get_zone(request.timezone)
    except ValueError:
        raise bad_request("timezone", f"unknown IANA timezone {request.timezone!r}") from None
    intervals = intervals_for(request, zone, now())
    currency = shared.currency(events.billing_profile(account))
    # The three counters an entry reports: DynamoDB sends only those of each item.
    names = (
        metrics.message(channel, "total"),
        metrics.message(channel, "sent"),
        metrics.amount(channel, currency),
    )
    return [
        entry(counts, channel, currency, interval, zone)
        for interval, counts in zip(
            intervals, counters.read_ranges(account, intervals, names=names), strict=True
        )
    ]
