"""Dashboard statistics (`GET /v1/stats`, `GET /v1/stats/{scope}`): the dashboard seed's document.

A scope is N calendar buckets (UTC) ending with the current one, which counts
so far (up to the current minute, inclusive; events dated later are not
counted yet). Every bucket, the previous window and the all-time item are read
in batched requests whose number depends on the number of buckets, never on
the number of events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import lru_cache
from typing import Any

from tally import counters, dimensions, events, metrics, timeutil
from tally.apimodel import ApiModel
from tally.config import get_settings
from tally.counters import Counts
from tally.errors import bad_request
from tally.stats import shared
from tally.timeutil import (
    Unit,
    calendar_intervals,
    ceil_minute,
    format_instant,
    get_zone,
    local_floor,
    millis_of_instant,
)

RECENT_ACTIVITY_LIMIT = 10
_UTC = get_zone("UTC")
# The counters the dashboard reports, besides one per operator the account registered:
# a counter read names them, and DynamoDB sends only those.
_COUNTERS = (
    *shared.message_names(states=("total", "sent")),
    metrics.OTP_TOTAL,
    metrics.otp("verified"),
    metrics.MARKETING_MESSAGES,
    metrics.CAMPAIGNS_TOTAL,
    metrics.CREDITS_USED,
    metrics.CREDITS_ADDED,
)


class Scope(Enum):
    HOURS_24 = "24h"
    WEEK = "1w"
    MONTH = "1month"
    YEAR = "1year"
    ALL = "all"


DEFAULT_SCOPE = Scope.MONTH
# (bucket unit, number of buckets); `all` has months back to the first event.
_SHAPES = {
    Scope.HOURS_24: (Unit.HOUR, 24),
    Scope.WEEK: (Unit.DAY, 7),
    Scope.MONTH: (Unit.DAY, 30),
    Scope.YEAR: (Unit.MONTH, 12),
    Scope.ALL: (Unit.MONTH, 1),
}
_LABELS = {Unit.HOUR: "%H:00", Unit.DAY: "%b %d", Unit.MONTH: "%b %Y"}


class SeriesPoint(ApiModel):
    bucket: int
    label: str
    total: int


class OperatorTotal(ApiModel):
    operator: str
    total: int


class Charts(ApiModel):
    scope: str
    labels: list[str]
    messages: list[SeriesPoint]
    otps: list[SeriesPoint]
    campaigns: list[SeriesPoint]
    operators: list[OperatorTotal]


class Activity(ApiModel):
    type: str
    id: str
    status: str | None
    occurred_at: str


class DashboardStats(ApiModel):
    total_messages: int
    scoped_messages: int
    scoped_increase_percent: float
    success_rate_percent: float
    otp_verification_success_rate_percent: float
    credit_balance: int
    charts: Charts
    recent_activity: list[Activity]


class DashboardResponse(ApiModel):
    ok: bool = True
    data: DashboardStats


def parse_scope(path_value: str | None, query_value: str | None) -> Scope:
    """The scope from the path or `?scope=` (default 1month); 400 for anything else."""
    if path_value is not None and query_value is not None and path_value != query_value:
        raise bad_request("scope", f"path says {path_value!r} but the query says {query_value!r}")
    value = path_value if path_value is not None else query_value
    if value is None:
        return DEFAULT_SCOPE
    try:
        return Scope(value)
    except ValueError:
        allowed = ", ".join(scope.value for scope in Scope)
        raise bad_request("scope", f"must be one of {allowed}, got {value!r}") from None


def shift(boundary: datetime, unit: Unit, count: int) -> datetime:
    """`boundary` (a UTC unit boundary) moved by `count` units (negative: back)."""
    if unit is Unit.HOUR:
        return boundary + timedelta(hours=count)
    if unit is Unit.DAY:
        return boundary + timedelta(days=count)
    months = boundary.year * 12 + boundary.month - 1 + count
    return boundary.replace(year=months // 12, month=months % 12 + 1)


@dataclass(frozen=True)
class Window:
    """The scope's buckets (the last one clipped to now) and the previous window, if any."""

    scope: Scope
    unit: Unit
    buckets: list[tuple[datetime, datetime]]
    previous: tuple[datetime, datetime] | None


def window(scope: Scope, now: datetime, first_event: datetime | None = None) -> Window:
    unit, count = _SHAPES[scope]
    current = local_floor(now, unit, _UTC)
    start = shift(current, unit, 1 - count)
    previous: tuple[datetime, datetime] | None = (shift(start, unit, -count), start)
    if scope is Scope.ALL:
        if first_event is not None:
            start = min(start, local_floor(first_event, unit, _UTC))
        previous = None
    # The current bucket is listed even when `now` is its very first instant.
    buckets = list(calendar_intervals(start, shift(current, unit, 1), unit, _UTC))
    buckets[-1] = (current, now)
    return Window(scope, unit, buckets, previous)


def recent_activity(account: str, now: datetime) -> list[dict[str, Any]]:
    """The newest messages, OTPs and campaigns up to the current minute, newest first
    (`Activity`'s fields)."""
    # Index keys start with the fixed-width occurred_at, so a string bound is a time bound.
    upper = format_instant(datetime.fromtimestamp(ceil_minute(now), UTC))
    return [
        {
            "type": str(item["kind"]),
            "id": str(item["event_id"]),
            "status": None if item.get("status") is None else str(item["status"]),
            "occurred_at": millis_of_instant(str(item["occurred_at"])),
        }
        for item in events.recent_activity(account, upper, RECENT_ACTIVITY_LIMIT)
    ]


def increase_percent(current: int, previous: int) -> float:
    """Change against the previous window; 100 when it grew from nothing."""
    if previous == 0:
        return 100.0 if current else 0.0
    return shared.percent(current - previous, previous)


@lru_cache(maxsize=4096)
def _label(start: datetime, unit: Unit) -> str:
    """A bucket's chart label: every account's charts label the same hours, days and months."""
    return start.strftime(_LABELS[unit])


def _series(starts: list[int], labels: list[str], totals: list[int]) -> list[dict[str, Any]]:
    """A chart's points (`SeriesPoint`'s fields)."""
    return [
        {"bucket": start, "label": label, "total": total}
        for start, label, total in zip(starts, labels, totals, strict=True)
    ]


def operators(counts: Counts) -> list[dict[str, Any]]:
    """Operators with traffic plus the configured defaults, by total descending, then name
    (`OperatorTotal`'s fields)."""
    totals = dict.fromkeys(get_settings().default_operators, 0)
    totals.update(counts.with_prefix(metrics.OPERATOR_PREFIX))
    ranked = sorted(totals.items(), key=lambda entry: (-entry[1], entry[0]))
    return [{"operator": name, "total": total} for name, total in ranked]


def has_activity(counts: Counts) -> bool:
    """Whether `counts` hold a counted message, an OTP session or a campaign."""
    return bool(
        shared.message_count(counts)
        or counts.count(metrics.OTP_TOTAL)
        or counts.count(metrics.CAMPAIGNS_TOTAL)
    )


def _read(
    account: str, scope: Scope, now: datetime, names: list[str]
) -> tuple[Window, list[Counts], Counts, Counts]:
    """The window, its buckets' counts, the previous window's and the all-time counts
    (of `names`).

    A fixed scope reads everything in one batched read. `all` first reads the year items
    (the all-time counts, which also tell the account's first active year), then the
    months from there, and starts at the first month with activity."""
    years = counters.all_time_keys(account)
    if scope is not Scope.ALL:
        span = window(scope, now)
        ranges = [*span.buckets, *([span.previous] if span.previous else [])]
        read, by_year = counters.read_ranges_and_items(account, ranges, also=years, names=names)
        previous = read[len(span.buckets)] if span.previous else Counts()
        return span, read[: len(span.buckets)], previous, counters.total(by_year.values())
    by_year = counters.read_keys(years, names)
    active = [key for key in years if has_activity(by_year[key])]
    first = datetime.fromtimestamp(int(active[0].rsplit("#", 1)[1]), UTC) if active else None
    span = window(scope, now, first)
    per_bucket = counters.read_ranges(account, span.buckets, names=names)
    lead = next((n for n, counts in enumerate(per_bucket) if has_activity(counts)), None)
    skip = len(per_bucket) - 1 if lead is None else lead
    trimmed = Window(scope, span.unit, span.buckets[skip:], None)
    return trimmed, per_bucket[skip:], Counts(), counters.total(by_year.values())


def dashboard(account: str, scope: Scope, now: datetime | None = None) -> DashboardResponse:
    now = now or timeutil.now()
    profile, registry = events.billing_profile_and_registry(account)
    operator_names = dimensions.registered(registry, "operator")
    names = [*_COUNTERS, *(metrics.operator(name) for name in sorted(operator_names))]
    span, per_bucket, previous, all_time = _read(account, scope, now, names)
    scoped = counters.total(per_bucket)
    scoped_total = shared.message_count(scoped)
    starts = [int(start.timestamp()) for start, _ in span.buckets]
    labels = [_label(start, span.unit) for start, _ in span.buckets]
    increase = (
        0.0
        if span.previous is None
        else increase_percent(scoped_total, shared.message_count(previous))
    )
    # Built as plain data and validated in one pass: pydantic builds the ~100 nested models
    # in half the CPU of constructing them one by one (bench/cpu.py).
    data = {
        "total_messages": shared.message_count(all_time),
        "scoped_messages": scoped_total,
        "scoped_increase_percent": increase,
        "success_rate_percent": shared.percent(shared.message_count(scoped, "sent"), scoped_total),
        "otp_verification_success_rate_percent": shared.percent(
            scoped.count(metrics.otp("verified")), scoped.count(metrics.OTP_TOTAL)
        ),
        # The all-time counts are already read; billing derives the same number from them.
        "credit_balance": shared.credit_balance(all_time, profile),
        "charts": {
            "scope": scope.value,
            "labels": labels,
            "messages": _series(starts, labels, [shared.message_count(c) for c in per_bucket]),
            "otps": _series(starts, labels, [c.count(metrics.OTP_TOTAL) for c in per_bucket]),
            "campaigns": _series(
                starts, labels, [c.count(metrics.MARKETING_MESSAGES) for c in per_bucket]
            ),
            "operators": operators(scoped),
        },
        "recent_activity": recent_activity(account, now),
    }
    return DashboardResponse.model_validate({"data": data})
