"""The benchmark's environment: moto with the template's tables, metered handler calls."""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import boto3
from moto import mock_aws

from bench import dataset
from bench.meter import Layout, Meter, Usage, layout_of
from tally import auth, dimensions, storage
from tally.config import get_settings, reset_settings
from tally_dev import motofix, template
from tally_dev.engine import DynamoDBLocalEngine
from tally_dev.lambda_kit import LambdaContext, function_module, proxy_event

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


def reset_caches() -> None:
    storage.reset_client()
    reset_settings()
    auth.clear_cache()
    dimensions.clear_cache()


@contextlib.contextmanager
def environment() -> Iterator[None]:
    """The bench's environment variables, restored afterwards (the quick test runs in pytest)."""
    saved = {name: os.environ.get(name) for name in (*ENVIRONMENT, *_CLEARED)}
    for name in _CLEARED:
        os.environ.pop(name, None)
    os.environ.update(ENVIRONMENT)
    reset_caches()
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_caches()


@dataclass
class Backend:
    """moto with the template's tables; `meter` watches the service's own client."""

    meter: Meter
    raw: Any  # an unmetered client for the bench's own loading and size lookups

    def call(self, group: str, event: dict[str, Any]) -> tuple[dict[str, Any], Usage]:
        """Invoke a handler as a warm Lambda container does, metered."""
        response, usage, _ = self.timed_call(group, event)
        return response, usage

    def timed_call(
        self, group: str, event: dict[str, Any]
    ) -> tuple[dict[str, Any], Usage, tuple[float, float]]:
        """Invoke a handler, metered: its response, what it did to DynamoDB (UpdateItems
        billed at their items' size afterwards, outside the timing) and its (wall, CPU)
        seconds. CPU is this process's (the function's; DynamoDB Local runs apart).
        stdout (EMF metric lines) is swallowed."""
        self.meter.start()
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            # Handlers that add no metric make Powertools warn on every call.
            warnings.filterwarnings("ignore", "No application metrics to publish")
            wall, cpu = time.perf_counter(), time.process_time()
            response = invoke(group, event)
            spent = (time.perf_counter() - wall, time.process_time() - cpu)
        return response, self.meter.settle(self.meter.stop()), spent


def invoke(group: str, event: dict[str, Any]) -> Any:
    """`functions/<group>/app.py`'s handler on `event`, as a warm Lambda container runs it."""
    return function_module(group).lambda_handler(event, LambdaContext(f"tally-{group}"))


def api_event(
    route: template.Route,
    path: str,
    *,
    key: str,
    query: Mapping[str, str] | None = None,
    body: Any = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The REST proxy event API Gateway sends for a request on `route` (the kit's builder)."""
    headers = [("Accept", "application/json"), ("Authorization", f"Bearer {key}")]
    if body is not None:
        headers.append(("Content-Type", "application/json"))
    return proxy_event(
        route.method.upper(),
        path,
        resource=route.path,
        headers=headers,
        query=dict(query or {}),
        path_parameters=path_parameters,
        body=None if body is None else json.dumps(body),
        stage=template.load().stage,
    )


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


def layouts() -> dict[str, Layout]:
    return {
        table.create_kwargs["TableName"]: layout_of(table.create_kwargs)
        for table in template.load().tables
    }


ENGINES = ("moto", "dynamodb-local")


@contextlib.contextmanager
def backend(engine: str = "moto") -> Iterator[Backend]:
    """The template's tables on moto (in process, with the local runtime's fixes: thread
    safety, exact numbers) or on a fresh DynamoDB Local (in memory), metered."""
    with environment():
        if engine == "moto":
            motofix.apply()
            with mock_aws():
                yield _metered()
            return
        local = DynamoDBLocalEngine()
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = local.endpoint_url
        reset_caches()
        try:
            yield _metered()
        finally:
            local.stop()


def _metered() -> Backend:
    raw = boto3.client("dynamodb")
    create_tables(raw)

    def fetch(table: str, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for offset in range(0, len(keys), 100):
            request = {table: {"Keys": list(keys[offset : offset + 100])}}
            while request:
                response = raw.batch_get_item(RequestItems=request)
                found.extend(response["Responses"].get(table, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    meter = Meter(fetch, layouts(), ignored_tables=frozenset({get_settings().keys_table}))
    meter.install(storage.client())
    return Backend(meter=meter, raw=raw)


@dataclass(frozen=True)
class Batch:
    """One counters invocation: its records, what it did to DynamoDB, its wall and CPU time."""

    records: int
    usage: Usage
    seconds: float
    cpu_seconds: float


def load(
    bench: Backend, items: Sequence[dataset.Item], sequencer: dataset.Sequencer
) -> list[Batch]:
    """Store raw items as ingest would (unmetered) and feed them to the counters function as
    stream batches of the template's size, in order."""
    dataset.register_dimensions(items)
    dataset.write_raw(bench.raw, get_settings().events_table, items)
    records = [dataset.stream_record(item, sequencer) for item in items]
    done = []
    for batch in dataset.batches(records):
        _, usage, (seconds, cpu) = bench.timed_call("counters", {"Records": batch})
        done.append(Batch(len(batch), usage, seconds, cpu))
    return done
