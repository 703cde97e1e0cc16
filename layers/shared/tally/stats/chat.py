"""Chat admin statistics (`/admin/stats/messages/...`, `/admin/stats/dialogs/...`).

Parameters come from the query string or a form-encoded body on the GET (the
seed's `curl -X GET -d '...'`). Per-day maps are found without reading every
day of a long range: month totals first (one item per whole UTC month), then
day buckets only inside months with a nonzero count, in growing batches,
until `offset + limit` nonzero days are known.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from pydantic import BeforeValidator, ConfigDict, Field

from tally import counters, metrics, payload
from tally.apimodel import ApiModel
from tally.counters import Counts
from tally.errors import FieldError, TallyError, bad_request
from tally.stats.channel import Interval, bounded_intervals
from tally.timeutil import EARLIEST, Unit, epoch, now

FORM = "application/x-www-form-urlencoded"
MAX_LIMIT = 1000
MAX_TYPES = 16
# More form fields than the parameters and their repeats could ever need.
MAX_FORM_FIELDS = 64
CHAT_MESSAGES = metrics.message("chat", "total")
_UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class Measure:
    """What a chat statistic counts in an interval's counts, and the counters it reads."""

    names: tuple[str, ...]
    count: Callable[[Counts], int]

    def __call__(self, counts: Counts) -> int:
        return self.count(counts)


def _integer(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        return payload.integer(value)
    raise ValueError(f"must be an integer, got {value!r}")


Integer = Annotated[int, BeforeValidator(_integer)]
# Unix seconds as the seed sends them: any integer of up to 19 digits (clamped to
# [2000, now] by `window`). Constraints before the validator, so the JSON schema
# states them as minimum/maximum.
MAX_SECONDS = 10**19 - 1
Seconds = Annotated[int, Field(ge=-MAX_SECONDS, le=MAX_SECONDS), BeforeValidator(_integer)]


class ChatStatsQuery(ApiModel):
    """The seed's parameters; each endpoint uses the ones it documents and ignores the rest."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    start_date: Annotated[
        Seconds | None, Field(description="Unix seconds; default: the beginning")
    ] = None
    end_date: Annotated[Seconds | None, Field(description="Unix seconds; default: now")] = None
    limit: Annotated[
        int, Field(ge=1, le=MAX_LIMIT, description="Days per page"), BeforeValidator(_integer)
    ] = 100
    offset: Annotated[int, Field(ge=0, description="Days to skip"), BeforeValidator(_integer)] = 0
    types: Annotated[
        list[Integer] | None,
        Field(max_length=MAX_TYPES, alias="types[]", description="Dialog types (repeat)"),
    ] = None


class ChatTotal(ApiModel):
    """The totals' response."""

    total: int


def _form_body(body: str | None, content_type: str | None) -> dict[str, list[str]]:
    if not body or not body.strip():
        return {}
    media = payload.media_type(content_type) or FORM
    if media != FORM:
        raise TallyError(
            415,
            f"Content-Type: a body must be {FORM}, got {media!r}",
            [FieldError("Content-Type", f"must be {FORM}")],
        )
    try:
        return parse_qs(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
    except ValueError:
        raise bad_request("body", f"more than {MAX_FORM_FIELDS} fields") from None


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
    return payload.validate(ChatStatsQuery, fields, status=400)


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


# Chat messages counted by every API: outbound, non-test, whatever their status.
chat_messages = Measure((CHAT_MESSAGES,), lambda counts: counts.count(CHAT_MESSAGES))


def dialogs(types: Collection[int] | None) -> Measure:
    """Dialogs created, of the given types (all types when None; unknown types count 0)."""
    chosen = metrics.DIALOG_TYPES if types is None else types
    names = tuple(sorted({metrics.dialog(dialog_type) for dialog_type in chosen}))
    return Measure(names, lambda counts: sum(counts.count(name) for name in names))


def total(account: str, query: ChatStatsQuery, measure: Measure) -> dict[str, int]:
    start, end = window(query)
    if start >= end:
        return {"total": 0}
    return {"total": measure(counters.read_range(account, start, end, names=measure.names))}


def per_day(account: str, query: ChatStatsQuery, measure: Measure) -> dict[str, int]:
    """`{"YYYY-MM-DD": n}` of UTC days with a nonzero count, ascending, paged."""
    start, end = window(query)
    months = bounded_intervals(start, end, Unit.MONTH, _UTC, "start_date")
    pending = [
        (month, count)
        for month, counts in zip(
            months, counters.read_ranges(account, months, names=measure.names), strict=True
        )
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
        read = counters.read_ranges(account, days, names=measure.names)
        for (day_start, _), counts in zip(days, read, strict=True):
            if count := measure(counts):
                found.append((day_start.date().isoformat(), count))
        batch *= 2
    return dict(found[query.offset : wanted])


@dataclass(frozen=True)
class DayPage:
    """A page of `per_day`, and the query of the next page when there are more days."""

    days: dict[str, int]
    next_query: dict[str, list[str]] | None


def per_day_page(account: str, query: ChatStatsQuery, measure: Measure) -> DayPage:
    """`per_day`, knowing whether a next page exists (one day more is read to tell)."""
    probe = query.model_copy(update={"limit": query.limit + 1})
    days = per_day(account, probe, measure)
    if len(days) <= query.limit:
        return DayPage(days, None)
    page = dict(list(days.items())[: query.limit])
    parameters = {
        name: [str(value)]
        for name, value in (("start_date", query.start_date), ("end_date", query.end_date))
        if value is not None
    }
    parameters |= {"limit": [str(query.limit)], "offset": [str(query.offset + query.limit)]}
    if query.types is not None:
        parameters["types[]"] = [str(value) for value in query.types]
    return DayPage(page, parameters)
