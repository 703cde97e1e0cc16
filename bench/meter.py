"""DynamoDB request, item and capacity metering of the calls `tally_dev.lambda_kit` records.

Capacity is computed from item sizes as DynamoDB bills it (moto reports no
real consumed capacity): an eventually consistent read costs 0.5 RCU per 4 KB
per item for GetItem/BatchGetItem (a missing key still costs the minimum; the
whole item, whatever a projection leaves out), a Query page sums the sizes of
the items it read and rounds up per 4 KB; a write
costs 1 WCU per 1 KB of the larger of the item before and after it, 2 in a
transaction, plus 1 WCU per 1 KB of index entry for every global secondary index
entry it puts or removes (index keys, table keys and projected attributes, plus
100 bytes of overhead); a write that changes neither an index's keys nor its
projected attributes costs that index nothing.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tally_dev.lambda_kit import DynamoDBCalls

READ_UNIT = 4096
WRITE_UNIT = 1024


def _number_size(text: str) -> int:
    """1 byte per two significant digits plus 1 (leading and trailing zeros trimmed)."""
    mantissa = Decimal(text).normalize().as_tuple().digits
    digits = "".join(str(digit) for digit in mantissa).strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size of one DynamoDB-JSON attribute value (`{"S": "..."}`) by DynamoDB's rules."""
    ((kind, raw),) = value.items()
    if kind == "S":
        return len(str(raw).encode())
    if kind == "N":
        return _number_size(str(raw))
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(part).encode()) for part in raw)
    if kind == "NS":
        return sum(_number_size(str(part)) for part in raw)
    if kind == "BS":
        return sum(len(part) for part in raw)
    if kind == "M":
        return 3 + sum(len(name.encode()) + value_size(part) + 1 for name, part in raw.items())
    if kind == "L":
        return 3 + sum(value_size(part) + 1 for part in raw)
    raise ValueError(f"unknown DynamoDB type {kind}")


def item_size(item: Mapping[str, Mapping[str, Any]]) -> int:
    """Bytes DynamoDB bills for an item: attribute name lengths plus value sizes."""
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def read_units(size: int, *, consistent: bool) -> float:
    units = max(1, math.ceil(size / READ_UNIT))
    return units if consistent else units / 2


def write_units(size: int, *, transactional: bool = False) -> int:
    units = max(1, math.ceil(size / WRITE_UNIT))
    return 2 * units if transactional else units


INDEX_ENTRY_OVERHEAD = 100


@dataclass(frozen=True)
class Index:
    """A global secondary index: its key attributes and what it projects."""

    name: str
    keys: tuple[str, ...]
    projection: str  # KEYS_ONLY, INCLUDE or ALL
    included: tuple[str, ...] = ()

    def entry(self, item: Mapping[str, Any] | None, table_keys: tuple[str, ...]) -> dict[str, Any]:
        """The index entry `item` makes (DynamoDB JSON), empty when it lacks an index key."""
        if not item or any(name not in item for name in self.keys):
            return {}
        if self.projection == "ALL":
            return dict(item)
        names = {*self.keys, *table_keys, *self.included}
        return {name: value for name, value in item.items() if name in names}


@dataclass(frozen=True)
class Layout:
    """A table's key attributes and global secondary indexes (from the template)."""

    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def key_of(self, item: Mapping[str, Any]) -> dict[str, Any]:
        return {name: item[name] for name in self.keys}

    def index_units(self, old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> int:
        """WCU the indexes bill for replacing `old` by `new` (None: no item)."""
        units = 0
        for index in self.indexes:
            before, after = index.entry(old, self.keys), index.entry(new, self.keys)
            if before == after:
                continue
            same_key = before and after and all(before[k] == after[k] for k in index.keys)
            for entry in [after] if same_key else [before, after]:
                if entry:
                    units += write_units(item_size(entry) + INDEX_ENTRY_OVERHEAD)
        return units


def layout_of(create_kwargs: Mapping[str, Any]) -> Layout:
    """A table's Layout from its CreateTable parameters."""
    indexes = tuple(
        Index(
            name=index["IndexName"],
            keys=tuple(part["AttributeName"] for part in index["KeySchema"]),
            projection=index["Projection"]["ProjectionType"],
            included=tuple(index["Projection"].get("NonKeyAttributes", ())),
        )
        for index in create_kwargs.get("GlobalSecondaryIndexes", ())
    )
    keys = tuple(part["AttributeName"] for part in create_kwargs["KeySchema"])
    return Layout(keys=keys, indexes=indexes)


@dataclass
class Usage:
    """What a span of DynamoDB calls cost."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    rcu: float = 0.0
    items_written: int = 0
    # UpdateItem targets (table, DynamoDB JSON key), billed at their size after the span
    # (`Meter.settle`): an ADD only grows an item, and each is updated once per span.
    updated: list[tuple[str, str]] = field(default_factory=list)
    table_wcu: float = 0.0
    index_wcu: float = 0.0

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    @property
    def wcu(self) -> float:
        return self.table_wcu + self.index_wcu

    def shape(self) -> str:
        """Requests by operation, e.g. `BatchGetItem 1, Query 1`."""
        return ", ".join(f"{name} {count}" for name, count in sorted(self.requests.items()))

    def add(self, other: Usage) -> None:
        self.requests.update(other.requests)
        self.items_read += other.items_read
        self.rcu += other.rcu
        self.items_written += other.items_written
        self.updated.extend(other.updated)
        self.table_wcu += other.table_wcu
        self.index_wcu += other.index_wcu


# (table, DynamoDB JSON keys) -> the items found among them as stored now: how the meter
# sees the items writes touch (an unmetered client of the same tables).
Fetch = Callable[[str, Sequence[Mapping[str, Any]]], list[dict[str, Any]]]


class Meter:
    """Counts the DynamoDB calls made through one botocore client while recording
    (`tally_dev.lambda_kit.DynamoDBCalls` records them) and bills them by item size."""

    def __init__(
        self,
        fetch: Fetch,
        layouts: Mapping[str, Layout],
        ignored_tables: frozenset[str] = frozenset(),
    ) -> None:
        self.usage = Usage()
        self.fetch = fetch
        self.layouts = dict(layouts)
        # Calls on these tables are left out (API key lookups: cached per warm container,
        # so whether a call makes one depends on the clock, not on the data).
        self.ignored_tables = ignored_tables
        self._client: Any = None
        self._recording: DynamoDBCalls | None = None
        # (table, wire key) -> the item a PutItem of the span replaced (None: none). Each
        # item is put at most once per span (a bench step), so the first look is the one.
        self._replaced: dict[tuple[str, str], dict[str, Any] | None] = {}

    def install(self, client: Any) -> None:
        self._client = client
        # A put is billed at the larger of the item before and after it: the item before is
        # only visible before the call changes it.
        client.meta.events.register(
            "before-parameter-build.dynamodb.PutItem", self._before_put, unique_id="bench-put"
        )

    def start(self) -> None:
        self._replaced = {}
        self._recording = DynamoDBCalls(self._client).start()

    def stop(self) -> Usage:
        if self._recording is None:
            raise RuntimeError("Meter.stop() without start()")
        calls, self._recording = self._recording.stop(), None
        self.usage = Usage()
        for call in calls:
            if call.params.get("TableName") in self.ignored_tables:
                continue
            self._count_request(call.operation, call.params)
            if not call.failed and call.response is not None:
                self._count_response(call.operation, call.params, call.response)
        return self.usage

    def settle(self, usage: Usage) -> Usage:
        """Bill the span's UpdateItems at the size of their items now (once per item and
        update), and forget them."""
        sizes: dict[tuple[str, str], int] = {}
        for table in {table for table, _ in usage.updated}:
            keys = sorted({key for name, key in usage.updated if name == table})
            for item in self.fetch(table, [_key(key) for key in keys]):
                sizes[table, _wire_key(self.layouts[table].key_of(item))] = item_size(item)
        usage.table_wcu += sum(write_units(sizes.get(target, 0)) for target in usage.updated)
        usage.updated = []
        return usage

    def _before_put(self, params: dict[str, Any], **_: Any) -> None:
        table = params["TableName"]
        if self._recording is None or table in self.ignored_tables:
            return
        key = self.layouts[table].key_of(params["Item"])
        found = self.fetch(table, [key])
        self._replaced.setdefault((table, _wire_key(key)), found[0] if found else None)

    def _count_request(self, name: str, params: dict[str, Any]) -> None:
        self.usage.requests[name] += 1
        if name == "TransactWriteItems":
            self._count_transaction(params["TransactItems"])
        elif name == "PutItem":
            self.usage.items_written += 1
            table = params["TableName"]
            old = self._replaced.get((table, _wire_key(self.layouts[table].key_of(params["Item"]))))
            self._count_put(table, params["Item"], old, transactional=False)
        elif name in ("UpdateItem", "DeleteItem"):
            self.usage.items_written += 1
            self.usage.updated.append((params["TableName"], _wire_key(params["Key"])))
        elif name == "BatchWriteItem":
            for table, requests in params["RequestItems"].items():
                for request in requests:
                    self.usage.items_written += 1
                    if "PutRequest" in request:
                        self._count_put(table, request["PutRequest"]["Item"], None, False)

    def _count_put(
        self,
        table: str,
        item: Mapping[str, Any],
        old: Mapping[str, Any] | None,
        transactional: bool,
    ) -> None:
        size = max(item_size(item), item_size(old) if old else 0)
        self.usage.table_wcu += write_units(size, transactional=transactional)
        layout = self.layouts.get(table)
        if layout is not None:
            self.usage.index_wcu += layout.index_units(old, item)

    def _count_transaction(self, actions: Iterable[Mapping[str, Any]]) -> None:
        for action in actions:
            ((kind, body),) = action.items()
            self.usage.items_written += 1
            if kind == "Put":
                self._count_put(body["TableName"], body["Item"], None, transactional=True)
            elif kind in ("Update", "Delete"):
                # Transactional: billed twice at the item's size after the span.
                key = (body["TableName"], _wire_key(body["Key"]))
                self.usage.updated.extend([key, key])

    def _count_response(
        self, name: str, params: Mapping[str, Any], parsed: Mapping[str, Any]
    ) -> None:
        consistent = bool(params.get("ConsistentRead"))
        if name == "GetItem":
            self.usage.items_read += 1
            size = item_size(parsed["Item"]) if "Item" in parsed else 0
            self.usage.rcu += read_units(size, consistent=consistent)
        elif name == "BatchGetItem":
            self._count_batch_get(params, parsed)
        elif name in ("Query", "Scan"):
            # ScannedCount: items read before any filter (what DynamoDB bills).
            self.usage.items_read += int(parsed.get("ScannedCount", len(parsed.get("Items", []))))
            size = sum(item_size(item) for item in parsed.get("Items", []))
            self.usage.rcu += read_units(size, consistent=consistent)

    def _count_batch_get(self, params: Mapping[str, Any], parsed: Mapping[str, Any]) -> None:
        unprocessed = parsed.get("UnprocessedKeys") or {}
        for table, request in params["RequestItems"].items():
            consistent = bool(request.get("ConsistentRead"))
            found = parsed.get("Responses", {}).get(table, [])
            retried = len(unprocessed.get(table, {}).get("Keys", []))
            missing = len(request["Keys"]) - len(found) - retried
            self.usage.items_read += len(found) + missing
            if "ProjectionExpression" in request:
                # DynamoDB bills the whole item, whatever the projection sends back.
                keys = [self.layouts[table].key_of(item) for item in found]
                found = self.fetch(table, keys) if keys else []
            self.usage.rcu += sum(read_units(item_size(i), consistent=consistent) for i in found)
            self.usage.rcu += missing * read_units(0, consistent=consistent)


def _wire_key(key: Mapping[str, Any]) -> str:
    return json.dumps(key, sort_keys=True)


def _key(wire: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(wire)
    return loaded
