"""Test support shared by every suite: handler loading, proxy events, stream draining.

Lambda itself (module loading, the context, the proxy event, DynamoDB request
counting) is emulated by `tally_dev.lambda_kit`, shared with `tally serve` and
`bench/`; the names below keep the tests' spelling of it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tally_dev import lambda_kit
from tally_dev.lambda_kit import DynamoDBCalls, LambdaContext

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"


# `functions/<group>/app.py` as a module of its own (every handler is named app.py).
handler_module = lambda_kit.function_module


@dataclass
class FakeContext(LambdaContext):
    """The Lambda context the tests hand to handlers."""

    aws_request_id: str = "test-request"


def load_event(name: str) -> dict[str, Any]:
    """A sample event from `events/` (the same files `sam local invoke -e` takes)."""
    return json.loads((EVENTS_DIR / name).read_text())


# The sample events' API (`events/*.json`): its execute-api domain and id.
_SAMPLE_CONTEXT = load_event("ingest_post_events.json")["requestContext"]


def proxy_event(
    method: str,
    path: str,
    *,
    key: str | None = None,
    body: Any = None,
    query: Mapping[str, str | list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST proxy event on the sample events' API; a body that is not
    `str` or `bytes` is sent as JSON, `bytes` base64-encoded."""
    all_headers = {"Accept": "application/json"}
    if key is not None:
        all_headers["Authorization"] = f"Bearer {key}"
    if body is not None and not isinstance(body, str | bytes):
        body = json.dumps(body)
        all_headers["Content-Type"] = "application/json"
    all_headers.update(headers or {})
    return lambda_kit.proxy_event(
        method,
        path,
        resource=resource,
        headers=all_headers,
        query=query or {},
        path_parameters=path_parameters,
        body=body,
        source_ip=_SAMPLE_CONTEXT["identity"]["sourceIp"],
        domain_name=_SAMPLE_CONTEXT["domainName"],
        api_id=_SAMPLE_CONTEXT["apiId"],
    )


def invoke(group: str, event: Mapping[str, Any]) -> dict[str, Any]:
    """Invoke a handler; the response with its body JSON-decoded when it is JSON."""
    response = handler_module(group).lambda_handler(dict(event), FakeContext())
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    response["headers"] = headers
    content_type = headers.get("content-type", "")
    if response.get("body") and "json" in content_type:
        response["json"] = json.loads(response["body"])
    return response


def post_events(key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """POST /v1/events through the ingest handler, in requests of at most 500."""
    result = {"accepted": 0, "unchanged": 0}
    for offset in range(0, len(events), 500):
        response = invoke(
            "ingest",
            proxy_event(
                "POST", "/v1/events", key=key, body={"events": events[offset : offset + 500]}
            ),
        )
        assert response["statusCode"] == 200, response.get("body")
        for name in result:
            result[name] += response["json"][name]
    return result


@contextmanager
def batch_get_keys() -> Iterator[list[int]]:
    """Keys per BatchGetItem call made inside the block (filled when it ends)."""
    from tally import storage

    keys: list[int] = []
    with DynamoDBCalls(storage.client()) as calls:
        yield keys
    keys.extend(
        len(table["Keys"])
        for call in calls.of("BatchGetItem")
        for table in call.params["RequestItems"].values()
    )


def minute_of(item: Mapping[str, Any]) -> datetime:
    """The minute a stored event occurred in (its `occurred_at`, seconds dropped)."""
    moment = datetime.fromisoformat(str(item["occurred_at"]))
    return moment.replace(second=0, microsecond=0)


def stored_events(account: str) -> list[dict[str, Any]]:
    """The raw event items of an account as stored: the oracle's input in brute-force checks."""
    from tally import events

    return list(events.raw_events(account))


def _normalized(values: Mapping[str, Any], expires_at: Any) -> dict[str, Any]:
    item = {name: value for name, value in values.items() if value != 0}
    if item and expires_at is not None:
        item["expires_at"] = expires_at
    return item


def counter_items(*, raw: bool = False) -> dict[str, dict[str, Any]]:
    """Every counter item of the counters table, keyed by pk.

    Unless `raw`, watermarks are left out, and zero counters (left behind by `ADD`s
    that cancelled out) are dropped, and so are items with nothing left: the form
    `expected_counters` has.
    """
    from tally import metrics, storage
    from tally.config import get_settings

    result: dict[str, dict[str, Any]] = {}
    for item in storage.scan(get_settings().counters_table):
        key = str(item.pop("pk"))
        if raw:
            result[key] = item
            continue
        counts = {k: v for k, v in item.items() if not k.startswith(metrics.WATERMARK_PREFIX)}
        expires_at = counts.pop("expires_at", None)
        if normalized := _normalized(counts, expires_at):
            result[key] = normalized
    return result


def expected_counters() -> dict[str, dict[str, Any]]:
    """The oracle: every counter item recomputed from every raw event of the events table."""
    from tally import events
    from tally.counters import recount

    return {
        key: _normalized(values, expires_at)
        for key, values, expires_at in recount(events.raw_events()).nonzero()
    }


def message(
    event_id: str, occurred_at: str = "2026-06-10T12:00:00Z", **fields: Any
) -> dict[str, Any]:
    """A `message` event for POST /v1/events (sms unless `channel` says otherwise)."""
    return {
        "id": event_id,
        "kind": "message",
        "occurred_at": occurred_at,
        "channel": "sms",
        **fields,
    }


def delete_raw(account: str, kind: str, event_id: str) -> None:
    """Delete a raw event item directly (nothing in the API deletes; the stream still counts it)."""
    from tally import storage
    from tally.config import get_settings
    from tally.events import event_key

    storage.client().delete_item(
        TableName=get_settings().events_table,
        Key=storage.serialize(event_key(account, kind, event_id)),
    )


# --- Route matrices (reliability suites): every route of template.yaml, with a valid request.

# DESIGN.md "Endpoint groups": the scope each group's routes require.
REQUIRED_SCOPES = {
    "ingest": "events:write",
    "keys": "keys:manage",
    "billing": "billing:read",
}
DEFAULT_SCOPE = "stats:read"
# Concrete values for path parameters, by parameter name.
PATH_VALUES = {"scope": "24h", "channel": "sms", "channel_name": "sms"}
# Bodies of the routes that need one to succeed, by (method, template path).
ROUTE_BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/events"): {"events": [message("matrix-1", status="sent")]},
    ("POST", "/v1/keys"): {"scopes": ["stats:read"], "name": "matrix"},
    ("PATCH", "/v1/keys/{key_id}"): {"name": "renamed"},
    ("POST", "/api/v1/connect-hub/{channel}/stats"): {"type": "last24h"},
}
SUCCESS_STATUS = {("POST", "/v1/keys"): 201, ("DELETE", "/v1/keys/{key_id}"): 204}


# The web function's routes (the dashboard page, its assets, the API docs) are public.
PUBLIC_GROUPS = frozenset({"web"})


def api_routes() -> list[Any]:
    """Every API route of template.yaml except catch-all `ANY` methods (those only answer
    405) and the public web routes."""
    from tally_dev import template

    return [
        route
        for route in template.load().routes
        if route.method != "ANY" and route.handler.group not in PUBLIC_GROUPS
    ]


def route_id(route: Any) -> str:
    return f"{route.method} {route.path}"


def required_scope(route: Any) -> str:
    return REQUIRED_SCOPES.get(route.handler.group, DEFAULT_SCOPE)


def route_event(
    route: Any,
    key: str | None,
    *,
    key_id: str = "key_none",
    headers: Mapping[str, str] | None = None,
    query: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A valid proxy event for `route` (path parameters filled, a body when it needs one)."""
    values = {**PATH_VALUES, "key_id": key_id}
    names = [part[1:-1] for part in route.segments if part.startswith("{")]
    path_parameters = {name: values[name] for name in names}
    path = route.path
    for name, value in path_parameters.items():
        path = path.replace("{" + name + "}", value)
    return proxy_event(
        route.method,
        path,
        key=key,
        body=ROUTE_BODIES.get((route.method, route.path)),
        query=query,
        headers=headers,
        resource=route.path,
        path_parameters=path_parameters or None,
    )


def call_route(route: Any, key: str | None, **options: Any) -> dict[str, Any]:
    return invoke(route.handler.group, route_event(route, key, **options))


def throwaway_key_id(account: str) -> str:
    """A fresh key of `account`: the target of PATCH/DELETE /v1/keys/{key_id}."""
    from tally.keys import bootstrap_key

    return bootstrap_key(account, ["stats:read"], "target").key_id


# --- Fault injection at the DynamoDB client (every call of tally.storage goes through it).


def client_error(code: str, operation: str = "DynamoDB", **response: Any) -> Exception:
    from botocore.exceptions import ClientError

    return ClientError(
        {"Error": {"Code": code, "Message": f"injected {code}"}, **response}, operation
    )


def read_timeout() -> Exception:
    """The SDK gave up waiting for a response: the request may or may not have been applied."""
    from botocore.exceptions import ReadTimeoutError

    return ReadTimeoutError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")


@dataclass
class Fault:
    operation: str
    error: Any  # a callable returning the exception to raise
    times: int | None = None  # None: every matching call
    match: Any = None  # a predicate on the call's keyword arguments
    after_call: bool = False  # apply the call, then raise (the response was lost)
    fired: int = 0


class FaultyClient:
    """The real DynamoDB client with injected faults; `calls` counts calls per operation.

    Faults fire above botocore's own retries: they model errors that outlasted
    them, which is what the service's code must handle.
    """

    def __init__(self, real: Any) -> None:
        self._real = real
        self.faults: list[Fault] = []
        self.calls: dict[str, int] = {}

    def inject(self, operation: str, error: Any, **options: Any) -> Fault:
        fault = Fault(operation, error, **options)
        self.faults.append(fault)
        return fault

    def clear(self) -> None:
        self.faults.clear()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._real, name)
        if not callable(method):
            return method

        def call(**kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            for fault in self.faults:
                if fault.operation != name or (
                    fault.times is not None and fault.fired >= fault.times
                ):
                    continue
                if fault.match is not None and not fault.match(kwargs):
                    continue
                fault.fired += 1
                if fault.after_call:
                    method(**kwargs)
                raise fault.error()
            return method(**kwargs)

        return call


def install_faulty_client(monkeypatch: Any) -> FaultyClient:
    """Route every tally.storage call through a FaultyClient for the rest of the test."""
    from tally import storage

    faulty = FaultyClient(storage.client())

    def faulty_client() -> FaultyClient:
        return faulty

    # The fixtures' teardown calls storage.reset_client() before monkeypatch undoes this.
    faulty_client.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(storage, "client", faulty_client)
    return faulty


def on_table(table: str) -> Any:
    """A Fault `match` for calls that touch `table` (single-table or batch requests)."""

    def match(kwargs: Mapping[str, Any]) -> bool:
        names = {kwargs.get("TableName")} | set(kwargs.get("RequestItems", {}))
        for action in kwargs.get("TransactItems", []):
            names |= {body.get("TableName") for body in action.values()}
        return table in names

    return match


def read_routes() -> list[Any]:
    """The routes that only read: every GET and every statistics POST (not ingest or keys)."""
    return [
        route
        for route in api_routes()
        if route.method == "GET" or route.handler.group not in ("ingest", "keys")
    ]
