"""Fixes to the embedded moto server, applied once by the moto engine.

1. Thread safety: moto's DynamoDB backend mutates plain dicts; concurrent
   requests (the gateway's threads, the stream poller) crash it with
   "dictionary changed size during iteration". Every DynamoDB and DynamoDB
   Streams request is serialised behind one lock, which also gives each
   request the atomicity DynamoDB has.
2. Speed: moto 5.2.5's TransactWriteItems deep-copies every touched table
   once per action (for a rollback), so one transaction costs O(actions x
   table size): ingest ran at about 30 events/s on a demo-sized table. Here
   the conditions are checked first against the current items (actions of one
   transaction touch distinct items, so checking up front is equivalent); a
   transaction whose conditions fail is cancelled before anything is written,
   and one whose conditions hold is applied without the table copies. Any
   transaction the pre-check cannot judge (duplicate keys, invalid
   expressions) goes through moto's own path unchanged.

3. Long expressions: moto parses an update expression into a tree as deep as its
   clauses are many and deep-copies it; an `ADD` of a few hundred attributes (the
   most the ingest caps allow on one counter item) passes Python's default
   recursion limit, so the limit is raised.
4. Numbers: moto adds and subtracts stored numbers with `int()` unless they
   contain a ".", so an `ADD` on a number written in exponent notation (`9E+125`,
   which is how DynamoDB and boto3 write large decimals) fails with a ValueError.
   Both operations are done in Decimal here, exactly.
5. Speed: an item's size limit is checked once per item, not once per
   attribute over every attribute before it (O(attributes^2) per item: most
   of a bulk write's time).
6. Speed: the answers of the item reads (GetItem, BatchGetItem, Query, Scan)
   are JSON-encoded directly instead of through moto's shape-walking response
   serializer, which took about 5 ms per item returned (a rebuild of the demo
   account spent 40 s there). The two encodings are the same JSON (a test
   compares them); answers with anything else fall back to the serializer.

A side effect matches DynamoDB Local rather than moto: a cancelled transaction
no longer replaces the table, so it leaves no stream records behind and does
not invalidate shard iterators.
"""

from __future__ import annotations

import base64
import copy
import functools
import json
import sys
import threading
from collections.abc import Callable
from decimal import Decimal, localcontext
from types import SimpleNamespace
from typing import Any

_LOCK = threading.RLock()
_applied: list[bool] = []
# Reads whose answers are only items, keys, counts and consumed capacity.
_ITEM_READS = frozenset({"GetItem", "BatchGetItem", "Query", "Scan"})
_READ_KEYS = frozenset(
    {
        "Item",
        "Items",
        "Responses",
        "UnprocessedKeys",
        "Count",
        "ScannedCount",
        "LastEvaluatedKey",
        "ConsumedCapacity",
    }
)


def _base64(value: object) -> str:
    """B and BS values: moto hands them over as bytes, the wire has base64."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def item_read_body(operation: str, result: object) -> str | None:
    """The JSON body of an item read's answer, or None when the serializer must do it."""
    if operation not in _ITEM_READS or not isinstance(result, dict):
        return None
    if not set(result) <= _READ_KEYS:
        return None
    return json.dumps(result, default=_base64)


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _LOCK:
            return method(*args, **kwargs)

    return wrapper


def _exact_numbers() -> None:
    from moto.dynamodb.models.dynamo_type import DDBType, DynamoType

    def arithmetic(sign: int) -> Any:
        def operate(self: Any, other: Any) -> Any:
            if self.type != other.type or self.type != DDBType.NUMBER:
                raise TypeError("only numbers can be added or subtracted")
            # Wide enough for any two DynamoDB numbers (38 digits, exponents -130..125), then
            # written as DynamoDB writes numbers: without trailing zeros.
            with localcontext(prec=300):
                total = (Decimal(self.value) + sign * Decimal(other.value)).normalize()
            return DynamoType({DDBType.NUMBER: f"{total}"})

        return operate

    setattr(DynamoType, "__add__", arithmetic(1))  # noqa: B010
    setattr(DynamoType, "__sub__", arithmetic(-1))  # noqa: B010


def apply() -> None:  # noqa: PLR0915 - one closure per patched moto entry point
    if _applied:
        return
    from moto.dynamodb import models
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import TransactionCanceledException
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.table import Table
    from moto.dynamodb.responses import DynamoHandler, DynamoResult
    from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

    for handler in (DynamoHandler, DynamoDBStreamsHandler):
        setattr(handler, "call_action", _locked(handler.call_action))  # noqa: B010 - patching a class
    _exact_numbers()
    sys.setrecursionlimit(max(sys.getrecursionlimit(), 20_000))

    def deepcopy_except_tables(value: Any, memo: dict[int, Any] | None = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    without_table_copies = SimpleNamespace(deepcopy=deepcopy_except_tables)
    original = models.DynamoDBBackend.transact_write_items

    def precheck(
        backend: Any, transact_items: list[dict[str, Any]]
    ) -> list[tuple[Any, Any, Any]] | None:
        """Per-action cancellation reasons, or None when moto's own path must decide."""
        errors: list[tuple[Any, Any, Any]] = []
        seen: set[tuple[str, str]] = set()
        for action in transact_items:
            if len(action) != 1:
                return None
            op_type, op = next(iter(action.items()))
            table = backend.get_table(op["TableName"])
            if op_type == "Put":
                attrs = op["Item"]
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            identity = (op["TableName"], str(sorted(key.items())))
            if identity in seen:
                return None
            seen.add(identity)
            condition = op.get("ConditionExpression")
            if condition is None:
                errors.append((None, None, None))
                continue
            current = backend.get_item(op["TableName"], key)
            check = get_filter_expression(
                condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            )
            if check.expr(current):
                errors.append((None, None, None))
            else:
                old = (
                    current.to_json()["Attributes"]
                    if current and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                    else None
                )
                errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
        return errors

    def transact_write_items(backend: Any, transact_items: list[dict[str, Any]]) -> None:
        try:
            errors = precheck(backend, transact_items) if len(transact_items) <= 100 else None
        except Exception:
            errors = None
        if errors is None:
            original(backend, transact_items)
            return
        if any(code is not None for code, _, _ in errors):
            raise TransactionCanceledException(errors)
        with _LOCK:
            setattr(models, "copy", without_table_copies)  # noqa: B010
            try:
                original(backend, transact_items)
            finally:
                setattr(models, "copy", copy)  # noqa: B010

    setattr(models.DynamoDBBackend, "transact_write_items", transact_write_items)  # noqa: B010

    def item_init(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        self.attrs = dynamo_type.LimitedSizeDict.__new__(dynamo_type.LimitedSizeDict)
        dict.update(self.attrs, {key: dynamo_type.DynamoType(v) for key, v in attrs.items()})
        # moto's own limit, checked on the whole item (what its per-attribute check ends at).
        if self.size() > 405000:
            raise dynamo_type.ItemSizeTooLarge

    setattr(dynamo_type.Item, "__init__", item_init)  # noqa: B010

    serialize = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        body = item_read_body(context.operation_model.name, self.result)
        if body is None:
            return serialize(self, context)
        # Status and headers as the serializer gives them (the CRC is added afterwards).
        status, headers, _ = serialize(DynamoResult({}), context)
        return status, headers, body

    setattr(DynamoResult, "execute_result", execute_result)  # noqa: B010
    _applied.append(True)
