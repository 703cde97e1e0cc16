"""Synthetic datasets: one busy account (1,000 events per minute) and several small ones.

Events are built as API clients send them, validated by the service's own
models and turned into items by `tally.ingest.new_item`, so the raw table holds
exactly what ingest would store. The busy account's events run backwards from
the pinned clock, 60 ms apart: the first N of them are "the dataset of size N",
so datasets grow by appending older events and the three sizes share one
build.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tally import dimensions, events, ingest, models, storage
from tally.timeutil import format_instant, now

BUSY = "busy"
SMALL_ACCOUNTS = 10
SMALL_EVENTS = 100
CAMPAIGNS = 20
CONTACTS = 200
BATCH = 1000  # the stream mapping's BatchSize in template.yaml
STEP = timedelta(milliseconds=60)  # 1,000 events per minute
STREAM_ARN = (
    "arn:aws:dynamodb:us-east-1:123456789012:table/EventsTable/stream/2026-01-01T00:00:00.000"
)

Item = dict[str, Any]


def _message(rng: random.Random, event_id: str, at: datetime) -> dict[str, Any]:
    channel = rng.choices(("sms", "whatsapp", "chat", "mms"), (40, 30, 20, 10))[0]
    status = rng.choices(("delivered", "sent", "failed", "queued"), (60, 20, 10, 10))[0]
    event: dict[str, Any] = {
        "kind": "message",
        "id": event_id,
        "occurred_at": at.isoformat(),
        "channel": channel,
        "status": status,
        "to": f"+213{rng.choice('567')}{rng.randrange(10**7, 10**8)}",
    }
    if rng.random() < 0.2:
        event["purpose"] = "marketing"
        event["campaign_id"] = f"cmp-{rng.randrange(CAMPAIGNS):02d}"
    if channel == "sms":
        event["length"] = rng.randrange(20, 700)
    if channel in ("sms", "whatsapp"):
        event["price"] = {"amount": "0.02" if channel == "sms" else "0.05", "currency": "EUR"}
    return event


def busy_event(index: int, clock: datetime, step: timedelta = STEP) -> dict[str, Any]:
    """The busy account's `index`-th newest event (deterministic in `index`), `step` apart."""
    return mixed_event(random.Random(index), f"e{index:08d}", clock - step * (index + 1))


def mixed_event(rng: random.Random, event_id: str, at: datetime) -> dict[str, Any]:
    """A message (88%), OTP session, usage event or dialog, as a busy account sends them."""
    roll = rng.random()
    if roll < 0.05:
        status = rng.choice(("pending", "verified", "verified", "failed", "expired"))
        return {"kind": "otp", "id": event_id, "occurred_at": at.isoformat(), "status": status}
    if roll < 0.09:
        name = rng.choice(("message_published_ok", "api_call", "contact_created"))
        return {"kind": "usage", "id": event_id, "occurred_at": at.isoformat(), "name": name}
    if roll < 0.12:
        kind_type = rng.randrange(1, 5)
        return {"kind": "dialog", "id": event_id, "occurred_at": at.isoformat(), "type": kind_type}
    return _message(rng, event_id, at)


def setup_events(account: str, clock: datetime) -> list[dict[str, Any]]:
    """An account's campaigns, billing profile, credits and contacts (a fixed set)."""
    rng = random.Random(account)
    events: list[dict[str, Any]] = [
        {
            "kind": "billing",
            "id": "profile-1",
            "occurred_at": (clock - timedelta(days=40)).isoformat(),
            "brand": "Busy Co",
            "billing_status": "active",
            "pricing_model": "per_message",
            "included_credits": 1000,
        },
        {
            "kind": "credit",
            "id": "credit-1",
            "occurred_at": (clock - timedelta(days=39)).isoformat(),
            "amount": 5_000_000,
            "reason": "purchase",
        },
    ]
    for number in range(CAMPAIGNS):
        events.append(
            {
                "kind": "campaign",
                "id": f"cmp-{number:02d}",
                "occurred_at": (clock - timedelta(days=number + 1)).isoformat(),
                "name": f"Campaign {number}",
                "status": rng.choice(("completed", "completed", "sending", "scheduled")),
                "audience": rng.randrange(100, 10_000),
            }
        )
    for number in range(CONTACTS):
        events.append(
            {
                "kind": "contact",
                "id": f"contact-{number:04d}",
                "occurred_at": (clock - timedelta(days=30, minutes=number)).isoformat(),
                "textable": rng.random() < 0.9,
                "opted_in": rng.random() < 0.8,
            }
        )
    return events


def small_account_events(account: str, clock: datetime, count: int) -> list[dict[str, Any]]:
    """`count` messages spread over the last 30 days."""
    rng = random.Random(account)
    return [
        _message(rng, f"{account}-{n}", clock - timedelta(seconds=rng.randrange(30 * 86400)))
        for n in range(count)
    ]


def to_item(account: str, event: dict[str, Any], stamp: str) -> Item:
    """The item ingest stores for a first-seen event (revision 1, as `ingest._write` sets)."""
    item = ingest.new_item(account, models.event_adapter().validate_python(event))
    return {**item, "rev": 1, "updated_at": stamp}


# What ingest adds to an event's fields when it stores it.
_STORED_ONLY = (
    "pk",
    "sk",
    "account",
    "event_id",
    "rev",
    "updated_at",
    "activity_pk",
    "activity_sk",
)


def register_dimensions(items: Sequence[Item]) -> None:
    """Register, per account, the operators, currencies and usage names the items name, as
    ingest does before it stores them (`tally.dimensions`): the dashboard's counter read
    names one counter per registered operator."""
    per_account: dict[str, list[Any]] = {}
    for item in items:
        fields = {name: value for name, value in item.items() if name not in _STORED_ONLY}
        event = models.event_adapter().validate_python({"id": item["event_id"], **fields})
        per_account.setdefault(str(item["account"]), []).append(event)
    for account, validated in per_account.items():
        dimensions.register(account, ingest.dimension_uses(validated))


def profile_item(item: Item) -> Item:
    """The billing profile item ingest keeps beside a billing event."""
    return events.profile_item(str(item["account"]), item)


@dataclass
class Sequencer:
    """Stream sequence numbers: increasing, as DynamoDB Streams assigns them."""

    next_number: int = 10**20

    def take(self) -> str:
        self.next_number += 1
        return str(self.next_number)


def stream_record(item: Item, sequencer: Sequencer, old: Item | None = None) -> dict[str, Any]:
    """One Lambda DynamoDB stream record (NEW_AND_OLD_IMAGES) for a write of `item`."""
    new_image = storage.serialize(item)
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": now().timestamp(),
        "Keys": {"pk": new_image["pk"], "sk": new_image["sk"]},
        "NewImage": new_image,
        "SequenceNumber": sequencer.take(),
        "SizeBytes": 0,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if old is not None:
        body["OldImage"] = storage.serialize(old)
    return {
        "eventID": body["SequenceNumber"],
        "eventName": "MODIFY" if old is not None else "INSERT",
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": body,
        "eventSourceARN": STREAM_ARN,
    }


def batches(records: Sequence[dict[str, Any]], size: int = BATCH) -> Iterator[list[Any]]:
    for offset in range(0, len(records), size):
        yield list(records[offset : offset + size])


ZIPF_ACCOUNTS = 10_000


def workload_items(
    name: str, accounts: int, batches: int, clock: datetime, stamp: str
) -> list[Item]:
    """`batches` stream batches of BATCH records in which each of `accounts` accounts sends
    BATCH / accounts events, at the busy account's pace (one batch per minute)."""
    items = []
    for batch in range(batches):
        for position in range(BATCH):
            index = batch * BATCH + position
            rng = random.Random(f"{name}-{index}")
            account = f"{name}-{position % accounts:05d}"
            event = mixed_event(rng, f"e{index:08d}", clock - STEP * (index + 1))
            items.append(to_item(account, event, stamp))
    return items


def zipf_items(
    batches: int, clock: datetime, stamp: str, accounts: int = ZIPF_ACCOUNTS
) -> list[Item]:
    """`batches` stream batches whose events come from `accounts` accounts with a Zipf(1)
    spread: the account of rank r sends a share proportional to 1/r (a platform's mix of a
    few large tenants and a long tail)."""
    rng = random.Random("zipf")
    weights = [1 / rank for rank in range(1, accounts + 1)]
    chosen = rng.choices(range(accounts), weights=weights, k=batches * BATCH)
    items = []
    for index, rank in enumerate(chosen):
        event = mixed_event(
            random.Random(f"zipf-{index}"), f"e{index:08d}", clock - STEP * (index + 1)
        )
        items.append(to_item(f"zipf-{rank:05d}", event, stamp))
    return items


def busy_items(
    start: int, stop: int, clock: datetime, stamp: str, step: timedelta = STEP
) -> list[Item]:
    return [to_item(BUSY, busy_event(index, clock, step), stamp) for index in range(start, stop)]


def fixed_items(
    clock: datetime, stamp: str, accounts: int = SMALL_ACCOUNTS, events: int = SMALL_EVENTS
) -> list[Item]:
    """The busy account's setup events and `accounts` small accounts of `events` messages."""
    items = [to_item(BUSY, event, stamp) for event in setup_events(BUSY, clock)]
    for number in range(accounts):
        account = f"small-{number:02d}"
        items.extend(
            to_item(account, event, stamp) for event in small_account_events(account, clock, events)
        )
    return items


def write_raw(client: Any, table: str, items: Sequence[Item]) -> None:
    """BatchWriteItem the raw items (25 per request, unprocessed ones resent)."""
    extra: list[Item] = [profile_item(item) for item in items if item["kind"] == "billing"]
    everything = [*items, *extra]
    for offset in range(0, len(everything), 25):
        request = {
            table: [
                {"PutRequest": {"Item": storage.serialize(item)}}
                for item in everything[offset : offset + 25]
            ]
        }
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def clock_stamp() -> tuple[datetime, str]:
    clock = now()
    return clock, format_instant(clock)
