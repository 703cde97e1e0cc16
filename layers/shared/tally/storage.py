"""Every DynamoDB call of the service. Clients are created lazily and reused.

Items cross this module's boundary as plain Python values (Decimal for numbers);
the wire format stays inside.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import select
import threading
import time
import zlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

# BotoCoreError is re-exported: tally.http maps the SDK's failures without importing the SDK.
from botocore.exceptions import (  # noqa: F401
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
)

Item = dict[str, Any]
T = TypeVar("T")
R = TypeVar("R")

BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
TRANSACT_LIMIT = 100
# Independent requests in flight at once (reads of many counter items, the writes of a
# stream batch, the puts of an ingest request): a batch's wall time is bounded by
# DynamoDB's latency, not by the number of round trips.
WORKERS = 32
_MAX_UNPROCESSED_ROUNDS = 8
_MAX_ATTEMPTS = 8
_CONNECT_TIMEOUT = 3
_READ_TIMEOUT = 10
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)
# What botocore's standard retry mode retries (botocore/retries/standard.py), for DynamoDB:
# DirectUpdates, which sends without botocore, retries the same.
_RETRIED_STATUSES = frozenset({500, 502, 503, 504})
_RETRIED_CODES = THROTTLING_CODES | {
    "RequestTimeout",
    "RequestTimeoutException",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "LimitExceededException",
}
# DynamoDB refuses the request as such (a number out of range, an item over 400 KB, an
# expression over 4 KB): retrying the same request can never succeed.
VALIDATION_CODE = "ValidationException"
_CONDITION_FAILED = "ConditionalCheckFailedException"


@cache
def client() -> Any:
    """The process-wide DynamoDB client (standard retry mode with backoff on throttling),
    whose UpdateItems take `DirectUpdates`' shorter path.

    botocore's client machinery (all of it but its exceptions) is imported here, on first
    use, not at module import: it is most of a handler's import time, and the cold-start
    budget is 1.3x `import boto3`.
    """
    import urllib.request

    import botocore.session
    from botocore.config import Config

    config = Config(
        retries={"mode": "standard", "max_attempts": _MAX_ATTEMPTS},
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
        max_pool_connections=WORKERS,
        # Every request is built by this module; botocore's client-side check of each one
        # was ~15 % of a call's CPU (1.8 -> 1.5 ms per UpdateItem, transport stubbed),
        # and that CPU bounds the records per second the counters function drains.
        parameter_validation=False,
    )
    session = botocore.session.get_session()
    sdk = session.create_client("dynamodb", config=config)
    if urllib.request.getproxies() or urlsplit(sdk.meta.endpoint_url).path.strip("/"):
        # botocore's transport knows proxies and endpoints below a path; the direct one not.
        return sdk
    return DirectUpdates(sdk, session.get_credentials(), session.get_config_variable("ca_bundle"))


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

    class ExactDeserializer(TypeDeserializer):
        """boto3 reads numbers in a 38-digit context that raises `Rounded` on a stored value
        written out with more digits (DynamoDB returns 9E+125 as 9 and 125 zeros); any
        stored number converts to Decimal exactly, so read it as is."""

        def _deserialize_n(self, value: str) -> Decimal:
            return Decimal(value)

    return TypeSerializer(), ExactDeserializer()


# Strings and numbers take a direct path, everything else boto3's codecs: counter items and
# keys are flat maps of those two types, and boto3 dispatches every value through a
# type probe and a getattr, which was a sixth of a warm read's CPU.


def _to_wire(value: Any, serializer: Any) -> Any:
    if type(value) is str:
        return {"S": value}
    return serializer.serialize(value)


def _from_wire(value: Mapping[str, Any], deserializer: Any) -> Any:
    if len(value) == 1:
        if "S" in value:
            return value["S"]
        if "N" in value:
            return Decimal(value["N"])
    return deserializer.deserialize(value)


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    serializer = _codecs()[0]
    return {name: _to_wire(value, serializer) for name, value in item.items()}


def deserialize(item: Mapping[str, Any]) -> Item:
    deserializer = _codecs()[1]
    return {name: _from_wire(value, deserializer) for name, value in item.items()}


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def is_throttling(error: ClientError) -> bool:
    return error_code(error) in THROTTLING_CODES


def is_invalid_request(error: ClientError) -> bool:
    """DynamoDB refused the request itself (limits, number range): never worth retrying."""
    return error_code(error) == VALIDATION_CODE


def backoff(attempt: int) -> None:
    """Sleep before retry `attempt` (0-based): capped exponential backoff with full jitter."""
    time.sleep(min(2.0, 0.05 * 2**attempt) * random.random())  # noqa: S311 - jitter, not crypto


class DirectUpdates:
    """The botocore client, with UpdateItem sent by a shorter path of its own.

    Why not botocore for the counters' writes: a batch of small accounts is thousands of
    UpdateItems, and the CPU of each bounds the records per second a stream shard drains.
    botocore spent ~700 us of CPU per UpdateItem over HTTP on one thread (events,
    endpoint rules, request objects, SigV4 over email-style headers, urllib3), this path
    ~200 us (~350 and ~1,000 on 32 threads): the JSON body is the request as built here,
    signed with SigV4 (checked against botocore's signer by the tests) and sent with
    http.client on a keep-alive connection per thread (urllib3's pool, botocore's
    transport, cost ~50 us more).

    Everything else goes to botocore. The client's events that tools rely on still fire:
    `before-parameter-build` and `after-call` (request recorders, the benchmark's meter)
    and `before-send`, whose answer replaces the network (moto, stubs). Errors are
    botocore's `ClientError`, with the error body's fields (`Item` on a failed
    condition), and retries follow standard mode's rules: throttling and transient
    errors, a dropped connection or a damaged reply are retried with backoff,
    `_MAX_ATTEMPTS` times in all.
    """

    _TARGET = "DynamoDB_20120810."
    _CONTENT_TYPE = "application/x-amz-json-1.0"

    def __init__(self, sdk: Any, credentials: Any, ca_bundle: str | None) -> None:
        import http.client
        import ssl

        from botocore.awsrequest import AWSPreparedRequest
        from botocore.httpsession import get_cert_path

        self._sdk = sdk
        self._prepared = AWSPreparedRequest
        self._protocol_error = http.client.HTTPException
        self._credentials = credentials
        self._events = sdk.meta.events
        self._region = sdk.meta.region_name
        self._url = sdk.meta.endpoint_url.rstrip("/")
        self._host = signing_host(self._url)
        self._signing_keys: dict[tuple[str, str], bytes] = {}
        parts = urlsplit(self._url)
        self._address = (parts.hostname or "", parts.port)
        self._secure: dict[str, Any] = {}
        self._connection_class: Any = http.client.HTTPConnection
        if parts.scheme == "https":
            self._connection_class = http.client.HTTPSConnection
            cafile = get_cert_path(ca_bundle or True)
            self._secure = {"context": ssl.create_default_context(cafile=cafile)}
        # One keep-alive connection per thread: the writes run on `parallel`'s threads.
        self._local = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sdk, name)

    def update_item(self, **params: Any) -> dict[str, Any]:
        return self._call("UpdateItem", params)

    def _call(self, operation: str, params: dict[str, Any]) -> dict[str, Any]:
        model = self._sdk.meta.service_model.operation_model(operation)
        context: dict[str, Any] = {}
        self._events.emit(
            f"before-parameter-build.dynamodb.{operation}",
            params=params,
            model=model,
            context=context,
        )
        body = json.dumps(params, separators=(",", ":"), default=_json_bytes).encode()
        for attempt in range(_MAX_ATTEMPTS):
            try:
                status, headers, data = self._send(operation, body)
                checksum = headers.get("x-amz-crc32")
                if checksum is not None and zlib.crc32(data) != int(checksum):
                    raise ValueError("the reply does not match its x-amz-crc32")
                parsed = json.loads(data) if data else {}
            except (OSError, ValueError, self._protocol_error) as error:
                # Dropped connections, timeouts, a reply cut short or damaged: as botocore
                # does, retry (a counter update is conditional, so a repeat is harmless).
                if attempt + 1 == _MAX_ATTEMPTS:
                    raise HTTPClientError(error=error) from error
                backoff(attempt)
                continue
            if status == 200:
                parsed["ResponseMetadata"] = _metadata(status, headers)
                break
            retried = status in _RETRIED_STATUSES or _error_code(parsed) in _RETRIED_CODES
            if retried and attempt + 1 < _MAX_ATTEMPTS:
                backoff(attempt)
                continue
            parsed = _error_response(status, headers, parsed)
            break
        self._events.emit(
            f"after-call.dynamodb.{operation}",
            http_response=None,
            parsed=parsed,
            model=model,
            context=context,
        )
        if "Error" in parsed:
            raise ClientError(parsed, operation)
        return parsed

    def _send(self, operation: str, body: bytes) -> tuple[int, Mapping[str, str], bytes]:
        headers = self.signed_headers(operation, body, time.gmtime())
        request = self._prepared("POST", f"{self._url}/", headers, body, stream_output=False)
        _, answer = self._events.emit_until_response(
            f"before-send.dynamodb.{operation}", request=request
        )
        if answer is not None:
            return answer.status_code, _lower(answer.headers), answer.content
        connection = self._connection()
        try:
            connection.request("POST", "/", body=body, headers=headers)
            reply = connection.getresponse()
            data = reply.read()
        except BaseException:
            connection.close()  # whatever state it was left in, the next request starts anew
            raise
        found = {
            name: value
            for name in ("x-amz-crc32", "x-amzn-requestid")
            if (value := reply.getheader(name)) is not None
        }
        return reply.status, found, data

    def _connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            host, port = self._address
            connection = self._connection_class(
                host, port, timeout=_CONNECT_TIMEOUT, **self._secure
            )
            self._local.connection = connection
        elif connection.sock is not None and _closed_by_peer(connection.sock):
            # An idle keep-alive connection the server has closed (as urllib3 checks too):
            # reconnect now rather than fail the request and back off.
            connection.close()
        if connection.sock is None:
            connection.connect()
            opened: Any = connection.sock  # connected within the connect timeout; reads wait longer
            opened.settimeout(_READ_TIMEOUT)
        return connection

    def signed_headers(self, operation: str, body: bytes, at: time.struct_time) -> dict[str, str]:
        """The request's headers, signed with SigV4 at `at` (UTC)."""
        if self._credentials is None:
            raise NoCredentialsError()
        credentials = self._credentials.get_frozen_credentials()
        stamp = time.strftime("%Y%m%dT%H%M%SZ", at)
        day = stamp[:8]
        headers = {
            "Content-Type": self._CONTENT_TYPE,
            "Host": self._host,
            "X-Amz-Date": stamp,
            "X-Amz-Target": self._TARGET + operation,
        }
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        names = sorted(name.lower() for name in headers)
        canonical = {name.lower(): " ".join(value.split()) for name, value in headers.items()}
        signed = ";".join(names)
        request = "\n".join(
            [
                "POST",
                "/",
                "",
                *(f"{name}:{canonical[name]}" for name in names),
                "",
                signed,
                hashlib.sha256(body).hexdigest(),
            ]
        )
        scope = f"{day}/{self._region}/dynamodb/aws4_request"
        to_sign = "\n".join(
            ["AWS4-HMAC-SHA256", stamp, scope, hashlib.sha256(request.encode()).hexdigest()]
        )
        key = self._signing_key(credentials.secret_key, day)
        signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed}, Signature={signature}"
        )
        return headers

    def _signing_key(self, secret: str, day: str) -> bytes:
        """SigV4's key of a day: four HMACs, the same for every request of that day."""
        key = self._signing_keys.get((secret, day))
        if key is None:
            key = f"AWS4{secret}".encode()
            for part in (day, self._region, "dynamodb", "aws4_request"):
                key = hmac.new(key, part.encode(), hashlib.sha256).digest()
            self._signing_keys = {(secret, day): key}
        return key


def signing_host(url: str) -> str:
    """The Host header of requests to `url`, as SigV4 signs it: no default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != {"http": 80, "https": 443}.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _closed_by_peer(sock: Any) -> bool:
    """An idle connection is readable only when the peer closed it (or broke the protocol)."""
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


def _json_bytes(value: Any) -> str:
    """Binary attribute values travel base64-encoded (DynamoDB's JSON protocol)."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not a DynamoDB wire value")


def _lower(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _metadata(status: int, headers: Mapping[str, str]) -> dict[str, Any]:
    return {"HTTPStatusCode": status, "RequestId": headers.get("x-amzn-requestid", "")}


def _error_code(body: Mapping[str, Any]) -> str:
    """`com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException` -> the name."""
    return str(body.get("__type", "")).rpartition("#")[2]


def _error_response(
    status: int, headers: Mapping[str, str], body: Mapping[str, Any]
) -> dict[str, Any]:
    """An error reply as botocore parses it: Error.Code and Message, and the body's other
    fields (`Item` of a failed condition with ReturnValuesOnConditionCheckFailure)."""
    fields = {
        name: value for name, value in body.items() if name not in {"__type", "message", "Message"}
    }
    message = body.get("message", body.get("Message", ""))
    return {
        **fields,
        "Error": {"Code": _error_code(body) or str(status), "Message": str(message)},
        "ResponseMetadata": _metadata(status, headers),
    }


_in_pool = threading.local()


def _mark_worker() -> None:
    _in_pool.active = True


@cache
def _executor() -> ThreadPoolExecutor:
    """One pool per process, created on first use and kept by a warm container: starting
    threads per call cost more CPU than a warm read's own work. (Two first calls at once
    may build two pools; threads start on submit, so the one dropped never had any.)"""
    return ThreadPoolExecutor(
        max_workers=WORKERS, thread_name_prefix="tally-io", initializer=_mark_worker
    )


def parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """`function` over `items` on a thread pool (the client is thread-safe), results in order.

    The first exception raised by any call propagates (after every call has ended). Inside
    a pool thread the calls run in turn: a worker waiting on the same pool could deadlock."""
    if len(items) <= 1 or getattr(_in_pool, "active", False):
        return [function(item) for item in items]
    # The first call runs in this thread, which would otherwise only wait: one hand-off
    # fewer, and a thread hand-off costs more CPU than a warm counter read's own work.
    futures = [_executor().submit(function, item) for item in items[1:]]
    try:
        first = function(items[0])
    finally:
        # Every call ends before any result is read: none is cut short by another's failure.
        wait(futures)
    return [first, *(future.result() for future in futures)]


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
    table: str,
    keys: Sequence[Mapping[str, Any]],
    *,
    consistent: bool = False,
    names: Collection[str] | None = None,
) -> list[Item]:
    """Items for `keys` (missing ones are absent), 100 keys per request, UnprocessedKeys retried;
    only their attributes in `names` (and their keys), when given.

    Requests of more than 100 keys run concurrently (the client is thread-safe), so a
    read of a few hundred counter items costs one round trip, not several.
    """
    unique = list({tuple(sorted(key.items())): key for key in keys}.values())
    key_names = sorted({name for key in unique for name in key})
    wire_keys = [serialize(key) for key in unique]
    return _batch_get(table, wire_keys, consistent, deserialize, _projection(key_names, names))


def batch_get_numbers(
    table: str,
    key: str,
    values: Iterable[str],
    names: Collection[str] | None = None,
) -> list[tuple[str, dict[str, Decimal]]]:
    """The items whose string hash key `key` is one of `values`: for each found, its key
    and its number attributes only (of those in `names`, when given: DynamoDB then sends
    only those).

    What counter reads need, decoded in one pass straight from the wire format: decoding
    every attribute and then filtering was most of a read route's CPU (bench/cpu.py)."""

    def numbers(item: Mapping[str, Any]) -> tuple[str, dict[str, Decimal]]:
        return item[key]["S"], {
            name: Decimal(value["N"]) for name, value in item.items() if "N" in value
        }

    wire_keys = [{key: {"S": value}} for value in dict.fromkeys(values)]
    return _batch_get(table, wire_keys, False, numbers, _projection([key], names))


def _projection(keys: Sequence[str], names: Collection[str] | None) -> dict[str, Any]:
    """A read's ProjectionExpression: the key attributes and `names` (nothing: whole items).

    DynamoDB bills the whole item either way; what a projection saves is sending,
    parsing and decoding the attributes a caller does not look at."""
    if names is None:
        return {}
    wanted = [*keys, *sorted(set(names) - set(keys))]
    return {
        "ProjectionExpression": ", ".join(f"#{index}" for index in range(len(wanted))),
        "ExpressionAttributeNames": {f"#{index}": name for index, name in enumerate(wanted)},
    }


def _batch_get(
    table: str,
    wire_keys: Sequence[Mapping[str, Any]],
    consistent: bool,
    decode: Callable[[Mapping[str, Any]], T],
    projection: Mapping[str, Any],
) -> list[T]:
    """`wire_keys`: distinct keys, in DynamoDB JSON; 100 per request, run concurrently."""
    options = {"ConsistentRead": consistent, **projection}
    requests = [
        {table: {"Keys": list(wire_keys[offset : offset + BATCH_GET_LIMIT]), **options}}
        for offset in range(0, len(wire_keys), BATCH_GET_LIMIT)
    ]
    results = parallel(lambda request: _batch_get_all(table, request, decode), requests)
    return [item for chunk_items in results for item in chunk_items]


def _batch_get_all(
    table: str, request: dict[str, Any], decode: Callable[[Mapping[str, Any]], T]
) -> list[T]:
    """One BatchGetItem request's items, its UnprocessedKeys asked again with backoff."""
    found: list[T] = []
    for attempt in range(_MAX_UNPROCESSED_ROUNDS + 1):
        response = client().batch_get_item(RequestItems=request)
        found.extend(decode(item) for item in response.get("Responses", {}).get(table, []))
        request = response.get("UnprocessedKeys") or {}
        if not request:
            break
        if attempt == _MAX_UNPROCESSED_ROUNDS:
            raise _gave_up("BatchGetItem", "UnprocessedKeys")
        backoff(attempt)
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
    table: str,
    *,
    segment: int = 0,
    total_segments: int = 1,
    projection: str | None = None,
    names: Mapping[str, str] | None = None,
) -> Iterator[Item]:
    request: dict[str, Any] = {
        "TableName": table,
        "Segment": segment,
        "TotalSegments": total_segments,
        **_expression_parts(names, None),
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


@dataclass(frozen=True)
class Outcome:
    """What a conditional write did: written, or refused with the item as it was then
    (`current`; None when there was no item)."""

    written: bool
    current: Item | None = None


def _conditional(operation: Callable[..., Any], request: dict[str, Any]) -> Outcome:
    if "ConditionExpression" in request:
        # The item as it was comes back in the error at no extra cost (absent: no item).
        request["ReturnValuesOnConditionCheckFailure"] = "ALL_OLD"
    try:
        operation(**request)
    except ClientError as error:
        if error_code(error) != _CONDITION_FAILED:
            raise
        found = error.response.get("Item")
        return Outcome(False, deserialize(found) if found else None)
    return Outcome(True)


def _expression_parts(
    names: Mapping[str, str] | None, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    parts: dict[str, Any] = {}
    if names:
        parts["ExpressionAttributeNames"] = dict(names)
    if values:
        parts["ExpressionAttributeValues"] = serialize(values)
    return parts


def put_item(
    table: str,
    item: Mapping[str, Any],
    *,
    condition: str | None = None,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
) -> Outcome:
    """Put `item`; when `condition` does not hold nothing is written and the item as it
    was comes back (`Outcome.current`), so a caller can merge and retry without a read."""
    request: dict[str, Any] = {
        "TableName": table,
        "Item": serialize(item),
        **_expression_parts(names, values),
    }
    if condition:
        request["ConditionExpression"] = condition
    return _conditional(client().put_item, request)


def update_item(
    table: str,
    key: Mapping[str, Any],
    expression: str,
    *,
    names: Mapping[str, str] | None = None,
    values: Mapping[str, Any] | None = None,
    condition: str | None = None,
) -> Outcome:
    """Update one item; when `condition` does not hold, nothing changes and the item as it
    was comes back."""
    request: dict[str, Any] = {
        "TableName": table,
        "Key": serialize(key),
        "UpdateExpression": expression,
        **_expression_parts(names, values),
    }
    if condition:
        request["ConditionExpression"] = condition
    return _conditional(client().update_item, request)


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
            backoff(attempt)


@dataclass(frozen=True)
class Put:
    table: str
    item: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Update:
    table: str
    key: Mapping[str, Any]
    expression: str
    names: Mapping[str, str] | None = None
    values: Mapping[str, Any] | None = None
    condition: str | None = None


@dataclass(frozen=True)
class Delete:
    table: str
    key: Mapping[str, Any]
    condition: str | None = None
    names: Mapping[str, str] | None = None


Action = Put | Update | Delete


def _action(action: Action) -> dict[str, Any]:
    body: dict[str, Any] = {"TableName": action.table}
    if isinstance(action, Put):
        body["Item"] = serialize(action.item)
        body.update(_expression_parts(action.names, action.values))
    elif isinstance(action, Update):
        body["Key"] = serialize(action.key)
        body["UpdateExpression"] = action.expression
        body.update(_expression_parts(action.names, action.values))
    else:
        body["Key"] = serialize(action.key)
        body.update(_expression_parts(action.names, None))
    if action.condition:
        body["ConditionExpression"] = action.condition
    return {type(action).__name__: body}


def transact_write(actions: Sequence[Action]) -> None:
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
