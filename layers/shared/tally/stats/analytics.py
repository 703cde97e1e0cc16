"""The analytics API (seed 004): overview, trends, top campaigns, best send times, CSV export.

Every number comes from the counters (time buckets, per-campaign items, the
contacts gauge) through `tally.counters`, and rates through
`tally.stats.shared`, so they agree with the other APIs for the same range.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

from tally import counters, metrics, payload
from tally.apimodel import ApiModel
from tally.counters import Counts
from tally.errors import bad_request
from tally.stats import campaigns
from tally.stats.shared import message_names, messages, percent
from tally.timeutil import (
    EARLIEST,
    FUTURE_SLACK,
    Unit,
    calendar_intervals,
    format_millis,
    get_zone,
    now,
    parse_query_instant,
)

METRICS = ("messages", "campaigns")
EXPORT_TYPES = ("campaigns",)
DEFAULT_LIMIT = 10
MAX_LIMIT = 100

DEFAULT_DAYS = 30
BEST_SEND_TIMES_DAYS = 90
# Trends answer one entry per day, so they read one counter item per day: a year of daily
# points (what a chart shows) bounds a call at about 370 items. Best send times reads one
# cover of its range (a few dozen items) whatever its length.
MAX_TREND_DAYS = 366
MAX_SEND_TIME_DAYS = 366
CAMPAIGN_STATUSES = ("completed", "sending", "scheduled", "failed")
TREND_CAMPAIGN_STATUSES = ("completed", "sending", "failed")
DATE_HINT = "must be an ISO 8601 date (2026-06-01) or date-time (2026-06-01T10:00:00Z)"

_DATE_SCHEMA = {
    "type": "string",
    "maxLength": 64,
    "description": "ISO 8601 date (2026-06-01) or date-time (2026-06-01T10:00:00Z), "
    "from 1970-01-01 to 3000-01-01",
}
# What each query parameter takes (the OpenAPI document's; the parsers below enforce it).
PARAMETER_SCHEMAS: dict[str, dict[str, Any]] = {
    "startDate": _DATE_SCHEMA,
    "endDate": _DATE_SCHEMA,
    "metric": {"type": "string", "enum": list(METRICS), "default": METRICS[0]},
    "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
    "type": {"type": "string", "enum": list(EXPORT_TYPES), "default": EXPORT_TYPES[0]},
}

CSV_COLUMNS = (
    "Campaign Name",
    "Status",
    "Total Recipients",
    "Sent",
    "Delivered",
    "Failed",
    "Created At",
    "Completed At",
)
# Spreadsheets run a cell starting with one of these as a formula (OWASP CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


# Response models: they document the seed's documents (camelCase names are the
# seed's); the routes build their bodies as plain data.
class DateRangeEcho(ApiModel):
    start: str
    end: str


class CampaignCounts(ApiModel):
    total: int
    completed: int
    sending: int
    scheduled: int
    failed: int


class MessageCounts(ApiModel):
    total: int
    sent: int
    delivered: int
    failed: int


class ContactCounts(ApiModel):
    total: int
    textable: int
    optedOut: int


class Overview(ApiModel):
    """`GET /api/analytics/overview`."""

    dateRange: DateRangeEcho
    campaigns: CampaignCounts
    messages: MessageCounts
    contacts: ContactCounts
    deliveryRate: float


class MessageTrend(MessageCounts):
    """One UTC day of `metric=messages`."""

    date: str


class CampaignTrend(ApiModel):
    """One UTC day of `metric=campaigns`."""

    date: str
    total: int
    completed: int
    sending: int
    failed: int


class TopCampaign(ApiModel):
    id: str
    name: str
    createdAt: str
    totalCount: int
    sentCount: int
    deliveredCount: int
    failedCount: int
    deliveryRate: float


class HourSlot(ApiModel):
    hour: int
    totalSent: int
    delivered: int
    deliveryRate: float


class DaySlot(ApiModel):
    dayOfWeek: int
    totalSent: int
    delivered: int
    deliveryRate: float


class BestSendTimes(ApiModel):
    byHour: list[HourSlot]
    byDayOfWeek: list[DaySlot]


@dataclass(frozen=True)
class DateRange:
    """`[start, end)` in UTC, as requested (or defaulted)."""

    start: datetime
    end: datetime

    def as_dict(self) -> dict[str, str]:
        return {"start": format_millis(self.start), "end": format_millis(self.end)}

    @property
    def readable(self) -> tuple[datetime, datetime]:
        """The part of the range where events can exist (from 2000 to a day ahead of now).

        Counters outside it are zero, so clamping changes no number but keeps
        the bucket cover of a range like 0001..9999 small.
        """
        return max(self.start, EARLIEST), min(self.end, now() + FUTURE_SLACK)

    def clamp(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        low, high = self.readable
        return max(start, low), min(end, high)


def parse_bound(field: str, text: str, *, is_end: bool) -> datetime:
    """An ISO 8601 date or date-time as a UTC instant, within the accepted window.

    A date-only start is that UTC midnight; a date-only end includes the whole
    day (the next UTC midnight). A date-time without an offset is read as UTC.
    """
    try:
        return parse_query_instant(text, naive_zone=UTC, end_of_day=is_end)
    except ValueError as exc:
        raise bad_request(field, f"{DATE_HINT} ({exc})") from None


def date_range(
    start_text: str | None,
    end_text: str | None,
    *,
    default_days: int = DEFAULT_DAYS,
    max_days: int | None = None,
) -> DateRange:
    """The requested range: missing bounds default to the `default_days` ending now."""
    end = now() if end_text is None else parse_bound("endDate", end_text, is_end=True)
    if start_text is None:
        start = end - timedelta(days=default_days)
    else:
        start = parse_bound("startDate", start_text, is_end=False)
    # An empty range answers nothing useful; equal bounds are a client mistake too.
    if end <= start:
        if end_text is None:
            raise bad_request("startDate", "must be before endDate (which defaults to now)")
        raise bad_request("endDate", "must be after startDate")
    if max_days is not None and end - start > timedelta(days=max_days):
        raise bad_request("startDate", f"the range must not exceed {max_days} days")
    return DateRange(start, end)


def parse_choice(field: str, text: str | None, choices: Sequence[str]) -> str:
    """One of `choices` (the first when absent), else 400 naming the field."""
    if text is None:
        return choices[0]
    if text not in choices:
        raise bad_request(field, f"must be one of {', '.join(choices)}; got {text!r}")
    return text


def parse_limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        limit = payload.integer(text)
    except ValueError:
        raise bad_request("limit", f"must be an integer from 1 to {MAX_LIMIT}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request("limit", f"must be from 1 to {MAX_LIMIT}; got {limit}")
    return limit


# The counters each question reads (DynamoDB sends only those of each item).
_CAMPAIGN_NAMES = (
    metrics.CAMPAIGNS_TOTAL,
    *(metrics.campaign(status) for status in CAMPAIGN_STATUSES),
)
_SEND_TIME_NAMES = tuple(
    name(slot, state)
    for name, slots in ((metrics.send_hour, range(24)), (metrics.send_weekday, range(7)))
    for slot in slots
    for state in metrics.SEND_TIME_STATES
)


def _read(
    account: str,
    dates: DateRange,
    ranges: Sequence[tuple[datetime, datetime]],
    names: Collection[str],
) -> list[Counts]:
    clamped = [dates.clamp(start, end) for start, end in ranges]
    return counters.read_ranges(account, clamped, names=names)


def _campaign_counts(counts: Counts, statuses: Iterable[str]) -> dict[str, int]:
    result = {"total": counts.count(metrics.CAMPAIGNS_TOTAL)}
    result.update((status, counts.count(metrics.campaign(status))) for status in statuses)
    return result


def overview(account: str, start_date: str | None, end_date: str | None) -> dict[str, Any]:
    dates = date_range(start_date, end_date)
    (counts,) = _read(
        account, dates, [(dates.start, dates.end)], [*message_names(), *_CAMPAIGN_NAMES]
    )
    gauge = counters.read_gauge(account)
    totals = messages(counts)
    return {
        "dateRange": dates.as_dict(),
        "campaigns": _campaign_counts(counts, CAMPAIGN_STATUSES),
        "messages": totals,
        "contacts": {
            "total": gauge.count(metrics.CONTACTS_TOTAL),
            "textable": gauge.count(metrics.CONTACTS_TEXTABLE),
            "optedOut": gauge.count(metrics.CONTACTS_OPTED_OUT),
        },
        "deliveryRate": percent(totals["delivered"], totals["total"]),
    }


def trends(
    account: str, metric_text: str | None, start_date: str | None, end_date: str | None
) -> list[dict[str, Any]]:
    """One entry per UTC day meeting the range (edge days clipped to it), zero-filled."""
    metric = parse_choice("metric", metric_text, METRICS)
    dates = date_range(start_date, end_date, max_days=MAX_TREND_DAYS)
    days = list(calendar_intervals(dates.start, dates.end, Unit.DAY, get_zone("UTC")))
    names = message_names() if metric == "messages" else _CAMPAIGN_NAMES
    entries = []
    for (day_start, _), counts in zip(days, _read(account, dates, days, names), strict=True):
        values = (
            messages(counts)
            if metric == "messages"
            else _campaign_counts(counts, TREND_CAMPAIGN_STATUSES)
        )
        entries.append({"date": day_start.date().isoformat(), **values})
    return entries


def _campaign_messages(counts: Counts) -> list[int]:
    """total, sent, delivered, failed of one campaign's messages (its counter item)."""
    return [counts.count(metrics.campaign_message(state)) for state in metrics.MESSAGE_STATES]


def _delivery_order(row: dict[str, Any], created_at: datetime) -> tuple[Any, ...]:
    # The exact ratio, not the rounded percentage, so 99.994 % ranks above 99.986 %.
    rate = Fraction(row["deliveredCount"], row["totalCount"]) if row["totalCount"] else Fraction(0)
    return (-rate, -row["deliveredCount"], -created_at.timestamp(), row["id"])


def top_campaigns(
    account: str, limit_text: str | None, start_date: str | None, end_date: str | None
) -> list[dict[str, Any]]:
    """Completed campaigns created in the range, best delivery rate first (then most
    delivered, then newest, then id), from the per-campaign counters."""
    limit = parse_limit(limit_text)
    dates = date_range(start_date, end_date)
    completed = [
        campaign
        for campaign in campaigns.created_between(account, *dates.readable)
        if campaign.status == "completed"
    ]
    stats = counters.read_campaigns(account, [campaign.id for campaign in completed])
    ranked = []
    for campaign in completed:
        total, sent, delivered, failed = _campaign_messages(stats[campaign.id])
        row = {
            "id": campaign.id,
            "name": campaign.name,
            "createdAt": format_millis(campaign.created_at),
            "totalCount": total,
            "sentCount": sent,
            "deliveredCount": delivered,
            "failedCount": failed,
            "deliveryRate": percent(delivered, total),
        }
        ranked.append((_delivery_order(row, campaign.created_at), row))
    ranked.sort(key=lambda pair: pair[0])
    return [row for _, row in ranked[:limit]]


def _send_time_entries(key: str, counts: Counts, slots: range, name: Any) -> list[dict[str, Any]]:
    entries = []
    for slot in slots:
        total = counts.count(name(slot, "total"))
        delivered = counts.count(name(slot, "delivered"))
        if total:
            entries.append(
                {
                    key: slot,
                    "totalSent": total,
                    "delivered": delivered,
                    "deliveryRate": percent(delivered, total),
                }
            )
    return entries


def best_send_times(account: str, start_date: str | None, end_date: str | None) -> dict[str, Any]:
    """Messages by UTC hour of day and by day of week (0 = Sunday) of their send time.

    Every counter item carries its messages per hour of day and day of week
    (`metrics.send_hour`, `metrics.send_weekday`), so one cover read of the range
    (a few dozen items for 90 days) gives both, whatever the range's length."""
    dates = date_range(
        start_date, end_date, default_days=BEST_SEND_TIMES_DAYS, max_days=MAX_SEND_TIME_DAYS
    )
    (counts,) = _read(account, dates, [(dates.start, dates.end)], _SEND_TIME_NAMES)
    return {
        "byHour": _send_time_entries("hour", counts, range(24), metrics.send_hour),
        "byDayOfWeek": _send_time_entries("dayOfWeek", counts, range(7), metrics.send_weekday),
    }


def csv_cell(value: object) -> str:
    """A CSV cell's text, with a leading quote where a spreadsheet would see a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def to_csv(rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (CRLF line breaks, fields quoted only when needed) with a header row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def export_filename(export_type: str, dates: DateRange) -> str:
    """Like `campaigns-2026-05-11-to-2026-06-10.csv`: the first and last day in the range."""
    last = max(dates.start, dates.end - timedelta(microseconds=1))
    return f"{export_type}-{dates.start.date().isoformat()}-to-{last.date().isoformat()}.csv"


@dataclass(frozen=True)
class CsvExport:
    filename: str
    body: str


def export(
    account: str, type_text: str | None, start_date: str | None, end_date: str | None
) -> CsvExport:
    """Every campaign created in the range, oldest first, one CSV row each."""
    export_type = parse_choice("type", type_text, EXPORT_TYPES)
    dates = date_range(start_date, end_date)
    found = campaigns.created_between(account, *dates.readable)
    stats = counters.read_campaigns(account, [campaign.id for campaign in found])
    rows = []
    for campaign in found:
        total, sent, delivered, failed = _campaign_messages(stats[campaign.id])
        rows.append(
            (
                campaign.name,
                campaign.status,
                total if campaign.audience is None else campaign.audience,
                sent,
                delivered,
                failed,
                format_millis(campaign.created_at),
                format_millis(campaign.completed_at) if campaign.completed_at else "",
            )
        )
    return CsvExport(export_filename(export_type, dates), to_csv(rows))
