"""DynamoDB request, item and capacity metering of the calls `tally_dev.lambda_kit` records.

Capacity is computed from item sizes as DynamoDB bills it (moto reports no
real consumed capacity): an eventually consistent read costs 0.5 RCU per 4 KB
per item for GetItem/BatchGetItem (a missing key still costs the minimum), a
Query page sums the sizes of the items it read and rounds up per 4 KB; writes
cost 1 WCU per 1 KB per item, 2 in a transaction.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
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


def write_units(size: int, *, transactional: bool) -> int:
    units = max(1, math.ceil(size / WRITE_UNIT))
    return 2 * units if transactional else units


@dataclass
class Usage:
    """What a span of DynamoDB calls cost."""

    requests: Counter[str] = field(default_factory=Counter)
    items_read: int = 0
    rcu: float = 0.0
    items_written: int = 0
    write_keys: list[tuple[str, str]] = field(default_factory=list)
    put_wcu: int = 0

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def shape(self) -> str:
        """Requests by operation, e.g. `BatchGetItem 1, Query 1`."""
        return ", ".join(f"{name} {count}" for name, count in sorted(self.requests.items()))


class Meter:
    """Counts the DynamoDB calls made through one botocore client while recording
    (`tally_dev.lambda_kit.DynamoDBCalls` records them)."""

    def __init__(self, ignored_tables: frozenset[str] = frozenset()) -> None:
        self.usage = Usage()
        # Calls on these tables are left out (API key lookups: cached per warm container,
        # so whether a call makes one depends on the clock, not on the data).
        self.ignored_tables = ignored_tables
        self._client: Any = None
        self._recording: DynamoDBCalls | None = None

    def install(self, client: Any) -> None:
        self._client = client

    def start(self) -> None:
        self._recording = DynamoDBCalls(self._client).start()

    def stop(self) -> Usage:
        assert self._recording is not None, "stop() without start()"
        calls, self._recording = self._recording.stop(), None
        self.usage = Usage()
        for call in calls:
            if call.params.get("TableName") in self.ignored_tables:
                continue
            self._count_request(call.operation, call.params)
            if call.response is not None and not call.failed:
                self._count_response(call.operation, call.params, call.response)
        return self.usage

    def _count_request(self, name: str, params: dict[str, Any]) -> None:
        self.usage.requests[name] += 1
        if name == "TransactWriteItems":
            self._count_transaction(params["TransactItems"])
        elif name in ("PutItem", "UpdateItem", "DeleteItem"):
            self.usage.items_written += 1
        elif name == "BatchWriteItem":
            self.usage.items_written += sum(len(v) for v in params["RequestItems"].values())

    def _count_transaction(self, actions: Iterable[Mapping[str, Any]]) -> None:
        for action in actions:
            ((kind, body),) = action.items()
            self.usage.items_written += 1
            if kind == "Put":
                self.usage.put_wcu += write_units(item_size(body["Item"]), transactional=True)
            elif kind in ("Update", "Delete"):
                self.usage.write_keys.append((body["TableName"], body["Key"]["pk"]["S"]))

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
            self.usage.rcu += sum(read_units(item_size(i), consistent=consistent) for i in found)
            self.usage.rcu += missing * read_units(0, consistent=consistent)
