"""Chat admin statistics (`/admin/stats/messages/...`, `/admin/stats/dialogs/...`).

Parameters come from the query string or a form-encoded body on the GET (the
seed's `curl -X GET -d '...'`). Per-day maps are found without reading every
day of a long range: month totals first (one item per whole UTC month), then
day buckets only inside months with a nonzero count, in growing batches,
until `offset + limit` nonzero days are known.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, ConfigDict, Field, ValidationError

from tally import counters, metrics
from tally.counters import Counts
from tally.errors import FieldError, TallyError, bad_request
from tally.models import EARLIEST, ApiModel
from tally.stats.channel import Interval, bounded_intervals, invalid_request
from tally.timeutil import Unit, epoch, now

FORM = "application/x-www-form-urlencoded"
MAX_LIMIT = 1000
_INTEGER = re.compile(r"[+-]?\d{1,19}")
CHAT_MESSAGES = metrics.message("chat", "total")
_UTC = ZoneInfo("UTC")

Measure = Callable[[Counts], int]


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        return int(value)
    raise ValueError(f"must be an integer, got {value!r}")


Integer = Annotated[int, BeforeValidator(_integer)]


class ChatStatsQuery(ApiModel):
    """The seed's parameters; each endpoint uses the ones it documents and ignores the rest."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    start_date: Integer | None = None
    end_date: Integer | None = None
    limit: Annotated[Integer, Field(ge=1, le=MAX_LIMIT)] = 100
    offset: Annotated[Integer, Field(ge=0)] = 0
    types: list[Integer] | None = Field(default=None, alias="types[]")


def _form_body(body: str | None, content_type: str | None) -> dict[str, list[str]]:
    if not body or not body.strip():
        return {}
    media_type = (content_type or FORM).split(";")[0].strip().lower()
    if media_type != FORM:
        raise TallyError(
            415,
            f"Content-Type: a body must be {FORM}, got {media_type!r}",
            [FieldError("Content-Type", f"must be {FORM}")],
        )
    return parse_qs(body, keep_blank_values=True)


def parse_query(
    query: Mapping[str, list[str]] | None, body: str | None, content_type: str | None
) -> ChatStatsQuery:
    """Parameters from the query string and the form body together; 400 naming each bad one."""
    values: dict[str, list[str]] = {}
    for source in (query or {}, _form_body(body, content_type)):
        for name, given in source.items():
            # `types[]` is the seed's spelling; a plain repeated `types` means the same.
            values.setdefault("types[]" if name == "types" else name, []).extend(given)
    fields: dict[str, Any] = {}
    for name, given in values.items():
        if name == "types[]":
            fields[name] = given
        elif len(given) > 1:
            raise bad_request(name, "given more than once")
        else:
            fields[name] = given[0]
    try:
        return ChatStatsQuery.model_validate(fields)
    except ValidationError as exc:
        raise invalid_request(exc) from None


def window(query: ChatStatsQuery) -> Interval:
    """`[start, end)`: missing start = the beginning, missing end = now, both kept within
    [EARLIEST, now] (the seed's own example ends in the 26th century)."""
    low, high = epoch(EARLIEST), epoch(now())
    start = low if query.start_date is None else query.start_date
    end = high if query.end_date is None else query.end_date
    if start > end:
        raise bad_request(
            "start_date",
            f"must not be after end_date ({end}{', now' if query.end_date is None else ''})",
        )
    # Clamp in integer seconds first: any integer is valid input, not every one is a datetime.
    start = min(max(start, low), high)
    end = min(max(end, start), high)
    return datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC)


def chat_messages(counts: Counts) -> int:
    """Chat messages counted by every API: outbound, non-test, whatever their status."""
    return counts.count(CHAT_MESSAGES)


def dialogs(types: Collection[int] | None) -> Measure:
    """Dialogs created, of the given types (all types when None; unknown types count 0)."""
    if types is None:
        return lambda counts: sum(counts.with_prefix(metrics.DIALOG_PREFIX).values())
    names = sorted({metrics.dialog(dialog_type) for dialog_type in types})
    return lambda counts: sum(counts.count(name) for name in names)


def total(account: str, query: ChatStatsQuery, measure: Measure) -> dict[str, int]:
    start, end = window(query)
    return {"total": measure(counters.read_range(account, start, end)) if start < end else 0}


def per_day(account: str, query: ChatStatsQuery, measure: Measure) -> dict[str, int]:
    """`{"YYYY-MM-DD": n}` of UTC days with a nonzero count, ascending, paged."""
    start, end = window(query)
    months = bounded_intervals(start, end, Unit.MONTH, _UTC, "start_date")
    pending = [
        (month, count)
        for month, counts in zip(months, counters.read_ranges(account, months), strict=True)
        if (count := measure(counts))
    ]
    wanted = query.offset + query.limit
    found: list[tuple[str, int]] = []
    batch = 1
    while pending and len(found) < wanted:
        # Read just enough months to possibly fill the page (a month of count n has at most
        # n nonzero days), at least `batch` of them; doubling keeps sparse months to few rounds.
        days: list[Interval] = []
        months_taken = room = 0
        while pending and (room < wanted - len(found) or months_taken < batch):
            month, count = pending.pop(0)
            month_days = list(bounded_intervals(*month, Unit.DAY, _UTC, "start_date"))
            days.extend(month_days)
            room += min(count, len(month_days))
            months_taken += 1
        for (day_start, _), counts in zip(days, counters.read_ranges(account, days), strict=True):
            if count := measure(counts):
                found.append((day_start.date().isoformat(), count))
        batch *= 2
    return dict(found[query.offset : wanted])
