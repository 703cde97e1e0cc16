"""Emulates the Lambda event source mapping of a DynamoDB stream (the template's `DynamoDB` event).

Per shard, in order: read records, gather them into a batch of at most
BatchSize or until MaximumBatchingWindowInSeconds passed since the batch's
first record, invoke the function with `{"Records": [...]}` in Lambda's
record format, retry the same batch (same records, so the same first/last
sequence numbers) up to MaximumRetryAttempts when it raises, then hand the
batch to the on-failure destination (a local JSONL file) and move on.

Each poll takes a fresh iterator AFTER_SEQUENCE_NUMBER of the last record read,
because moto invalidates open iterators after a cancelled transaction.
Children of a split shard are read only once their parent is drained.

Idle, the poller backs off from `poll_interval` to `idle_interval` between
polls (an idle `tally serve` costs little CPU); `wake()` (the gateway calls it
after every invocation) makes it poll at once, so an ingest reaches the
counters within a batching window even after a long quiet spell.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from tally_dev.template import StreamMapping

log = logging.getLogger("localrt.poller")

Invoke = Callable[[dict[str, Any]], Any]
GET_RECORDS_LIMIT = 1000
_ITERATOR_GONE = {
    "ExpiredIteratorException",
    "TrimmedDataAccessException",
    "ResourceNotFoundException",
}


@dataclass
class _Shard:
    shard_id: str
    parent: str | None
    ending: str | None
    position: str | None = None
    drained: bool = False
    pending: list[dict[str, Any]] = field(default_factory=list)
    pending_since: float = 0.0


def lambda_record(record: dict[str, Any], source_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record as Lambda delivers it: JSON-safe, with `eventSourceARN`."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        seconds = created.replace(tzinfo=created.tzinfo or UTC).timestamp()
        dynamodb["ApproximateCreationDateTime"] = int(seconds) if seconds.is_integer() else seconds
    for image in ("Keys", "NewImage", "OldImage"):
        if image in dynamodb:
            dynamodb[image] = {name: _json_value(value) for name, value in dynamodb[image].items()}
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        # moto reports "1.0"; DynamoDB Streams (and so Lambda) say "1.1".
        "eventVersion": "1.1",
        "eventSource": record.get("eventSource", "aws:dynamodb"),
        # The table's region: moto always says us-east-1, DynamoDB Local says "ddblocal".
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": source_arn,
    }


def _json_value(value: dict[str, Any]) -> dict[str, Any]:
    """An AttributeValue with binaries base64-encoded, as in Lambda's JSON event."""
    ((kind, inner),) = value.items()
    if kind == "B":
        return {"B": base64.b64encode(inner).decode()}
    if kind == "BS":
        return {"BS": [base64.b64encode(item).decode() for item in inner]}
    if kind == "L":
        return {"L": [_json_value(item) for item in inner]}
    if kind == "M":
        return {"M": {name: _json_value(item) for name, item in inner.items()}}
    return {kind: inner}


class StreamPoller:
    def __init__(
        self,
        mapping: StreamMapping,
        invoke: Invoke,
        *,
        endpoint_url: str | None,
        failure_log: Path,
        batching_window: float | None = None,
        poll_interval: float = 0.2,
        idle_interval: float = 2.0,
        retry_delay: float = 0.1,
    ) -> None:
        self.mapping = mapping
        self.invoke = invoke
        self.failure_log = failure_log
        self.batching_window = (
            mapping.batching_window if batching_window is None else batching_window
        )
        self.poll_interval = poll_interval
        self.idle_interval = max(idle_interval, poll_interval)
        self.retry_delay = retry_delay
        config = Config(retries={"mode": "standard", "max_attempts": 5})
        self._ddb = boto3.client("dynamodb", endpoint_url=endpoint_url, config=config)
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint_url, config=config)
        self._region: str = self._streams.meta.region_name
        self.stream_arn: str = self._ddb.describe_table(TableName=mapping.table)["Table"][
            "LatestStreamArn"
        ]
        self._shards: dict[str, _Shard] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.batches_delivered = 0
        self.batches_failed = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="stream-poller", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Stop polling; a batch being delivered may finish within `timeout` seconds (the
        thread is a daemon: a process that exits does not wait for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        """Poll now (new records are likely), and at the fast pace again."""
        self._wake.set()

    def _run(self) -> None:
        interval = self.poll_interval
        while not self._stop.is_set():
            try:
                busy = self.poll_once()
            except Exception:
                if self._stop.is_set():
                    return  # the engine is going away with us
                log.exception("stream poll failed; retrying")
                busy = True
            interval = self.poll_interval if busy else min(self.idle_interval, interval * 2)
            if self._wake.wait(interval):
                self._wake.clear()
                interval = self.poll_interval

    def poll_once(self) -> bool:
        """One round over every readable shard; True when records were read or are pending."""
        self._refresh_shards()
        busy = False
        for shard in list(self._shards.values()):
            if shard.drained or not self._parent_done(shard):
                continue
            busy |= self._poll_shard(shard)
        return busy

    def _refresh_shards(self) -> None:
        start: str | None = None
        while True:
            request: dict[str, Any] = {"StreamArn": self.stream_arn}
            if start:
                request["ExclusiveStartShardId"] = start
            description = self._streams.describe_stream(**request)["StreamDescription"]
            for shard in description.get("Shards", []):
                known = self._shards.get(shard["ShardId"])
                ending = shard.get("SequenceNumberRange", {}).get("EndingSequenceNumber")
                if known is None:
                    self._shards[shard["ShardId"]] = _Shard(
                        shard["ShardId"], shard.get("ParentShardId"), ending
                    )
                else:
                    known.ending = ending
            start = description.get("LastEvaluatedShardId")
            if not start:
                return

    def _parent_done(self, shard: _Shard) -> bool:
        parent = self._shards.get(shard.parent) if shard.parent else None
        return parent is None or parent.drained

    def _iterator(self, shard: _Shard) -> str | None:
        request: dict[str, Any] = {"StreamArn": self.stream_arn, "ShardId": shard.shard_id}
        if shard.position:
            request.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.position)
        else:
            request["ShardIteratorType"] = self.mapping.starting_position
        try:
            iterator: str | None = self._streams.get_shard_iterator(**request).get("ShardIterator")
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _ITERATOR_GONE:
                shard.drained = True
                return None
            raise
        return iterator

    def _poll_shard(self, shard: _Shard) -> bool:
        iterator = self._iterator(shard)
        read_any = False
        while iterator and len(shard.pending) < self.mapping.batch_size:
            limit = min(GET_RECORDS_LIMIT, self.mapping.batch_size - len(shard.pending))
            response = self._streams.get_records(ShardIterator=iterator, Limit=limit)
            records = response.get("Records", [])
            if not records:
                # A closed shard returns no next iterator once its last record has been read.
                if response.get("NextShardIterator") is None and shard.ending is not None:
                    self._flush(shard)
                    shard.drained = not shard.pending
                break
            read_any = True
            if not shard.pending:
                shard.pending_since = time.monotonic()
            shard.pending.extend(
                lambda_record(record, self.stream_arn, self._region) for record in records
            )
            shard.position = records[-1]["dynamodb"]["SequenceNumber"]
            iterator = response.get("NextShardIterator")
        if shard.pending and (
            len(shard.pending) >= self.mapping.batch_size
            or time.monotonic() - shard.pending_since >= self.batching_window
        ):
            self._flush(shard)
        return read_any or bool(shard.pending)

    def _flush(self, shard: _Shard) -> None:
        while shard.pending:
            batch = shard.pending[: self.mapping.batch_size]
            self._deliver(shard, batch)
            del shard.pending[: len(batch)]

    def _deliver(self, shard: _Shard, batch: list[dict[str, Any]]) -> None:
        retries = self.mapping.maximum_retry_attempts
        attempt = 0
        while True:
            try:
                self.invoke({"Records": batch})
            except Exception as error:
                if self._stop.is_set():
                    raise
                if retries >= 0 and attempt >= retries:
                    self._send_to_failure_destination(shard, batch, attempt + 1, error)
                    return
                log.warning(
                    "%s failed on a batch of %d records (attempt %d): %r; retrying the same batch",
                    self.mapping.handler.function,
                    len(batch),
                    attempt + 1,
                    error,
                )
                attempt += 1
                time.sleep(min(2.0, self.retry_delay * 2 ** min(attempt, 5)))
                continue
            self.batches_delivered += 1
            return

    def _send_to_failure_destination(
        self, shard: _Shard, batch: list[dict[str, Any]], attempts: int, error: Exception
    ) -> None:
        """What Lambda sends to the on-failure destination: the batch's metadata, not its records."""
        first, last = batch[0]["dynamodb"], batch[-1]["dynamodb"]
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        entry = {
            "requestContext": {
                "requestId": first.get("SequenceNumber"),
                "functionArn": f"arn:aws:lambda:us-east-1:123456789012:function:{self.mapping.handler.function}",
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": attempts,
            },
            "responseContext": {
                "statusCode": 200,
                "executedVersion": "$LATEST",
                "functionError": "Unhandled",
            },
            "version": "1.0",
            "timestamp": now,
            "destination": self.mapping.on_failure,
            "errorMessage": repr(error),
            "DDBStreamBatchInfo": {
                "shardId": shard.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": first.get("ApproximateCreationDateTime"),
                "approximateArrivalOfLastRecord": last.get("ApproximateCreationDateTime"),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.failure_log.parent.mkdir(parents=True, exist_ok=True)
        with self.failure_log.open("a") as out:
            out.write(json.dumps(entry) + "\n")
        self.batches_failed += 1
        log.error(
            "%s: batch %s..%s (%d records) failed %d times; recorded in %s (run `tally rebuild`)",
            self.mapping.handler.function,
            first["SequenceNumber"],
            last["SequenceNumber"],
            len(batch),
            attempts,
            self.failure_log,
        )
