"""What ingest costs per event, measured through the ingest handler, and what that means for
one account's partition keys.

A message's life is one insert and, typically, two status updates (queued, then
sent, then delivered: each a delivery receipt sent to `POST /v1/events`). Each is
measured: the eventually consistent pre-read (BatchGetItem), the conditional
PutItem at the item's size (the larger of before and after), and the
recent-activity index entry it writes, if any.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench import dataset, harness, raw
from bench.meter import Usage
from tally import ingest, models
from tally.events import EVENT_SHARDS
from tally_dev import template

REQUEST_EVENTS = 500  # ingest's MAX_EVENTS
PARTITION_WCU = 1000  # what one partition key takes per second (table or index)
LIFECYCLE = ("queued", "sent", "delivered")


@dataclass
class Step:
    """One step of the messages' life (insert or a status update), summed over its events."""

    label: str
    events: int
    usage: Usage = field(default_factory=Usage)

    def per_event(self, value: float) -> float:
        return value / self.events if self.events else 0.0


def _route() -> template.Route:
    return next(r for r in template.load().routes if r.handler.group == "ingest")


def messages(count: int, clock: datetime) -> list[dict[str, Any]]:
    """`count` SMS and WhatsApp messages as clients first send them (queued)."""
    events = []
    for index in range(count):
        channel = "sms" if index % 2 else "whatsapp"
        event: dict[str, Any] = {
            "kind": "message",
            "id": f"ingest-{index:06d}",
            "occurred_at": (clock - dataset.STEP * (index + 1)).isoformat(),
            "channel": channel,
            "status": "queued",
            "to": f"+2135{index:08d}",
            "price": {"amount": "0.02" if channel == "sms" else "0.05", "currency": "EUR"},
        }
        if channel == "sms":
            event["length"] = 120
        events.append(event)
    return events


def measure(bench: harness.Backend, key: str, count: int, clock: datetime) -> list[Step]:
    """Send `count` messages through ingest in requests of 500, then their status updates."""
    route = _route()
    sent = messages(count, clock)
    steps = []
    for status in LIFECYCLE:
        label = "insert (queued)" if status == "queued" else f"status update to {status}"
        step = Step(label, len(sent))
        for offset in range(0, len(sent), REQUEST_EVENTS):
            chunk = [
                {**event, "status": status} for event in sent[offset : offset + REQUEST_EVENTS]
            ]
            event = harness.api_event(route, "/v1/events", key=key, body={"events": chunk})
            response, usage = bench.call("ingest", event)
            if response["statusCode"] != 200:
                raise RuntimeError(f"ingest answered {response['statusCode']}: {response['body']}")
            step.usage.add(usage)
        steps.append(step)
    return steps


def indexed_design_wcu(count: int, clock: datetime) -> float:
    """Mean WCU of the indexed raw design's index entry for the same messages as stored."""
    stored = [
        ingest.new_item("ingest-bench", models.event_adapter().validate_python(event))
        for event in messages(count, clock)
    ]
    return sum(raw.index_write_units(item) for item in stored) / len(stored)


@dataclass(frozen=True)
class KeyLoad:
    """WCU per second on the busiest partition key of one account at `rate` events/s."""

    rate: int
    updates: int  # status updates per event
    table_mean: float
    table_peak: float  # mean + 3 standard deviations of a second's events on one key
    index_mean: float


def key_load(
    rate: int, updates: int, insert_wcu: float, update_wcu: float, index_wcu: float
) -> KeyLoad:
    """Events spread evenly over EVENT_SHARDS keys by a hash of their id: a key gets
    rate/EVENT_SHARDS events per second on average, binomially spread second to second."""
    share = 1 / EVENT_SHARDS
    mean = rate * share
    spread = math.sqrt(rate * share * (1 - share))
    per_event = insert_wcu + updates * update_wcu
    return KeyLoad(
        rate=rate,
        updates=updates,
        table_mean=mean * per_event,
        table_peak=(mean + 3 * spread) * per_event,
        index_mean=mean * index_wcu,
    )


def max_rate(updates: int, insert_wcu: float, update_wcu: float, index_wcu: float) -> int:
    """The highest rate (in hundreds of events/s) at which the busiest key's peak second
    stays within PARTITION_WCU on the table and on the index."""
    rate = 0
    while True:
        load = key_load(rate + 100, updates, insert_wcu, update_wcu, index_wcu)
        if max(load.table_peak, load.index_mean) > PARTITION_WCU:
            return rate
        rate += 100
