"""Fixtures: the tables of template.yaml on the test engine (TALLY_TEST_ENGINE: moto in
process by default, or AWS's DynamoDB Local), keys, the events stream, seeded worlds."""

from __future__ import annotations

import itertools
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tally import auth, dimensions, fanout, storage
from tally.config import reset_settings
from tally.keys import bootstrap_key
from tally_dev import engine, motofix, template
from tests.support import FakeContext, handler_module, post_events, stored_events

NOW = "2026-06-10T12:34:56Z"
TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    # moto's in-process streams need this (DESIGN.md, moto quirks).
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_METRICS_NAMESPACE": "TallyTest",
    "POWERTOOLS_SERVICE_NAME": "tally",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "TALLY_NOW": NOW,
}


def _reset() -> None:
    # Workers keep the environment they started with (endpoint, table names).
    fanout.stop()
    storage.reset_client()
    reset_settings()
    auth.clear_cache()
    dimensions.clear_cache()


def _test_env(patch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
        patch.delenv(name, raising=False)
    for name, value in TEST_ENV.items():
        patch.setenv(name, value)
    _reset()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _test_env(monkeypatch)
    yield
    _reset()


ENGINE = os.environ.get("TALLY_TEST_ENGINE", "moto")
# Table logical id -> the variable naming it (template.yaml's Globals, e.g. TALLY_KEYS_TABLE).
TABLE_ENV = {
    logical_id: variable
    for variable, logical_id in template.load().environment.items()
    if variable.startswith("TALLY_") and variable.endswith("_TABLE")
}
_table_suffix = itertools.count()


@pytest.fixture(scope="session")
def dynamodb_local() -> Iterator[str | None]:
    """AWS's DynamoDB Local for the session when TALLY_TEST_ENGINE=dynamodb-local."""
    if ENGINE != "dynamodb-local":
        yield None
        return
    running = engine.DynamoDBLocalEngine()
    yield running.endpoint_url
    running.stop()


@contextmanager
def engine_tables(
    patch: pytest.MonkeyPatch, endpoint_url: str | None, *, served: bool = False
) -> Iterator[None]:
    """Every table of template.yaml (keys, GSIs, stream, TTL) on the test engine, with the
    test environment in `patch`: moto in process (`endpoint_url` None), or fresh tables at
    `endpoint_url` (DynamoDB Local). `served`: moto answers over HTTP (its server, in a
    thread), so that other processes reach the same tables."""
    _test_env(patch)
    tables = template.load().tables
    if endpoint_url is None and served:
        server = engine.MotoEngine()
        try:
            with engine_tables(patch, server.endpoint_url):
                yield
        finally:
            server.stop()
        return
    if endpoint_url is None:
        # The service reads and writes from thread pools; moto's backend is not thread-safe.
        motofix.apply()
        # Named as a deployment names them (the CLI requires names outside the local runtime).
        for logical_id, variable in TABLE_ENV.items():
            patch.setenv(variable, logical_id)
        _reset()
        with mock_aws():
            engine.create_tables(boto3.client("dynamodb"), tables)
            yield
        _reset()
        return
    patch.setenv("AWS_ENDPOINT_URL", endpoint_url)
    suffix = f"-{os.getpid()}-{next(_table_suffix)}"
    for logical_id, variable in TABLE_ENV.items():
        patch.setenv(variable, f"{logical_id}{suffix}")
    _reset()
    client = boto3.client("dynamodb")
    # DynamoDB Local really deletes expired items, by the wall clock; the tests pin the
    # clock months back, so minute buckets would vanish mid-test. TTL stays off there.
    names = engine.create_tables(client, tables, suffix=suffix, ttl=False)
    yield
    for name in names:
        client.delete_table(TableName=name)
    _reset()


@pytest.fixture
def aws(dynamodb_local: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every table of template.yaml on the test engine, fresh for each test."""
    with engine_tables(monkeypatch, dynamodb_local):
        yield


@pytest.fixture
def served_aws(dynamodb_local: str | None, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Like `aws`, on an engine other processes reach too (moto's server on moto)."""
    with engine_tables(monkeypatch, dynamodb_local, served=True):
        yield


@dataclass
class Stream:
    """Reads the events table's stream from where the last read stopped and feeds the
    counters handler with Lambda-format batches (eventSourceARN added, as Lambda does)."""

    arn: str
    positions: dict[str, str] = field(default_factory=dict)

    def read(self) -> list[dict[str, Any]]:
        client = boto3.client("dynamodbstreams")
        records: list[dict[str, Any]] = []
        shards = client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        for shard in shards:
            shard_id = shard["ShardId"]
            # A fresh iterator every read: moto's go stale after a cancelled transaction.
            if shard_id in self.positions:
                iterator = client.get_shard_iterator(
                    StreamArn=self.arn,
                    ShardId=shard_id,
                    ShardIteratorType="AFTER_SEQUENCE_NUMBER",
                    SequenceNumber=self.positions[shard_id],
                )["ShardIterator"]
            else:
                iterator = client.get_shard_iterator(
                    StreamArn=self.arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
            while iterator:
                response = client.get_records(ShardIterator=iterator, Limit=1000)
                batch = response["Records"]
                if not batch:
                    break
                records.extend(batch)
                self.positions[shard_id] = batch[-1]["dynamodb"]["SequenceNumber"]
                iterator = response.get("NextShardIterator")
        for record in records:
            record["eventSourceARN"] = self.arn
            record["dynamodb"]["ApproximateCreationDateTime"] = float(
                record["dynamodb"]["ApproximateCreationDateTime"].timestamp()
                if hasattr(record["dynamodb"]["ApproximateCreationDateTime"], "timestamp")
                else record["dynamodb"]["ApproximateCreationDateTime"]
            )
        return records

    def apply(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return handler_module("counters").lambda_handler({"Records": records}, FakeContext())

    def read_all(self) -> list[dict[str, Any]]:
        """Every record written so far. DynamoDB Local publishes stream records a moment
        after the write, so there the stream counts as caught up after a few empty polls."""
        records = self.read()
        quiet_polls = 3 if ENGINE == "dynamodb-local" else 0
        empty = 0
        while empty < quiet_polls:
            time.sleep(0.1)
            more = self.read()
            records.extend(more)
            empty = 0 if more else empty + 1
        return records

    def drain(self) -> dict[str, Any] | None:
        """Apply every new record as one batch; None when there was nothing new."""
        records = self.read_all()
        return self.apply(records) if records else None


def events_stream() -> Stream:
    """The stream of the events table the environment names, read from its start."""
    table = os.environ.get("TALLY_EVENTS_TABLE", "EventsTable")
    arn = boto3.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
    return Stream(arn)


@pytest.fixture
def stream(aws: None) -> Stream:
    return events_stream()


@pytest.fixture
def keys(aws: None) -> dict[str, str]:
    """Secrets of keys for accounts `acme` and `globex`, one key per scope set."""
    made = {
        "admin": bootstrap_key("platform", ["admin"], "admin").secret,
        "acme": bootstrap_key(
            "acme", ["events:write", "stats:read", "billing:read", "keys:manage"], "all"
        ).secret,
        "acme_read": bootstrap_key("acme", ["stats:read"], "read").secret,
        "acme_write": bootstrap_key("acme", ["events:write"], "write").secret,
        "globex": bootstrap_key(
            "globex", ["events:write", "stats:read", "billing:read", "keys:manage"], "all"
        ).secret,
    }
    return made


@dataclass
class World:
    """A module's shared dataset: keys, the raw items stored, the stream that counted them."""

    keys: dict[str, str]
    items: list[dict[str, Any]]
    stream: Stream


@pytest.fixture(scope="module")
def seeded_world(
    dynamodb_local: str | None,
) -> Callable[[list[dict[str, Any]]], AbstractContextManager[World]]:
    """A factory of module-scoped worlds on the test engine: keys for `acme`/`globex`,
    `events` ingested into `acme` (then receipts moving half the queued messages
    forward) and applied to the counters. Ingesting is slow, so a module shares one."""

    @contextmanager
    def seed(events: list[dict[str, Any]]) -> Iterator[World]:
        with pytest.MonkeyPatch.context() as patch, engine_tables(patch, dynamodb_local):
            secrets = {
                account: bootstrap_key(account, ["events:write", "stats:read"], "all").secret
                for account in ("acme", "globex")
            }
            secrets["acme_write"] = bootstrap_key("acme", ["events:write"], "write").secret
            stream = events_stream()
            post_events(secrets["acme"], events)
            rng = random.Random(len(events))
            updates = [
                {**event, "status": rng.choice(("sent", "delivered", "failed"))}
                for event in events
                if event.get("status") == "queued" and rng.random() < 0.5
            ]
            post_events(secrets["acme"], updates)
            stream.drain()
            items = stored_events("acme")
            assert len([i for i in items if i["kind"] != "usage"]) == len(events)
            yield World(secrets, items, stream)

    return seed
