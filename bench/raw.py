"""The two designs Tally is measured against, on the same data.

(a) Per-event counters: every event updates each of its counter items on its
    own (one UpdateItem per resolution, all-time and campaign item, per event),
    without merging a batch.
(b) Raw scan: every query reads the account's raw events (Query pk = account,
    all pages) and counts in Python.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from decimal import Decimal
from typing import Any

from bench.harness import NAIVE_TABLE, Backend
from bench.meter import Usage, item_size, read_units, write_units
from tally import storage
from tally.config import get_settings
from tally.contributions import delta
from tally.counters import target_items
from tally.timeutil import now

PAGE_BYTES = 1024 * 1024  # a Query page stops after 1 MB of items read


def per_event_updates(items: Iterable[Mapping[str, Any]]) -> Counter[str]:
    """Counter item key -> UpdateItem calls the per-event design makes for `items`."""
    updates: Counter[str] = Counter()
    for item in items:
        for target in delta(None, item):
            updates.update(key for key, _ in target_items(target))
    return updates


def per_event_wcu(updates: Counter[str], sizes: Mapping[str, int]) -> int:
    """Plain UpdateItem: 1 WCU per KB of the item (its final size in Tally's table)."""
    return sum(
        count * write_units(sizes.get(key, 0), transactional=False)
        for key, count in updates.items()
    )


def counter_sizes(bench: Backend, keys: Iterable[str], table: str | None = None) -> dict[str, int]:
    """Sizes of counter items as stored now, read with the bench's unmetered client."""
    name = table or get_settings().counters_table
    ordered = sorted(set(keys))
    sizes: dict[str, int] = {}
    for offset in range(0, len(ordered), 100):
        request = {name: {"Keys": [{"pk": {"S": key}} for key in ordered[offset : offset + 100]]}}
        while request:
            response = bench.raw.batch_get_item(RequestItems=request)
            for found in response["Responses"].get(name, []):
                sizes[found["pk"]["S"]] = item_size(found)
            request = response.get("UnprocessedKeys") or {}
    return sizes


@dataclass
class NaiveRun:
    updates: int
    seconds: float


def execute_per_event(bench: Backend, items: Sequence[Mapping[str, Any]]) -> NaiveRun:
    """Actually run the per-event design into its own table: one UpdateItem per item update."""
    calls = 0
    started = time.perf_counter()
    for item in items:
        for target, values in delta(None, item).items():
            names = {f"#a{i}": name for i, name in enumerate(values)}
            expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(values)))
            attribute_values = storage.serialize(
                {f":a{i}": value for i, value in enumerate(values.values())}
            )
            for key, _ in target_items(target):
                bench.raw.update_item(
                    TableName=NAIVE_TABLE,
                    Key={"pk": {"S": key}},
                    UpdateExpression=expression,
                    ExpressionAttributeNames=names,
                    ExpressionAttributeValues=attribute_values,
                )
                calls += 1
    return NaiveRun(updates=calls, seconds=time.perf_counter() - started)


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


# Tally (route, scope label) -> the same question answered from raw events.
RAW_QUERIES: dict[tuple[str, str], tuple[str, Counting]] = {
    ("/api/v1/connect-hub/{channel}/stats", "whatsapp daily"): (
        "channel stats, 30-day daily series",
        channel_daily,
    ),
    ("/v1/stats", "scope=1month"): ("dashboard, 1 month", dashboard_month),
    ("/v1/stats/messages", "default"): ("usage, last 24 h", usage_last_day),
    ("/admin/stats/messages/sent-per-day", "last 30 days"): (
        "chat sent per day, 30 days",
        chat_per_day,
    ),
}


@dataclass
class RawMeasurement:
    usage: Usage
    median_ms: float
    p95_ms: float


def raw_scan(
    items: Sequence[Mapping[str, Any]], counting: Counting, repeats: int
) -> RawMeasurement:
    """The raw-scan design over the account's items: reads billed, and client-side latency.

    Requests, items read and RCU follow DynamoDB's Query paging (a page ends after 1 MB of
    items read; each page rounds up per 4 KB). The latency is what the function itself
    spends: turning the pages' DynamoDB JSON into Python values and counting. It leaves
    out DynamoDB's time to serve the pages, so it is a lower bound; moto's own response
    serializer (about 10 ms per item on this machine) would swamp it.
    """
    usage = Usage()
    pages: list[list[dict[str, Any]]] = [[]]
    page_bytes = 0
    for item in sorted(items, key=lambda item: str(item["sk"])):
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
