"""The benchmark's environment: moto with the template's tables, metered handler calls."""

from __future__ import annotations

import contextlib
import copy
import io
import os
import time
import types
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from bench.meter import Meter, Usage, item_size, write_units
from tally import auth, storage
from tally.config import get_settings, reset_settings
from tally_dev import template
from tally_dev.lambda_kit import LambdaContext, function_module

NOW = "2026-06-10T12:34:56Z"
NAIVE_TABLE = "NaiveCountersTable"
ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "POWERTOOLS_SERVICE_NAME": "tally",
    "POWERTOOLS_METRICS_NAMESPACE": "TallyBench",
    # Per-batch INFO lines would bury the report; the work done per call is the same.
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "POWERTOOLS_TRACE_DISABLED": "true",
    "TALLY_NOW": NOW,
}
_CLEARED = ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE")


def _reset_caches() -> None:
    storage.reset_client()
    reset_settings()
    auth.clear_cache()


@contextlib.contextmanager
def environment() -> Iterator[None]:
    """The bench's environment variables, restored afterwards (the quick test runs in pytest)."""
    saved = {name: os.environ.get(name) for name in (*ENVIRONMENT, *_CLEARED)}
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(ENVIRONMENT)
    _reset_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        _reset_caches()


@dataclass
class Backend:
    """moto with the template's tables; `meter` watches the service's own client."""

    meter: Meter
    raw: Any  # an unmetered client for the bench's own loading and size lookups

    def call(self, group: str, event: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
        """Invoke a handler with metering; stdout (EMF metrics lines) is swallowed."""
        self.meter.start()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # Handlers that add no metric make Powertools warn on every call.
            warnings.filterwarnings("ignore", "No application metrics to publish")
            response = function_module(group).lambda_handler(event, LambdaContext())
        return response, self.meter.stop()

    def write_units_of(self, usage: Usage) -> int:
        """WCU of a counters run: 2 per KB per transactional action, at each item's size now.

        Items only grow under `ADD`, so the size after the run bounds the size at write time.
        """
        sizes: dict[str, int] = {}
        keys = sorted({key for _, key in usage.write_keys})
        table = get_settings().counters_table
        for offset in range(0, len(keys), 100):
            request = {table: {"Keys": [{"pk": {"S": key}} for key in keys[offset : offset + 100]]}}
            while request:
                response = self.raw.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(table, []):
                    sizes[item["pk"]["S"]] = item_size(item)
                request = response.get("UnprocessedKeys") or {}
        updates = sum(
            write_units(sizes.get(key, 0), transactional=True) for _, key in usage.write_keys
        )
        return updates + usage.put_wcu


def create_tables(client: Any) -> None:
    """The template's tables, plus a copy of the counters table for the naive design.

    The events table is created without its stream: the bench hands stream
    batches to the counters function itself, and moto would otherwise keep a
    copy of every raw write in memory for nothing.
    """
    settings = get_settings()
    for table in template.load().tables:
        kwargs = dict(table.create_kwargs)
        if kwargs["TableName"] == settings.events_table:
            kwargs.pop("StreamSpecification", None)
        client.create_table(**kwargs)
        if kwargs["TableName"] == settings.counters_table:
            client.create_table(**{**kwargs, "TableName": NAIVE_TABLE})


class RollbackNeeded(RuntimeError):
    """A transaction failed under `no_transaction_snapshots`, which cannot roll it back."""


@contextlib.contextmanager
def no_transaction_snapshots() -> Iterator[None]:
    """Stop moto's TransactWriteItems from deep-copying the table for every action.

    moto 5.2.5 snapshots the whole table once per action of a transaction (its
    rollback copy): a 100-action transaction on a table of n items copies 100 x n
    items, so the counters function would spend minutes per batch at 100k events
    on a cost DynamoDB does not have. The bench feeds every batch once, so no
    transaction should fail; if one does, the bench stops instead of measuring a
    table that was not rolled back.
    """
    import moto.dynamodb.models as backend_module
    from moto.dynamodb.models.table import Table

    original = backend_module.DynamoDBBackend.transact_write_items

    def deepcopy(value: Any, memo: Any = None) -> Any:
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        backend_module.copy = types.SimpleNamespace(deepcopy=deepcopy)  # type: ignore[assignment]
        try:
            original(self, transact_items)
        except Exception as error:
            raise RollbackNeeded(f"a transaction failed: {error}") from error
        finally:
            backend_module.copy = copy

    backend_module.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    try:
        yield
    finally:
        backend_module.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


@contextlib.contextmanager
def backend() -> Iterator[Backend]:
    with environment(), no_transaction_snapshots(), mock_aws():
        raw = boto3.client("dynamodb")
        create_tables(raw)
        meter = Meter(ignored_tables=frozenset({get_settings().keys_table}))
        meter.install(storage.client())
        yield Backend(meter=meter, raw=raw)


def feed(bench: Backend, records: Sequence[dict[str, Any]]) -> tuple[Usage, float]:
    """One counters invocation for `records`: what it wrote and its wall time."""
    started = time.perf_counter()
    _, usage = bench.call("counters", {"Records": list(records)})
    return usage, time.perf_counter() - started
