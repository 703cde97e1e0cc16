"""The counting designs Tally is measured against, on the same stream batches.

Both keep the same counter items as Tally (`tally.counters.target_items`: one
item per resolution bucket, campaign and gauge) and differ in how they write:

- **per-event**: one plain UpdateItem per counter item per event, nothing merged
  (the obvious design);
- **merged**: a batch's deltas summed per counter item, one plain UpdateItem per
  item per batch, with no exactly-once bookkeeping (no watermarks): what counting
  costs at least with this item layout, the floor a redelivered batch would count
  twice.

Their write costs are computed exactly: each design's items are kept in memory
as DynamoDB would hold them (ADD on numbers, the minute items' TTL), and every
write is billed at 1 WCU per started KB of the item's size after it (writes only
grow counter items, so that is the larger of before and after).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench.meter import item_size, write_units
from tally import storage
from tally.contributions import delta
from tally.counters import merged, target_items

Item = dict[str, Any]


@dataclass
class DesignCost:
    """Writes of one design over some batches (cumulative)."""

    events: int = 0
    writes: int = 0
    wcu: int = 0

    def per_thousand(self, value: float) -> float:
        return value * 1000 / self.events if self.events else 0.0


@dataclass
class Simulated:
    """A counters table held in memory, billed per write at the item's size after it."""

    items: dict[str, Item] = field(default_factory=dict)
    cost: DesignCost = field(default_factory=DesignCost)

    def update(self, key: str, deltas: Mapping[str, Decimal], expires_at: int | None) -> None:
        item = self.items.setdefault(key, {"pk": key})
        for name, value in deltas.items():
            item[name] = item.get(name, Decimal(0)) + value
        if expires_at is not None:
            item["expires_at"] = expires_at
        self.cost.writes += 1
        self.cost.wcu += write_units(item_size(storage.serialize(item)))


def _targets(image: Mapping[str, Any]) -> Iterable[tuple[str, Mapping[str, Decimal], int | None]]:
    for target, values in delta(None, image).items():
        for key, expires_at in target_items(target):
            yield key, values, expires_at


class PerEvent(Simulated):
    """One UpdateItem per counter item per event."""

    def batch(self, images: Sequence[Mapping[str, Any]]) -> None:
        for image in images:
            for key, values, expires_at in _targets(image):
                self.update(key, values, expires_at)
        self.cost.events += len(images)


class MergedPerBatch(Simulated):
    """One UpdateItem per counter item per batch, deltas summed, no exactly-once."""

    def batch(self, images: Sequence[Mapping[str, Any]]) -> None:
        per_item: dict[str, list[Mapping[str, Decimal]]] = {}
        expiries: dict[str, int | None] = {}
        for image in images:
            for key, values, expires_at in _targets(image):
                per_item.setdefault(key, []).append(values)
                expiries[key] = expires_at
        for key, deltas in per_item.items():
            values = merged(deltas)
            if values:
                self.update(key, values, expiries[key])
        self.cost.events += len(images)


@dataclass
class Executed:
    """The per-event design run for real (on the bench's backend), for its wall time."""

    events: int
    updates: int
    seconds: float


def execute_per_event(raw: Any, table: str, images: Sequence[Mapping[str, Any]]) -> Executed:
    """One UpdateItem per counter item per event into `table`, through an unmetered client."""
    calls = 0
    started = time.perf_counter()
    for image in images:
        for key, values, _ in _targets(image):
            names = {f"#a{i}": name for i, name in enumerate(values)}
            expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(values)))
            raw.update_item(
                TableName=table,
                Key={"pk": {"S": key}},
                UpdateExpression=expression,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=storage.serialize(
                    {f":a{i}": value for i, value in enumerate(values.values())}
                ),
            )
            calls += 1
    return Executed(events=len(images), updates=calls, seconds=time.perf_counter() - started)
