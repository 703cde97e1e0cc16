"""Counter items: keys, exactly-once application of stream batches, reads over any range.

Counter item keys (counters table, hash key `pk`):
  `{account}#{resolution}#{bucket start}`  time buckets (m, q, h, d, M)
  `{account}#all`                          all-time totals
  `{account}#campaign#{campaign id}`       one campaign's messages
  `{account}#gauge`                        current totals (contacts)
  `~batch#{digest}#{chunk}`                markers of applied stream batch chunks
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from tally import storage
from tally.config import get_settings
from tally.contributions import CampaignTarget, Contribution, Target, TimeTarget, delta
from tally.timeutil import (
    DAY,
    MINUTE_RETENTION_SECONDS,
    QUARTER,
    Bucket,
    Resolution,
    buckets_at,
    now,
    resolve_range,
    signed_cover,
)

CHUNK_UPDATES = 99  # plus the marker: DynamoDB's 100 actions per transaction
MARKER_TTL_SECONDS = 3 * DAY  # longer than the stream's 24 h retention
_RETRYABLE_REASONS = frozenset(
    {"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
)
_CHUNK_ATTEMPTS = 5


class Counts(dict[str, Decimal]):
    """Counter attributes summed over some buckets; absent names read as 0."""

    def count(self, name: str) -> int:
        return int(self.get(name, 0))

    def amount(self, name: str) -> Decimal:
        return self.get(name, Decimal(0))

    def add(self, values: Mapping[str, Any]) -> None:
        for name, value in values.items():
            if name in ("pk", "expires_at") or not isinstance(value, Decimal | int):
                continue
            self[name] = self.get(name, Decimal(0)) + Decimal(value)

    def with_prefix(self, prefix: str) -> dict[str, int]:
        """Counts of the attributes starting with `prefix`, keyed by the rest of the name."""
        return {
            name[len(prefix) :]: int(value)
            for name, value in self.items()
            if name.startswith(prefix)
        }


def bucket_key(account: str, bucket: Bucket) -> str:
    return f"{account}#{bucket.resolution.value}#{bucket.start}"


def all_time_key(account: str) -> str:
    return f"{account}#all"


def campaign_key(account: str, campaign_id: str) -> str:
    return f"{account}#campaign#{campaign_id}"


def gauge_key(account: str) -> str:
    return f"{account}#gauge"


def _expiry(bucket: Bucket) -> int | None:
    if bucket.resolution is Resolution.MINUTE:
        return bucket.start + MINUTE_RETENTION_SECONDS
    return None


def target_items(target: Target) -> list[tuple[str, int | None]]:
    """Counter item keys (and their TTL, if any) that a target's deltas go to."""
    if isinstance(target, TimeTarget):
        keys: list[tuple[str, int | None]] = [
            (bucket_key(target.account, bucket), _expiry(bucket))
            for bucket in buckets_at(target.minute)
        ]
        keys.append((all_time_key(target.account), None))
        return keys
    if isinstance(target, CampaignTarget):
        return [(campaign_key(target.account, target.campaign_id), None)]
    return [(gauge_key(target.account), None)]


@dataclass
class ItemUpdates:
    """Deltas merged per counter item: what one batch writes."""

    deltas: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    expiries: dict[str, int] = field(default_factory=dict)

    def add(self, contribution: Contribution) -> None:
        for target, values in contribution.items():
            for key, expires_at in target_items(target):
                merged = self.deltas.setdefault(key, {})
                for name, value in values.items():
                    merged[name] = merged.get(name, Decimal(0)) + value
                if expires_at is not None:
                    self.expiries[key] = expires_at

    def nonzero(self) -> list[tuple[str, dict[str, Decimal], int | None]]:
        """(key, nonzero deltas, TTL) per item, sorted by key so chunking is deterministic."""
        result = []
        for key in sorted(self.deltas):
            values = {name: value for name, value in self.deltas[key].items() if value != 0}
            if values:
                result.append((key, values, self.expiries.get(key)))
        return result


@dataclass(frozen=True)
class StreamChange:
    """One stream record reduced to what counting needs."""

    sequence_number: str
    old_image: Mapping[str, Any] | None
    new_image: Mapping[str, Any] | None


@dataclass
class ApplyResult:
    records: int = 0
    items_written: int = 0
    chunks_applied: int = 0
    chunks_skipped: int = 0


def batch_digest(source: str, changes: Sequence[StreamChange]) -> str:
    """Identity of a stream batch: its source stream and first and last sequence numbers."""
    first, last = changes[0].sequence_number, changes[-1].sequence_number
    return hashlib.sha256(f"{source}|{first}|{last}|{len(changes)}".encode()).hexdigest()[:40]


def merge_changes(changes: Iterable[StreamChange]) -> ItemUpdates:
    updates = ItemUpdates()
    for change in changes:
        updates.add(delta(change.old_image, change.new_image))
    return updates


def apply_batch(source: str, changes: Sequence[StreamChange]) -> ApplyResult:
    """Apply one stream batch to the counters exactly once.

    The merged updates are written in transactions of at most 99 item updates
    plus a marker item for (batch, chunk) put only if absent. A retried or
    redelivered batch finds its markers and skips those chunks, so `ADD` never
    applies twice. Any other failure propagates so Lambda retries the batch.
    """
    result = ApplyResult(records=len(changes))
    if not changes:
        return result
    table = get_settings().counters_table
    items = merge_changes(changes).nonzero()
    digest = batch_digest(source, changes)
    marker_expiry = int(time.time()) + MARKER_TTL_SECONDS
    for number, chunk in enumerate(storage.chunked(items, CHUNK_UPDATES)):
        marker = storage.Put(
            table,
            {"pk": f"~batch#{digest}#{number}", "expires_at": marker_expiry, "items": len(chunk)},
            condition="attribute_not_exists(pk)",
        )
        actions: list[storage.Put | storage.Add] = [marker]
        actions.extend(
            storage.Add(
                table, {"pk": key}, values, {"expires_at": expires_at} if expires_at else None
            )
            for key, values, expires_at in chunk
        )
        if _write_chunk(actions):
            result.chunks_applied += 1
            result.items_written += len(chunk)
        else:
            result.chunks_skipped += 1
    return result


def _write_chunk(actions: Sequence[storage.Put | storage.Add]) -> bool:
    """Write one chunk; False when its marker shows it was applied before."""
    for attempt in range(_CHUNK_ATTEMPTS):
        try:
            storage.transact_write(actions)
        except storage.TransactionCancelled as cancelled:
            if cancelled.reasons and cancelled.reasons[0] == "ConditionalCheckFailed":
                return False
            if attempt + 1 == _CHUNK_ATTEMPTS or not set(cancelled.reasons) <= (
                _RETRYABLE_REASONS | {"None"}
            ):
                raise
            time.sleep(0.05 * 2**attempt)
        else:
            return True
    raise AssertionError("unreachable")  # pragma: no cover


def read_keys(keys: Iterable[str]) -> dict[str, Counts]:
    """Counter items by key (absent ones as empty Counts), fewest BatchGetItem calls."""
    unique = sorted(set(keys))
    found = {key: Counts() for key in unique}
    for item in storage.batch_get(get_settings().counters_table, [{"pk": key} for key in unique]):
        found[str(item["pk"])].add(item)
    return found


def retained_range(start: datetime, end: datetime) -> tuple[int, int]:
    """`[start, end)` in whole minutes, with edges older than the minute buckets' retention
    widened to the quarter-hour: those minute items have expired, and reading them would
    silently drop counts. Within 35 days every range is exact to the minute."""
    low, high = resolve_range(start, end)
    horizon = int(now().timestamp()) - MINUTE_RETENTION_SECONDS
    if low < horizon:
        low -= low % QUARTER
    if high < horizon and high % QUARTER:
        high += QUARTER - high % QUARTER
    return low, high


def read_ranges(account: str, ranges: Sequence[tuple[datetime, datetime]]) -> list[Counts]:
    """Counts for each `[start, end)` (see `retained_range`), all in one batched read.

    Each range is read through its cheapest signed cover (timeutil.signed_cover);
    buckets shared between ranges, such as a tail two local days share, are read once.
    """
    plans = [
        signed_cover(*retained_range(start, end)) if start < end else [] for start, end in ranges
    ]
    items = read_keys(bucket_key(account, bucket) for plan in plans for _, bucket in plan)
    results = []
    for plan in plans:
        counts = Counts()
        for sign, bucket in plan:
            item = items[bucket_key(account, bucket)]
            counts.add(item if sign > 0 else {name: -value for name, value in item.items()})
        results.append(counts)
    return results


def read_range(account: str, start: datetime, end: datetime) -> Counts:
    return read_ranges(account, [(start, end)])[0]


def read_all_time(account: str) -> Counts:
    return read_keys([all_time_key(account)])[all_time_key(account)]


def read_gauge(account: str) -> Counts:
    return read_keys([gauge_key(account)])[gauge_key(account)]


def read_campaigns(account: str, campaign_ids: Iterable[str]) -> dict[str, Counts]:
    ids = list(campaign_ids)
    items = read_keys(campaign_key(account, campaign_id) for campaign_id in ids)
    return {campaign_id: items[campaign_key(account, campaign_id)] for campaign_id in ids}


def recount(events: Iterable[Mapping[str, Any]]) -> ItemUpdates:
    """Counter items recomputed from raw events (what `tally rebuild` writes)."""
    updates = ItemUpdates()
    for event in events:
        updates.add(delta(None, event))
    return updates


def apply_stream_event(event: DynamoDBStreamEvent) -> ApplyResult:
    """Apply a Lambda DynamoDB stream event as one unit.

    Deliberately not Powertools' BatchProcessor: partial batch responses make
    Lambda checkpoint mid-batch and retry a different batch, which would break
    the batch identity that exactly-once application rests on. Any failure
    raises and Lambda retries the whole, identical batch (no bisecting).
    """
    records = list(event.records)
    if not records:
        return ApplyResult()
    changes = []
    for record in records:
        stream = record.dynamodb
        if stream is None:
            continue
        changes.append(
            StreamChange(
                sequence_number=str(stream.sequence_number),
                old_image=stream.old_image or None,
                new_image=stream.new_image or None,
            )
        )
    return apply_batch(str(records[0].event_source_arn), changes)
