"""Counter items: keys, exactly-once application of stream batches, reads over any range.

Counter item keys (counters table, hash key `pk`):
  `{account}#{series}{resolution}#{bucket start}`  time buckets; the events series has no
        code (`acme#d#1780531200`: m q h d M Y), the usage series is `u` (um uq uh)
  `{account}#campaign#{campaign id}`  one campaign's messages
  `{account}#gauge`                   current totals (contacts)

Exactly once, whatever the bounds of the batch a record comes back in
(docs/reliability.md gives the argument in full). Every counter item keeps one
watermark per events-table partition key that writes to it (its *source*,
`tally.events.source_suffix`): the stream position up to which that source's
records are included in the item. A batch's merged update of an item is one
UpdateItem that adds the deltas and moves the watermarks of the sources it
carries to the batch's last position, on the condition that each of them is
still below the batch's first position. When the condition fails (the records
were delivered before, in whole or in part, in a batch of other bounds), the
refused write returns the item's watermarks and only the records past them are
applied, on the condition that the watermarks are still those. This rests on
what DynamoDB Streams and Lambda guarantee: a shard's records come in order, a
batch is a contiguous run of one shard, a shard's batches are processed one at
a time (ParallelizationFactor 1), one partition key's records are in one shard
at a time and a parent shard is processed before its children. It needs no
marker items and no transactions: each item costs one plain UpdateItem, and the
items of a batch are written concurrently (threads, and worker processes on a function
with more than one vCPU: `tally.fanout`).

A record that DynamoDB refuses for one item (ValidationException: a number out
of range, an item over 400 KB) is set aside for that item into the quarantine
(`tally.quarantine`), atomically with its watermark, and every other record and
item of the batch is applied. Anything else (throttling, timeouts) raises, and
Lambda retries the batch: what was applied is skipped by the watermarks.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Any

from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent

from tally import fanout, metrics, quarantine, storage
from tally.config import get_settings
from tally.contributions import (
    EVENTS,
    EXACT,
    CampaignTarget,
    Contribution,
    Deltas,
    Series,
    Target,
    TimeTarget,
    delta,
)
from tally.events import source_suffix
from tally.timeutil import (
    EARLIEST,
    MINUTE_RETENTION_SECONDS,
    QUARTER,
    Bucket,
    Resolution,
    buckets_at,
    now,
    resolve_range,
    signed_cover,
)

log = logging.getLogger(__name__)

# A refused conditional update is retried on the item it returned; more than a few rounds
# means another writer of the same source, which ParallelizationFactor 1 rules out.
_ITEM_ATTEMPTS = 4
# Below this many counter items per process, a worker's share costs more to ship than to
# write here (one busy account's batch: ~40 items).
_ITEMS_PER_PROCESS = 250
_POSITION_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
# Stream sequence numbers have at most 40 decimal digits; 62**23 > 10**40.
POSITION_WIDTH = 23


_NOT_COUNTERS = frozenset({"pk", "expires_at"})


class Counts(dict[str, Decimal]):
    """Counter attributes summed over some buckets; absent names read as 0."""

    def count(self, name: str) -> int:
        return int(self.get(name, 0))

    def amount(self, name: str) -> Decimal:
        return self.get(name, Decimal(0))

    def add(self, values: Mapping[str, Any], sign: int = 1) -> None:
        """Add (sign 1) or subtract (sign -1) every counter attribute of `values`."""
        if not values:
            return  # most buckets of a long range hold nothing
        # Another Counts holds counters only: its filter is skipped (a read sums dozens).
        pairs = (
            values.items()
            if isinstance(values, Counts)
            else (
                (name, value)
                for name, value in values.items()
                if name not in _NOT_COUNTERS and isinstance(value, Decimal | int)
            )
        )
        get = self.get
        # Wide enough for any sum of stored counters (each at most 38 digits).
        with localcontext(prec=80):
            for name, value in pairs:
                change = value if sign > 0 else -value
                current = get(name)
                self[name] = Decimal(change) if current is None else current + change

    def with_prefix(self, prefix: str) -> dict[str, int]:
        """Counts of the attributes starting with `prefix`, keyed by the rest of the name."""
        return {
            name[len(prefix) :]: int(value)
            for name, value in self.items()
            if name.startswith(prefix)
        }


def bucket_key(account: str, bucket: Bucket, series: Series = EVENTS) -> str:
    return f"{account}#{series.code}{bucket.resolution.value}#{bucket.start}"


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
        return [
            (bucket_key(target.account, bucket, target.series), _expiry(bucket))
            for bucket in buckets_at(target.minute, target.resolutions)
        ]
    if isinstance(target, CampaignTarget):
        return [(campaign_key(target.account, target.campaign_id), None)]
    return [(gauge_key(target.account), None)]


def merged(deltas: Iterable[Mapping[str, Decimal]]) -> Deltas:
    """The sum of several deltas, zeros dropped (exact: see contributions.EXACT)."""
    total: Deltas = {}
    for values in deltas:
        for name, value in values.items():
            total[name] = EXACT.add(total.get(name, Decimal(0)), value)
    return {name: value for name, value in sorted(total.items()) if value != 0}


@dataclass
class ItemUpdates:
    """Deltas merged per counter item (what `tally rebuild` writes; the tests' oracle)."""

    deltas: dict[str, list[Deltas]] = field(default_factory=dict)
    expiries: dict[str, int] = field(default_factory=dict)

    def add(self, contribution: Contribution) -> None:
        for target, values in contribution.items():
            for key, expires_at in target_items(target):
                self.deltas.setdefault(key, []).append(values)
                if expires_at is not None:
                    self.expiries[key] = expires_at

    def nonzero(self) -> list[tuple[str, Deltas, int | None]]:
        """(key, nonzero deltas, TTL) per item, sorted by key."""
        result = []
        for key in sorted(self.deltas):
            values = merged(self.deltas[key])
            if values:
                result.append((key, values, self.expiries.get(key)))
        return result


def recount(events: Iterable[Mapping[str, Any]]) -> ItemUpdates:
    """Counter items recomputed from raw events."""
    updates = ItemUpdates()
    for event in events:
        updates.add(delta(None, event))
    return updates


# --- Applying stream batches ------------------------------------------------------------


def position(sequence_number: str) -> str:
    """A stream sequence number as a fixed-width string that sorts like the number
    (base 62 in ASCII order): what a watermark holds, compared in a condition."""
    if not sequence_number.isascii() or not sequence_number.isdigit():
        raise ValueError(f"not a stream sequence number: {sequence_number!r}")
    value = int(sequence_number)
    digits = []
    while value:
        value, digit = divmod(value, len(_POSITION_DIGITS))
        digits.append(_POSITION_DIGITS[digit])
    encoded = "".join(reversed(digits)).rjust(POSITION_WIDTH, "0")
    if len(encoded) > POSITION_WIDTH:
        raise ValueError(f"stream sequence number too long: {sequence_number!r}")
    return encoded


@dataclass(frozen=True)
class StreamChange:
    """One stream record reduced to what counting needs."""

    sequence_number: str
    source: str  # the events-table partition key of the record's item
    old_image: Mapping[str, Any] | None
    new_image: Mapping[str, Any] | None


@dataclass(frozen=True)
class Piece:
    """One record's deltas for one counter item."""

    change: StreamChange
    position: str
    source: str  # the source's suffix: names its watermark
    deltas: Deltas


@dataclass
class ItemWork:
    key: str
    expires_at: int | None
    pieces: list[Piece] = field(default_factory=list)


@dataclass
class ApplyResult:
    records: int = 0
    items_written: int = 0
    items_skipped: int = 0
    records_quarantined: int = 0

    def merge(self, other: ApplyResult) -> None:
        self.items_written += other.items_written
        self.items_skipped += other.items_skipped
        self.records_quarantined += other.records_quarantined


# Expected watermark of a source in an update's condition: FRESH means "below the batch's
# first position" (a first delivery), None "absent", a string "exactly this".
FRESH = object()


def update_request(
    deltas: Mapping[str, Decimal],
    expected: Mapping[str, object],
    moved_to: str,
    expires_at: int | None,
    first: str,
) -> dict[str, Any]:
    """UpdateItem parameters: add `deltas`, move the sources' watermarks to `moved_to`,
    on the condition that each watermark is still as `expected`."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {":p": moved_to} if expected else {}
    adds = []
    for index, (name, value) in enumerate(sorted(deltas.items())):
        names[f"#{index}"] = name
        values[f":{index}"] = value
        adds.append(f"#{index} :{index}")
    sets, conditions = [], []
    for index, (suffix, expect) in enumerate(sorted(expected.items())):
        mark = f"#w{index}"
        names[mark] = metrics.watermark(suffix)
        sets.append(f"{mark} = :p")
        if expect is FRESH:
            values[":f"] = first
            conditions.append(f"(attribute_not_exists({mark}) OR {mark} < :f)")
        elif expect is None:
            conditions.append(f"attribute_not_exists({mark})")
        else:
            values[f":m{index}"] = expect
            conditions.append(f"{mark} = :m{index}")
    if expires_at is not None:
        names["#x"] = "expires_at"
        values[":x"] = expires_at
        sets.append("#x = :x")
    clauses = [f"ADD {', '.join(adds)}"] if adds else []
    if sets:
        clauses.append(f"SET {', '.join(sets)}")
    return {
        "expression": " ".join(clauses),
        "names": names,
        "values": values,
        "condition": " AND ".join(conditions) or None,
    }


def _marks(item: Mapping[str, Any] | None, sources: Iterable[str]) -> dict[str, str | None]:
    found = item or {}
    return {
        source: (
            str(found[metrics.watermark(source)]) if metrics.watermark(source) in found else None
        )
        for source in sources
    }


def _past(piece: Piece, marks: Mapping[str, str | None]) -> bool:
    mark = marks.get(piece.source)
    return mark is None or piece.position > mark


def _apply_item(work: ItemWork, first: str, last: str) -> ApplyResult:
    """Apply a batch's pieces of one item exactly once (see the module docstring)."""
    table = get_settings().counters_table
    marks: dict[str, str | None] | None = None  # None: not known yet, assume a first delivery
    for _ in range(_ITEM_ATTEMPTS):
        pending = work.pieces if marks is None else [p for p in work.pieces if _past(p, marks)]
        try:
            deltas = merged(piece.deltas for piece in pending)
        except ArithmeticError as error:
            return _apply_one_by_one(work, marks, f"the batch's sum is out of range: {error}")
        if not deltas:
            # Applied before, or nothing to add: a zero net change needs no watermark either,
            # since the watermark only ever tells which records are already in the item.
            return ApplyResult(items_skipped=1)
        sources = sorted({piece.source for piece in pending})
        expected: dict[str, object] = (
            dict.fromkeys(sources, FRESH) if marks is None else {s: marks[s] for s in sources}
        )
        request = update_request(deltas, expected, last, work.expires_at, first)
        try:
            outcome = storage.update_item(table, {"pk": work.key}, **request)
        except storage.ClientError as error:
            if not storage.is_invalid_request(error):
                raise
            return _apply_one_by_one(work, marks, str(error))
        if outcome.written:
            return ApplyResult(items_written=1)
        marks = _marks(outcome.current, {piece.source for piece in work.pieces})
    raise RuntimeError(f"counter item {work.key} keeps changing under its own source")


def _apply_one_by_one(
    work: ItemWork, marks: dict[str, str | None] | None, reason: str
) -> ApplyResult:
    """DynamoDB refused the merged update: apply the pieces one at a time, in stream order,
    and set aside, with its watermark, each piece that is refused on its own."""
    table = get_settings().counters_table
    sources = {piece.source for piece in work.pieces}
    if marks is None:
        marks = _marks(storage.get_item(table, {"pk": work.key}, consistent=True), sources)
    result = ApplyResult(items_written=1)
    for piece in sorted(work.pieces, key=lambda piece: piece.position):
        while _past(piece, marks):
            request = update_request(
                piece.deltas,
                {piece.source: marks[piece.source]},
                piece.position,
                work.expires_at,
                "",
            )
            try:
                outcome = storage.update_item(table, {"pk": work.key}, **request)
            except storage.ClientError as error:
                if not storage.is_invalid_request(error):
                    raise
                log.warning("counter update refused; quarantined", extra={"item": work.key})
                moved = update_request(
                    {}, {piece.source: marks[piece.source]}, piece.position, None, ""
                )
                if _set_aside(piece.change, work.key, str(error) or reason, moved):
                    result.records_quarantined += 1
                    marks[piece.source] = piece.position
                else:
                    marks = _marks(
                        storage.get_item(table, {"pk": work.key}, consistent=True), sources
                    )
                continue
            if outcome.written:
                marks[piece.source] = piece.position
            else:
                marks = _marks(outcome.current, sources)
    return result


def _set_aside(
    change: StreamChange, item_key: str | None, reason: str, watermark: dict[str, Any] | None = None
) -> bool:
    return quarantine.set_aside(
        source=change.source,
        sequence=change.sequence_number,
        old_image=change.old_image,
        new_image=change.new_image,
        item_key=item_key,
        reason=reason,
        watermark=(
            None
            if watermark is None or item_key is None
            else storage.Update(get_settings().counters_table, {"pk": item_key}, **watermark)
        ),
    )


def _pieces(changes: Sequence[StreamChange]) -> tuple[list[ItemWork], int]:
    """The batch's deltas grouped per counter item, and how many records could not even be
    turned into deltas (each set aside whole, the same way on every delivery)."""
    work: dict[str, ItemWork] = {}
    unreadable = 0
    for change in changes:
        try:
            contribution = delta(change.old_image, change.new_image)
            at = position(change.sequence_number)
        except (ArithmeticError, KeyError, TypeError, ValueError) as error:
            _set_aside(change, None, f"{type(error).__name__}: {error}")
            unreadable += 1
            continue
        suffix = source_suffix(change.source)
        for target, values in contribution.items():
            for key, expires_at in target_items(target):
                item = work.setdefault(key, ItemWork(key, expires_at))
                item.pieces.append(Piece(change, at, suffix, values))
    return list(work.values()), unreadable


def apply_batch(changes: Sequence[StreamChange]) -> ApplyResult:
    """Apply one stream batch (records of one shard, in order) to the counters exactly once."""
    result = ApplyResult(records=len(changes))
    if not changes:
        return result
    first, last = position(changes[0].sequence_number), position(changes[-1].sequence_number)
    work, result.records_quarantined = _pieces(changes)
    # Items are independent: spread over processes (CPU) and, in each, threads (latency).
    processes = max(1, min(get_settings().processes, len(work) // _ITEMS_PER_PROCESS))
    shares = [(work[index::processes], first, last) for index in range(processes)]
    for share_result in fanout.run(_apply_share, shares):
        result.merge(share_result)
    return result


def _apply_share(work: Sequence[ItemWork], first: str, last: str) -> ApplyResult:
    result = ApplyResult()
    for item_result in storage.parallel(lambda item: _apply_item(item, first, last), work):
        result.merge(item_result)
    return result


def apply_stream_event(event: DynamoDBStreamEvent) -> ApplyResult:
    """Apply a Lambda DynamoDB stream event. Any error that is not a refused record raises,
    and Lambda retries the batch, in whatever bounds it chooses: the watermarks make any
    redelivery exact."""
    changes = []
    for record in event.records:
        stream = record.dynamodb
        if stream is None:
            continue
        changes.append(
            StreamChange(
                sequence_number=str(stream.sequence_number),
                source=str((stream.keys or {}).get("pk", "")),
                old_image=stream.old_image or None,
                new_image=stream.new_image or None,
            )
        )
    return apply_batch(changes)


def replay(entry: Mapping[str, Any]) -> str:
    """Apply a quarantine entry's deltas and delete it, in one transaction (exactly once).

    Returns "replayed", "gone" (replayed meanwhile) or why DynamoDB still refuses it.
    The watermarks stay as they are: they already count the record as handled."""
    try:
        contribution = delta(entry.get("old_image"), entry.get("new_image"))
    except (ArithmeticError, KeyError, TypeError, ValueError) as error:
        return f"still refused: {type(error).__name__}: {error}"
    per_item = ItemUpdates()
    per_item.add(contribution)
    table = get_settings().counters_table
    wanted = str(entry["item"])
    actions: list[storage.Action] = [
        storage.Update(table, {"pk": key}, **update_request(values, {}, "", expires_at, ""))
        for key, values, expires_at in per_item.nonzero()
        if wanted in (quarantine.WHOLE_RECORD, key)
    ]
    actions.append(quarantine.removal(str(entry["entry"])))
    try:
        storage.transact_write(actions)
    except storage.TransactionCancelled as cancelled:
        if cancelled.reasons[-1:] == ["ConditionalCheckFailed"]:
            return "gone"
        return f"still refused: {cancelled}"
    except storage.ClientError as error:
        if storage.is_invalid_request(error):
            return f"still refused: {error}"
        raise
    return "replayed"


# --- Reading ------------------------------------------------------------------------------


def read_keys(keys: Iterable[str], names: Collection[str] | None = None) -> dict[str, Counts]:
    """Counter items by key (absent ones as empty Counts), fewest BatchGetItem calls.

    `names`: the only counters the caller reads. DynamoDB then returns just those (it
    bills the whole item either way), so a route that needs three of an item's hundred
    numbers neither parses nor decodes the other ninety-seven."""
    found = {key: Counts() for key in keys}
    table = get_settings().counters_table
    for pk, numbers in storage.batch_get_numbers(table, "pk", found, names):
        # Watermarks are strings (left out); the TTL is the one number that is not a counter.
        numbers.pop("expires_at", None)
        found[pk] = Counts(numbers)
    return found


def minute_horizon() -> int:
    """The oldest instant (epoch seconds) whose minute items are still retained."""
    return int(now().timestamp()) - MINUTE_RETENTION_SECONDS


def retained_range(start: datetime, end: datetime, horizon: int | None = None) -> tuple[int, int]:
    """`[start, end)` in whole minutes, with edges older than the minute buckets' retention
    widened to the quarter-hour: those minute items have expired, and reading them would
    silently drop counts. Within 35 days every range is exact to the minute. `horizon`
    (`minute_horizon()`) is read once per request by callers with many ranges."""
    low, high = resolve_range(start, end)
    if horizon is None:
        horizon = minute_horizon()
    if low < horizon:
        low -= low % QUARTER
    if high < horizon and high % QUARTER:
        high += QUARTER - high % QUARTER
    return low, high


def read_ranges(
    account: str,
    ranges: Sequence[tuple[datetime, datetime]],
    series: Series = EVENTS,
    names: Collection[str] | None = None,
) -> list[Counts]:
    """Counts of `series` (of `names`, see `read_keys`) for each `[start, end)` (see
    `retained_range`), in one batched read."""
    return read_ranges_and_items(account, ranges, series, names=names)[0]


def read_ranges_and_items(
    account: str,
    ranges: Sequence[tuple[datetime, datetime]],
    series: Series = EVENTS,
    *,
    also: Iterable[str] = (),
    names: Collection[str] | None = None,
) -> tuple[list[Counts], dict[str, Counts]]:
    """Counts of `series` for each `[start, end)`, and the items `also` names, all in one
    batched read.

    Each range is read through its cheapest signed cover (timeutil.signed_cover);
    buckets shared between ranges, such as a tail two local days share, are read once.
    """
    horizon = minute_horizon()
    plans = [
        [
            (sign, bucket_key(account, bucket, series))
            for sign, bucket in signed_cover(*retained_range(start, end, horizon), series.ladder)
        ]
        if start < end
        else []
        for start, end in ranges
    ]
    extra = list(also)
    items = read_keys([*extra, *(key for plan in plans for _, key in plan)], names)
    results = []
    for plan in plans:
        if len(plan) == 1 and plan[0][0] > 0:
            # One bucket (a UTC day of a daily series): its counts as they are.
            results.append(Counts(items[plan[0][1]]))
            continue
        counts = Counts()
        for sign, key in plan:
            counts.add(items[key], sign)
        results.append(counts)
    return results, {key: items[key] for key in extra}


def read_range(
    account: str,
    start: datetime,
    end: datetime,
    series: Series = EVENTS,
    names: Collection[str] | None = None,
) -> Counts:
    return read_ranges(account, [(start, end)], series, names)[0]


def all_time_keys(account: str) -> list[str]:
    """The year items that hold every event the service accepts (from 2000 to a day ahead)."""
    last = (now() + timedelta(days=1)).year
    return [
        bucket_key(
            account, Bucket(Resolution.YEAR, int(datetime(year, 1, 1, tzinfo=UTC).timestamp()))
        )
        for year in range(EARLIEST.year, last + 1)
    ]


def total(parts: Iterable[Mapping[str, Any]]) -> Counts:
    summed = Counts()
    for counts in parts:
        summed.add(counts)
    return summed


def read_all_time(account: str, names: Collection[str] | None = None) -> Counts:
    """The events series' counters (of `names`, see `read_keys`) over all time: the sum of
    its year items."""
    return total(read_keys(all_time_keys(account), names).values())


def read_gauge(account: str) -> Counts:
    return read_keys([gauge_key(account)])[gauge_key(account)]


def read_campaigns(account: str, campaign_ids: Iterable[str]) -> dict[str, Counts]:
    ids = list(campaign_ids)
    items = read_keys(campaign_key(account, campaign_id) for campaign_id in ids)
    return {campaign_id: items[campaign_key(account, campaign_id)] for campaign_id in ids}
