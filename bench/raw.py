"""Answering from the raw events: the designs without counters, on the same data.

- **raw scan**: every query reads all of the account's raw events (a Query per
  partition key, all pages) and counts in Python;
- **indexed raw**: the design a DynamoDB specialist would build without counters:
  a global secondary index keyed `{account}#{kind}` (`{account}#message#{channel}`
  for messages) and `occurred_at`, projecting only the attributes the questions
  count, so each query reads just its time range of its kind or channel.

Reads and RCU follow DynamoDB's Query paging (a page ends after 1 MB read; each
page rounds up per 4 KB); the latency is the function's own work (turning pages
into Python values and counting), a lower bound that leaves out DynamoDB's time.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from bench.meter import INDEX_ENTRY_OVERHEAD, Usage, item_size, read_units, write_units
from tally import events, storage
from tally.timeutil import now

PAGE_BYTES = 1024 * 1024  # a Query page stops after 1 MB of items read
# What the indexed design projects: every attribute the questions below count.
PROJECTED = ("status", "channel", "price", "operator", "direction", "test", "purpose", "name")


# --- (b) raw scan -------------------------------------------------------------------------

Counting = Callable[[list[dict[str, Any]]], Any]


def _day(item: Mapping[str, Any]) -> str:
    return str(item["occurred_at"])[:10]


def _since(days: int) -> str:
    return (now() - timedelta(days=days)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")


def _counted(item: Mapping[str, Any], channel: str | None = None) -> bool:
    return (
        item.get("kind") == "message"
        and item.get("direction", "outbound") == "outbound"
        and not item.get("test", False)
        and (channel is None or item.get("channel") == channel)
    )


def channel_daily(items: list[dict[str, Any]]) -> dict[str, tuple[int, int, Decimal]]:
    """whatsapp, last 30 days by UTC day: requests, transactions, amount."""
    since = _since(30)
    days: dict[str, tuple[int, int, Decimal]] = {}
    for item in items:
        if not _counted(item, "whatsapp") or str(item["occurred_at"]) < since:
            continue
        total, sent, amount = days.get(_day(item), (0, 0, Decimal(0)))
        if item.get("status") in ("sent", "delivered"):
            sent += 1
            amount += Decimal(str((item.get("price") or {}).get("amount", 0)))
        days[_day(item)] = (total + 1, sent, amount)
    return days


def dashboard_month(items: list[dict[str, Any]]) -> tuple[int, Counter[str], Counter[str]]:
    """Messages in the last 30 days, per day and per operator."""
    since = _since(30)
    per_day: Counter[str] = Counter()
    operators: Counter[str] = Counter()
    total = 0
    for item in items:
        if _counted(item) and str(item["occurred_at"]) >= since:
            total += 1
            per_day[_day(item)] += 1
            operators[str(item.get("operator", ""))] += 1
    return total, per_day, operators


def usage_last_day(items: list[dict[str, Any]]) -> Counter[str]:
    since = _since(1)
    return Counter(
        str(item["name"])
        for item in items
        if item.get("kind") == "usage" and str(item["occurred_at"]) >= since
    )


def chat_per_day(items: list[dict[str, Any]]) -> Counter[str]:
    since = _since(30)
    return Counter(
        _day(item) for item in items if _counted(item, "chat") and str(item["occurred_at"]) >= since
    )


@dataclass(frozen=True)
class Question:
    """A Tally read answered from raw events: how to count, and which index partitions
    (`{kind}` or `message#{channel}` after the account) over how many days it needs."""

    title: str
    counting: Counting
    partitions: tuple[str, ...]
    days: int


_CHANNEL_PARTS = tuple(f"message#{channel}" for channel in ("sms", "mms", "whatsapp", "chat"))
# Tally (route, scope label) -> the same question answered from raw events.
QUESTIONS: dict[tuple[str, str], Question] = {
    ("/api/v1/connect-hub/{channel}/stats", "whatsapp daily"): Question(
        "channel stats, 30-day daily series", channel_daily, ("message#whatsapp",), 30
    ),
    ("/v1/stats", "scope=1month"): Question(
        "dashboard, 1 month", dashboard_month, _CHANNEL_PARTS, 30
    ),
    ("/v1/stats/messages", "default"): Question("usage, last 24 h", usage_last_day, ("usage",), 1),
    ("/admin/stats/messages/sent-per-day", "last 30 days"): Question(
        "chat sent per day, 30 days", chat_per_day, ("message#chat",), 30
    ),
}


def index_partition(item: Mapping[str, Any]) -> str:
    """The indexed design's partition key of an event item."""
    kind = str(item["kind"])
    if kind == "message":
        return f"{item['account']}#message#{item['channel']}"
    return f"{item['account']}#{kind}"


def index_entry(item: Mapping[str, Any]) -> dict[str, Any]:
    """The indexed design's index entry of an event item (its keys and projected fields)."""
    entry = {name: item[name] for name in ("pk", "sk", "occurred_at") if name in item}
    entry.update({name: item[name] for name in PROJECTED if name in item})
    entry["by_kind_pk"] = index_partition(item)
    return entry


def index_write_units(item: Mapping[str, Any]) -> int:
    """WCU of writing an event's entry of the indexed design's index."""
    return write_units(item_size(storage.serialize(index_entry(item))) + INDEX_ENTRY_OVERHEAD)


@dataclass
class RawMeasurement:
    usage: Usage
    median_ms: float
    p95_ms: float


def raw_scan(
    items: Sequence[Mapping[str, Any]], question: Question, repeats: int
) -> RawMeasurement:
    """The raw-scan design over all of the account's items (a Query per partition key)."""
    ordered = sorted(items, key=lambda item: (str(item["pk"]), str(item["sk"])))
    return _paged(ordered, question.counting, repeats, len(events.SOURCE_SUFFIXES))


def indexed(items: Sequence[Mapping[str, Any]], question: Question, repeats: int) -> RawMeasurement:
    """The indexed design: one Query per index partition, over the question's days only."""
    since = _since(question.days)
    wanted = set(question.partitions)
    entries = [
        index_entry(item)
        for item in items
        if events.is_event(item)
        and str(item["occurred_at"]) >= since
        and index_partition(item).split("#", 1)[1] in wanted
    ]
    entries.sort(key=lambda entry: (entry["by_kind_pk"], str(entry["occurred_at"])))
    return _paged(entries, question.counting, repeats, len(wanted))


def _paged(
    items: Sequence[Mapping[str, Any]], counting: Counting, repeats: int, partitions: int
) -> RawMeasurement:
    """Requests, items and RCU of reading `items` in Query pages (at least one Query per
    partition key), and the client-side time to turn the pages into values and count."""
    usage = Usage()
    pages: list[list[dict[str, Any]]] = [[]]
    page_bytes = 0
    for item in items:
        wire = storage.serialize(item)
        size = item_size(wire)
        if page_bytes and page_bytes + size > PAGE_BYTES:
            usage.requests["Query"] += 1
            usage.rcu += read_units(page_bytes, consistent=False)
            pages.append([])
            page_bytes = 0
        pages[-1].append(wire)
        page_bytes += size
        usage.items_read += 1
    usage.requests["Query"] += 1
    usage.rcu += read_units(page_bytes, consistent=False)
    usage.requests["Query"] = max(usage.requests["Query"], partitions)
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        counting([storage.deserialize(wire) for page in pages for wire in page])
        timings.append((time.perf_counter() - started) * 1000)
    ordered = sorted(timings)
    return RawMeasurement(
        usage=usage,
        median_ms=statistics.median(timings),
        p95_ms=ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
    )
