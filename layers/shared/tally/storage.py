"""Every DynamoDB call of the service. Clients are created lazily and reused.

Items cross this module's boundary as plain Python values (Decimal for numbers);
the wire format stays inside.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

# BotoCoreError is re-exported: tally.http maps the SDK's failures without importing the SDK.
from botocore.exceptions import BotoCoreError, ClientError  # noqa: F401

Item = dict[str, Any]

BATCH_GET_LIMIT = 100
_READ_WORKERS = 8
BATCH_WRITE_LIMIT = 25
TRANSACT_LIMIT = 100
_MAX_UNPROCESSED_ROUNDS = 8
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


@cache
def client() -> Any:
    """The process-wide DynamoDB client (standard retry mode with backoff on throttling).

    boto3 is imported here, on first use, not at module import: it is most of a
    handler's import time, and the cold-start budget is 1.3x `import boto3`.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": 8}, connect_timeout=3, read_timeout=10
    )
    return boto3.client("dynamodb", config=config)


def reset_client() -> None:
    """Drop the cached client (the endpoint or credentials changed)."""
    client.cache_clear()


class TransactionCancelled(Exception):
    """A transaction was cancelled; `reasons` holds one code per action ("None" if fine)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(f"transaction cancelled: {reasons}")
        self.reasons = reasons


@cache
def _codecs() -> tuple[Any, Any]:
    from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

    return TypeSerializer(), TypeDeserializer()


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    serializer = _codecs()[0]
    return {name: serializer.serialize(value) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> Item:
    deserializer = _codecs()[1]
    return {name: deserializer.deserialize(value) for name, value in item.items()}


def is_throttling(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") in THROTTLING_CODES


def _backoff(attempt: int) -> None:
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 - jitter, not crypto


def _gave_up(operation: str, leftover: str) -> ClientError:
    """The throttling error raised when a batch call keeps leaving work unprocessed."""
    return ClientError(
        {
            "Error": {
                "Code": "ProvisionedThroughputExceededException",
                "Message": f"{operation} kept returning {leftover}",
            }
        },
        operation,
    )


def get_item(table: str, key: Mapping[str, Any], *, consistent: bool = False) -> Item | None:
    response = client().get_item(TableName=table, Key=serialize(key), ConsistentRead=consistent)
    found = response.get("Item")
    return deserialize(found) if found else None


def batch_get(
    table: str, keys: Sequence[Mapping[str, Any]], *, consistent: bool = False
) -> list[Item]:
    """Items for `keys` (missing ones are absent), 100 keys per request, UnprocessedKeys retried.

    Requests of more than 100 keys run concurrently (the client is thread-safe), so a
    read of a few hundred counter items costs one round trip, not several.
    """
    unique = list({tuple(sorted(key.items())): key for key in keys}.values())
    chunks = [
        unique[offset : offset + BATCH_GET_LIMIT]
        for offset in range(0, len(unique), BATCH_GET_LIMIT)
    ]
    if len(chunks) <= 1:
        return [item for chunk in chunks for item in _batch_get_chunk(table, chunk, consistent)]
    with ThreadPoolExecutor(max_workers=min(len(chunks), _READ_WORKERS)) as pool:
        results = pool.map(lambda chunk: _batch_get_chunk(table, chunk, consistent), chunks)
        return [item for chunk_items in results for item in chunk_items]


def _batch_get_chunk(table: str, keys: Sequence[Mapping[str, Any]], consistent: bool) -> list[Item]:
    found: list[Item] = []
    request: dict[str, Any] = {
        table: {"Keys": [serialize(key) for key in keys], "ConsistentRead": consistent}
    }
    for attempt in range(_MAX_UNPROCESSED_ROUNDS + 1):
        response = client().batch_get_item(RequestItems=request)
        found.extend(deserialize(item) for item in response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
        if attempt == _MAX_UNPROCESSED_ROUNDS:
            raise _gave_up("BatchGetItem", "UnprocessedKeys")
        _backoff(attempt)
    return found


def query(
    table: str,
    key_condition: str,
    values: Mapping[str, Any],
    *,
    names: Mapping[str, str] | None = None,
    index: str | None = None,
    forward: bool = True,
    limit: int | None = None,
    filter_expression: str | None = None,
    projection: str | None = None,
) -> Iterator[Item]:
    """Items matching a key condition, following pagination; stops after `limit` items."""
    request: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": key_condition,
        "ExpressionAttributeValues": serialize(values),
        "ScanIndexForward": forward,
    }
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if index:
        request["IndexName"] = index
    if filter_expression:
        request["FilterExpression"] = filter_expression
    if projection:
        request["ProjectionExpression"] = projection
    yielded = 0
    while True:
        if limit is not None:
            request["Limit"] = limit - yielded
        response = client().query(**request)
        for item in response.get("Items", []):
            yield deserialize(item)
            yielded += 1
        last = response.get("LastEvaluatedKey")
        if not last or (limit is not None and yielded >= limit):
            return
        request["ExclusiveStartKey"] = last


def scan(
    table: str, *, segment: int = 0, total_segments: int = 1, projection: str | None = None
) -> Iterator[Item]:
    request: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total_segments,
    }
    if projection:
        request["ProjectionExpression"] = projection
    while True:
        response = client().scan(**request)
        yield from (deserialize(item) for item in response.get("Items", []))
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        request["ExclusiveStartKey"] = last


def put_item(
    table: str,
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Put `item`; False when `condition` does not hold (nothing written)."""
    request: dict[str, Any] = {"TableName": table, "Item": serialize(item)}
    if condition:
        request["ConditionExpression"] = condition
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if values:
        request["ExpressionAttributeValues"] = serialize(values)
    try:
        client().put_item(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def update_item(
    table: str,
    key: Mapping[str, Any],
    expression: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    condition: str | None = None,
) -> bool:
    """Update one item; False when `condition` does not hold."""
    request: dict[str, Any] = {
        "TableName": table,
        "Key": serialize(key),
        "UpdateExpression": expression,
    }
    if names:
        request["ExpressionAttributeNames"] = dict(names)
    if values:
        request["ExpressionAttributeValues"] = serialize(values)
    if condition:
        request["ConditionExpression"] = condition
    try:
        client().update_item(**request)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def batch_write(
    table: str, puts: Sequence[Mapping[str, Any]], deletes: Sequence[Mapping[str, Any]]
) -> None:
    """Put whole items and delete keys, 25 requests per BatchWriteItem, UnprocessedItems retried.

    Not atomic and unconditional: for bulk rewrites (`tally rebuild`) where the
    final state, not the order, matters. A key must not appear twice.
    """
    requests = [{"PutRequest": {"Item": serialize(item)}} for item in puts]
    requests += [{"DeleteRequest": {"Key": serialize(key)}} for key in deletes]
    for chunk in chunked(requests, BATCH_WRITE_LIMIT):
        pending: dict[str, Any] = {table: list(chunk)}
        for attempt in range(_MAX_UNPROCESSED_ROUNDS + 1):
            pending = client().batch_write_item(RequestItems=pending).get("UnprocessedItems") or {}
            if not pending:
                break
            if attempt == _MAX_UNPROCESSED_ROUNDS:
                raise _gave_up("BatchWriteItem", "UnprocessedItems")
            _backoff(attempt)


@dataclass(frozen=True)
class Put:
    table: str
    item: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Add:
    """`ADD` numeric deltas to one item (creating it), optionally `SET`ting plain attributes."""

    table: str
    key: Mapping[str, Any]
    deltas: Mapping[str, Any]
    sets: Mapping[str, Any] | None = None


def _action(action: Put | Add) -> dict[str, Any]:
    if isinstance(action, Put):
        body: dict[str, Any] = {"TableName": action.table, "Item": serialize(action.item)}
        if action.condition:
            body["ConditionExpression"] = action.condition
        if action.names:
            body["ExpressionAttributeNames"] = dict(action.names)
        if action.values:
            body["ExpressionAttributeValues"] = serialize(action.values)
        return {"Put": body}
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds: list[str] = []
    for index, (name, value) in enumerate(sorted(action.deltas.items())):
        names[f"#a{index}"] = name
        values[f":a{index}"] = value
        adds.append(f"#a{index} :a{index}")
    expression = "ADD " + ", ".join(adds)
    if action.sets:
        assignments = []
        for index, (name, value) in enumerate(sorted(action.sets.items())):
            names[f"#s{index}"] = name
            values[f":s{index}"] = value
            assignments.append(f"#s{index} = :s{index}")
        expression += " SET " + ", ".join(assignments)
    return {
        "Update": {
            "TableName": action.table,
            "Key": serialize(action.key),
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": serialize(values),
        }
    }


def transact_write(actions: Sequence[Put | Add]) -> None:
    """One TransactWriteItems call (at most 100 actions), all or nothing.

    Raises TransactionCancelled with the per-action reason codes when DynamoDB
    cancels it (a condition failed, a conflicting transaction); other errors
    propagate after botocore's own retries.
    """
    if not 0 < len(actions) <= TRANSACT_LIMIT:
        raise ValueError(f"a transaction takes 1 to {TRANSACT_LIMIT} actions, got {len(actions)}")
    try:
        client().transact_write_items(TransactItems=[_action(action) for action in actions])
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [
            reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])
        ]
        raise TransactionCancelled(reasons) from error


def chunked(values: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for offset in range(0, len(values), size):
        yield values[offset : offset + size]
