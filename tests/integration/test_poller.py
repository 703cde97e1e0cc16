"""The stream poller against a real engine (moto by default, DynamoDB Local with TALLY_TEST_ENGINE)."""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tally_dev import engine as engines
from tally_dev import template as tpl
from tally_dev.poller import StreamPoller

RECORD_KEYS = {
    "eventID",
    "eventName",
    "eventVersion",
    "eventSource",
    "awsRegion",
    "dynamodb",
    "eventSourceARN",
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    saved = dict(os.environ)
    os.environ.update(
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
    )
    os.environ.pop("AWS_SESSION_TOKEN", None)
    os.environ.pop("AWS_PROFILE", None)
    running = engines.start(os.environ.get("TALLY_TEST_ENGINE", "moto"))
    yield running.endpoint_url
    running.stop()
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def table(endpoint: str) -> tuple[Any, tpl.StreamMapping]:
    """A fresh copy of the template's events table and its stream mapping."""
    template = tpl.load()
    mapping = template.stream_mappings[0]
    spec = next(table for table in template.tables if table.logical_id == mapping.table)
    name = f"{mapping.table}-{uuid.uuid4().hex[:8]}"
    client = boto3.client("dynamodb", endpoint_url=endpoint)
    client.create_table(**{**spec.create_kwargs, "TableName": name})
    client.get_waiter("table_exists").wait(TableName=name)
    return client, dataclasses.replace(mapping, table=name)


def put(client: Any, table: str, sk: str, **extra: dict[str, Any]) -> None:
    client.put_item(TableName=table, Item={"pk": {"S": "acme"}, "sk": {"S": sk}, **extra})


def poll_until(poller: StreamPoller, done: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, "the poller did not deliver in time"
        poller.poll_once()
        time.sleep(0.05)


def make_poller(
    endpoint: str,
    mapping: tpl.StreamMapping,
    invoke: Callable[[dict[str, Any]], Any],
    tmp_path: Path,
) -> StreamPoller:
    return StreamPoller(
        mapping,
        invoke,
        endpoint_url=endpoint,
        failure_log=tmp_path / "failures.jsonl",
        batching_window=0,
        retry_delay=0,
    )


def test_a_written_item_reaches_the_handler_in_lambda_record_format(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    received: list[dict[str, Any]] = []
    poller = make_poller(endpoint, mapping, received.append, tmp_path)
    put(client, mapping.table, "message#m1", status={"S": "sent"}, blob={"B": b"\x00\x01"})

    poll_until(poller, lambda: bool(received))

    (event,) = received
    json.dumps(event)  # Lambda delivers JSON: every value must be serialisable
    inserts = [record for record in event["Records"] if record["eventName"] == "INSERT"]
    record = inserts[-1]
    assert set(record) == RECORD_KEYS
    assert record["eventVersion"] == "1.1"
    assert record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"] == poller.stream_arn
    assert record["awsRegion"] == "us-east-1"
    stream = record["dynamodb"]
    assert isinstance(stream["ApproximateCreationDateTime"], int | float)
    assert stream["Keys"] == {"pk": {"S": "acme"}, "sk": {"S": "message#m1"}}
    assert stream["NewImage"]["status"] == {"S": "sent"}
    assert stream["NewImage"]["blob"] == {"B": "AAE="}
    assert stream["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(stream["SequenceNumber"], str)
    assert stream["SizeBytes"] > 0


def test_old_and_new_images_of_an_update(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    received: list[dict[str, Any]] = []
    poller = make_poller(endpoint, mapping, received.append, tmp_path)
    put(client, mapping.table, "message#m1", status={"S": "sent"})
    put(client, mapping.table, "message#m1", status={"S": "delivered"})

    poll_until(
        poller, lambda: any(r["eventName"] == "MODIFY" for e in received for r in e["Records"])
    )

    modify = next(r for e in received for r in e["Records"] if r["eventName"] == "MODIFY")
    assert modify["dynamodb"]["OldImage"]["status"] == {"S": "sent"}
    assert modify["dynamodb"]["NewImage"]["status"] == {"S": "delivered"}


def test_batches_respect_batch_size_and_order(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    mapping = dataclasses.replace(mapping, batch_size=3)
    received: list[dict[str, Any]] = []
    poller = make_poller(endpoint, mapping, received.append, tmp_path)
    for number in range(7):
        put(client, mapping.table, f"message#m{number}")

    poll_until(poller, lambda: sum(len(e["Records"]) for e in received) >= 7)

    assert all(len(event["Records"]) <= 3 for event in received)
    sequence = [r["dynamodb"]["SequenceNumber"] for e in received for r in e["Records"]]
    assert sequence == sorted(sequence, key=int)
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for e in received for r in e["Records"]] == [
        f"message#m{number}" for number in range(7)
    ]


def test_a_failing_handler_gets_the_same_batch_again(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    calls: list[dict[str, Any]] = []

    def flaky(event: dict[str, Any]) -> None:
        calls.append(json.loads(json.dumps(event)))
        if len(calls) < 3:
            raise RuntimeError("transient")

    poller = make_poller(endpoint, mapping, flaky, tmp_path)
    for number in range(4):
        put(client, mapping.table, f"message#m{number}")
    poll_until(poller, lambda: len(calls) >= 3)

    assert calls[0] == calls[1] == calls[2]
    assert poller.batches_delivered == 1
    assert not (tmp_path / "failures.jsonl").exists()
    poller.poll_once()
    assert len(calls) == 3, "a delivered batch is not delivered again"


def test_after_the_retry_limit_the_batch_goes_to_the_failure_log(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    mapping = dataclasses.replace(mapping, maximum_retry_attempts=2)
    calls: list[dict[str, Any]] = []

    def broken(event: dict[str, Any]) -> None:
        calls.append(event)
        raise RuntimeError("permanent")

    poller = make_poller(endpoint, mapping, broken, tmp_path)
    put(client, mapping.table, "message#m1")
    put(client, mapping.table, "message#m2")
    poll_until(poller, (tmp_path / "failures.jsonl").exists)

    assert len(calls) == 3  # the first attempt and two retries
    (entry,) = [json.loads(line) for line in (tmp_path / "failures.jsonl").read_text().splitlines()]
    info = entry["DDBStreamBatchInfo"]
    records = calls[0]["Records"]
    assert info["startSequenceNumber"] == records[0]["dynamodb"]["SequenceNumber"]
    assert info["endSequenceNumber"] == records[-1]["dynamodb"]["SequenceNumber"]
    assert info["batchSize"] == len(records)
    assert info["streamArn"] == poller.stream_arn
    assert entry["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert entry["requestContext"]["approximateInvokeCount"] == 3

    put(client, mapping.table, "message#m3")
    poll_until(poller, lambda: len(calls) >= 4)
    assert calls[3]["Records"][0]["dynamodb"]["Keys"]["sk"]["S"] == "message#m3", (
        "the poller moved on"
    )


class _SplitStream:
    """A stream whose first shard was split: the parent is closed, the child is open."""

    def __init__(self, arn: str) -> None:
        self.arn = arn
        self.shards = {
            "shard-parent": [self.record("1", "old-a"), self.record("2", "old-b")],
            "shard-child": [self.record("3", "new-a")],
        }
        self.reads: list[str] = []

    @staticmethod
    def record(sequence: str, sk: str) -> dict[str, Any]:
        keys = {"pk": {"S": "acme"}, "sk": {"S": sk}}
        return {
            "eventID": f"event-{sequence}",
            "eventName": "INSERT",
            "eventVersion": "1.1",
            "eventSource": "aws:dynamodb",
            "awsRegion": "us-east-1",
            "dynamodb": {
                "Keys": keys,
                "NewImage": keys,
                "SequenceNumber": sequence,
                "SizeBytes": 10,
                "StreamViewType": "NEW_AND_OLD_IMAGES",
            },
        }

    def describe_stream(self, **_: Any) -> dict[str, Any]:
        return {
            "StreamDescription": {
                "Shards": [
                    {
                        "ShardId": "shard-child",
                        "ParentShardId": "shard-parent",
                        "SequenceNumberRange": {"StartingSequenceNumber": "3"},
                    },
                    {
                        "ShardId": "shard-parent",
                        "SequenceNumberRange": {
                            "StartingSequenceNumber": "1",
                            "EndingSequenceNumber": "2",
                        },
                    },
                ]
            }
        }

    def get_shard_iterator(self, ShardId: str, **request: Any) -> dict[str, Any]:
        after = request.get("SequenceNumber")
        return {"ShardIterator": f"{ShardId}|{after or ''}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:
        shard, after = ShardIterator.split("|")
        self.reads.append(shard)
        records = [
            r
            for r in self.shards[shard]
            if not after or int(r["dynamodb"]["SequenceNumber"]) > int(after)
        ]
        records = records[:Limit]
        closed = shard == "shard-parent"
        next_iterator = (
            None
            if closed and not records
            else f"{shard}|{records[-1]['dynamodb']['SequenceNumber'] if records else after}"
        )
        return {"Records": records, "NextShardIterator": next_iterator}


def test_a_child_shard_is_read_only_after_its_parent_is_drained(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    _, mapping = table
    received: list[dict[str, Any]] = []
    poller = make_poller(endpoint, mapping, received.append, tmp_path)
    stream = _SplitStream(poller.stream_arn)
    poller._streams = stream

    poll_until(poller, lambda: sum(len(e["Records"]) for e in received) >= 3)

    delivered = [r["dynamodb"]["Keys"]["sk"]["S"] for e in received for r in e["Records"]]
    assert delivered == ["old-a", "old-b", "new-a"]
    assert stream.reads.index("shard-child") > stream.reads.index("shard-parent")
    assert all(r["eventSourceARN"] == poller.stream_arn for e in received for r in e["Records"])


def test_an_idle_poller_backs_off_and_a_wake_polls_at_once(
    table: tuple[Any, tpl.StreamMapping], endpoint: str, tmp_path: Path
) -> None:
    client, mapping = table
    received: list[dict[str, Any]] = []
    poller = StreamPoller(
        mapping,
        received.append,
        endpoint_url=endpoint,
        failure_log=tmp_path / "failures.jsonl",
        batching_window=0,
        poll_interval=0.05,
        idle_interval=1.0,
    )
    polls: list[tuple[float, float]] = []  # (start, end) of each poll
    poll_once = poller.poll_once

    def counted() -> bool:
        started = time.monotonic()
        try:
            return poll_once()
        finally:
            polls.append((started, time.monotonic()))

    poller.poll_once = counted  # type: ignore[method-assign]
    poller.start()
    try:
        deadline = time.monotonic() + 20
        while len(polls) < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        # The pauses between idle polls double from 0.1 s up to idle_interval (a loaded
        # machine only makes them longer, so the schedule is a lower bound).
        first = polls[:8]
        pauses = [later[0] - earlier[1] for earlier, later in itertools.pairwise(first)]
        schedule = [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
        assert all(p >= 0.95 * least for p, least in zip(pauses, schedule, strict=True)), pauses
        assert pauses[-1] < 5, pauses
        # Right after an idle poll the next is 1 s away, unless woken.
        seen = len(polls)
        while len(polls) == seen:
            time.sleep(0.005)
        put(client, mapping.table, "message#woken")
        woken = time.monotonic()
        poller.wake()
        deadline = woken + 5
        while not received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert received, "the woken poller did not deliver"
        # One poll right away (DynamoDB Local may publish the record a moment later).
        assert any(0 <= started - woken < 0.5 for started, _ in polls)
    finally:
        poller.stop()
