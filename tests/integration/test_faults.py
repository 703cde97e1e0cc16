"""Faults beyond the foundation's exactly-once tests: DynamoDB errors that outlast the SDK's
retries, injected at the client (tests.support.FaultyClient), on every write and read path.

- counters: a lost response after a committed update, raw throttling, a batch that
  exhausts the poller's retries (on-failure record, then `tally rebuild`);
- ingest: stale reads, UnprocessedKeys, throttling and lost responses mid-request: a
  client's retry of the whole batch never drops or doubles an event;
- keys: throttled key writes are 503s, and a retried revoke takes effect;
- reads: throttling on every read route is a 503 with Retry-After in the route's
  error format, never a 500 or a stack trace.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tally import storage
from tally.config import get_settings
from tally.rebuild import rebuild
from tally_dev import template as tpl
from tally_dev.poller import StreamPoller
from tests.support import (
    FakeContext,
    call_route,
    client_error,
    counter_items,
    expected_counters,
    handler_module,
    install_faulty_client,
    invoke,
    message,
    on_table,
    post_events,
    proxy_event,
    read_routes,
    read_timeout,
    route_id,
    stored_events,
)

THROTTLING = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "InternalServerError",
)
LEAKS = ("Traceback", "botocore", "ClientError", "injected", "Exception", 'File "')


def _batch(prefix: str, count: int, **fields) -> list[dict]:
    channels = ("sms", "mms", "whatsapp", "chat")
    return [
        message(
            f"{prefix}{n}",
            f"2026-06-{1 + n % 9:02d}T{n % 24:02d}:{n % 60:02d}:00Z",
            **{
                "channel": channels[n % 4],
                "status": ("queued", "sent", "delivered", "failed")[n % 4],
                "to": f"+21355{n:07d}",
                **fields,
            },
        )
        for n in range(count)
    ]


def _messages(account: str) -> list[dict]:
    """Stored message events (the key fixtures add usage events of their own)."""
    return [event for event in stored_events(account) if event["kind"] == "message"]


def _ingest(key: str, events: list[dict]) -> dict:
    return invoke("ingest", proxy_event("POST", "/v1/events", key=key, body={"events": events}))


# --- Counters path -------------------------------------------------------------------------


@pytest.fixture
def poller(stream, tmp_path: Path):
    """The local runtime's stream poller over the test's events table, driven synchronously."""
    mapping = tpl.load().stream_mappings[0]
    mapping = dataclasses.replace(
        mapping, table=get_settings().events_table, maximum_retry_attempts=2
    )
    counters = handler_module("counters")
    return StreamPoller(
        mapping,
        lambda event: counters.lambda_handler(event, FakeContext()),
        endpoint_url=None,
        failure_log=tmp_path / "failures.jsonl",
        batching_window=0.0,
        retry_delay=0.0,
    )


def test_a_lost_response_after_a_committed_update_is_retried_exactly_once(
    keys, poller, monkeypatch
):
    post_events(keys["acme"], _batch("m", 40))
    faulty = install_faulty_client(monkeypatch)
    counters_table = get_settings().counters_table
    # The second update commits, then its response is lost; then one raw throttling error.
    faulty.inject(
        "update_item",
        read_timeout,
        times=1,
        after_call=True,
        match=lambda kwargs, seen=[]: (
            on_table(counters_table)(kwargs) and len(seen.append(1) or seen) == 2
        ),
    )
    faulty.inject(
        "update_item",
        lambda: client_error("ThrottlingException", "UpdateItem"),
        times=1,
        match=on_table(counters_table),
    )
    poller.poll_once()
    assert poller.batches_failed == 0
    assert poller.batches_delivered == 1
    assert counter_items() == expected_counters()


def test_a_batch_that_exhausts_its_retries_is_recorded_and_rebuild_restores_it(
    keys, poller, monkeypatch, capsys
):
    post_events(keys["acme"], _batch("a", 20))
    poller.poll_once()
    assert counter_items() == expected_counters()

    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "update_item",
        lambda: client_error("ProvisionedThroughputExceededException", "UpdateItem"),
        match=on_table(get_settings().counters_table),
    )
    post_events(keys["acme"], _batch("b", 30))
    post_events(keys["globex"], _batch("g", 10, status="sent"))
    poller.poll_once()
    assert poller.batches_failed == 1
    (record,) = [json.loads(line) for line in poller.failure_log.read_text().splitlines()]
    info = record["DDBStreamBatchInfo"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert info["batchSize"] >= 40
    assert info["startSequenceNumber"] <= info["endSequenceNumber"]
    lost = counter_items()
    assert lost != expected_counters()

    faulty.clear()
    assert rebuild().events >= 60
    assert counter_items() == expected_counters()

    # The stream moved past the failed batch; later batches apply on top of the rebuild.
    post_events(keys["acme"], [message("b1", "2026-06-02T01:01:00Z", status="delivered")])
    poller.poll_once()
    assert poller.batches_failed == 1
    assert counter_items() == expected_counters()


def test_the_counters_handler_reports_written_skipped_and_quarantined_as_emf(keys, stream, capsys):
    post_events(keys["acme"], _batch("e", 5))
    records = stream.read()
    capsys.readouterr()

    def emitted() -> dict:
        lines = [
            json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
        ]
        (document,) = lines
        names = {m["Name"] for m in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        assert names == {
            "StreamRecords",
            "CounterItemsWritten",
            "CounterItemsSkipped",
            "RecordsQuarantined",
        }
        return document

    items = float(len(expected_counters()))
    stream.apply(records)
    first = emitted()
    assert (first["CounterItemsWritten"], first["CounterItemsSkipped"]) == ([items], [0.0])
    assert first["RecordsQuarantined"] == [0.0]
    stream.apply(records)
    again = emitted()
    assert (again["CounterItemsWritten"], again["CounterItemsSkipped"]) == ([0.0], [items])


def test_ingest_reports_events_ingested_and_unchanged_as_emf(keys, capsys):
    events = _batch("x", 3)
    capsys.readouterr()
    for expected in (
        {"EventsIngested": [3.0], "EventsUnchanged": [0.0]},
        {"EventsIngested": [0.0], "EventsUnchanged": [3.0]},
    ):
        assert _ingest(keys["acme"], events)["statusCode"] == 200
        (document,) = [
            json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line
        ]
        assert {name: document[name] for name in expected} == expected


# --- Ingest path ---------------------------------------------------------------------------


def test_ingest_survives_stale_reads_and_unprocessed_keys(keys, stream, monkeypatch):
    """The pre-read is eventually consistent: it may miss items that exist (the conditional
    put is refused and hands back the item, which is merged) or come back unprocessed."""
    post_events(keys["acme"], _batch("i", 40))
    faulty = install_faulty_client(monkeypatch)
    real_batch_get = faulty._real.batch_get_item
    rounds = {"n": 0}

    def stale_then_unprocessed(**kwargs):
        rounds["n"] += 1
        if rounds["n"] == 1:
            return {"Responses": {}, "UnprocessedKeys": kwargs["RequestItems"]}
        if rounds["n"] == 2:
            return {"Responses": {}}  # a stale read: nothing seen yet
        return real_batch_get(**kwargs)

    monkeypatch.setattr(faulty._real, "batch_get_item", stale_then_unprocessed, raising=False)
    # 40 events seen before (unchanged) and 30 new ones, in one request.
    response = _ingest(keys["acme"], _batch("i", 70))
    assert response["statusCode"] == 200, response["body"]
    assert response["json"] == {"accepted": 30, "unchanged": 40}
    assert rounds["n"] == 2
    assert len(_messages("acme")) == 70
    stream.drain()
    assert counter_items() == expected_counters()


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(lambda: client_error("ThrottlingException", "PutItem"), id="throttled"),
        pytest.param(read_timeout, id="response-lost"),
    ],
)
def test_a_failed_ingest_is_a_503_and_the_clients_retry_never_drops_or_doubles(
    keys, stream, monkeypatch, fault
):
    events = _batch("r", 110)
    faulty = install_faulty_client(monkeypatch)
    # Ten of the puts fail (or commit unseen); the other 100 commit.
    last_ten = {f"message#r{n}" for n in range(100, 110)}
    faulty.inject(
        "put_item",
        fault,
        times=10,
        match=lambda kwargs: kwargs["Item"]["sk"]["S"] in last_ten,
        after_call=fault is read_timeout,
    )
    failed = _ingest(keys["acme"], events)
    assert failed["statusCode"] == 503
    assert failed["headers"]["retry-after"] == "1"
    assert not any(leak in failed["body"] for leak in LEAKS)
    committed = len(_messages("acme"))
    assert committed == (110 if fault is read_timeout else 100)

    retried = _ingest(keys["acme"], events)
    assert retried["statusCode"] == 200
    assert retried["json"] == {"accepted": 110 - committed, "unchanged": committed}
    assert len(_messages("acme")) == 110
    stream.drain()
    assert counter_items() == expected_counters()


# --- Keys path -----------------------------------------------------------------------------


def test_throttled_key_writes_are_503_and_a_retried_revoke_takes_effect(keys, monkeypatch):
    created = invoke(
        "keys", proxy_event("POST", "/v1/keys", key=keys["acme"], body={"scopes": ["stats:read"]})
    )
    assert created["statusCode"] == 201
    secret, key_id = created["json"]["secret"], created["json"]["key_id"]
    keys_table = get_settings().keys_table
    faulty = install_faulty_client(monkeypatch)
    # A key change and its usage event are one transaction: the create, then the
    # first revoke, are throttled; the retried revoke goes through.
    faulty.inject(
        "transact_write_items",
        lambda: client_error("ThrottlingException", "TransactWriteItems"),
        times=2,
        match=on_table(keys_table),
    )
    refused = invoke(
        "keys", proxy_event("POST", "/v1/keys", key=keys["acme"], body={"scopes": ["stats:read"]})
    )
    assert (refused["statusCode"], refused["headers"].get("retry-after")) == (503, "1")
    revoke = proxy_event(
        "DELETE",
        f"/v1/keys/{key_id}",
        key=keys["acme"],
        resource="/v1/keys/{key_id}",
        path_parameters={"key_id": key_id},
    )
    assert invoke("keys", revoke)["statusCode"] == 503
    stats = proxy_event("GET", "/v1/stats/messages", key=secret)
    assert invoke("usage_stats", stats)["statusCode"] == 200
    assert invoke("keys", revoke)["statusCode"] == 204
    assert invoke("usage_stats", stats)["statusCode"] == 401


# --- Read paths ----------------------------------------------------------------------------


def _not_the_key_lookup(kwargs) -> bool:
    """Every read but the auth's GetItem on the keys table: the route's own reads."""
    return kwargs.get("TableName") != get_settings().keys_table or "Key" not in kwargs


def _assert_busy(route, response, style: str) -> None:
    assert response["statusCode"] == 503, (route_id(route), response["body"])
    assert response["headers"].get("retry-after") == "1"
    assert not any(leak in response["body"] for leak in LEAKS), response["body"]
    body = response["json"]
    if style == "dashboard":
        assert body["ok"] is False
        assert body["error"]["code"] == "service_unavailable"
    else:
        assert (body["status"], body["title"]) == (503, "Service Unavailable")
        expected_type = "application/json" if style == "usage" else "application/problem+json"
        assert response["headers"]["content-type"] == expected_type


@pytest.mark.parametrize("code", THROTTLING)
def test_throttling_on_every_read_route_is_a_503_with_retry_after(keys, monkeypatch, code):
    post_events(keys["acme"], _batch("t", 3))
    faulty = install_faulty_client(monkeypatch)
    for operation in ("get_item", "batch_get_item", "query", "scan"):
        faulty.inject(operation, lambda: client_error(code, "Read"), match=_not_the_key_lookup)
    styles = set()
    for route in read_routes():
        style = handler_module(route.handler.group).app.error_style
        styles.add(style)
        _assert_busy(route, call_route(route, keys["acme"]), style)
    assert styles == {"problem", "dashboard", "usage"}


def test_throttling_on_the_key_lookup_and_a_lost_connection_are_503(keys, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "get_item",
        lambda: client_error("ThrottlingException", "GetItem"),
        match=on_table(get_settings().keys_table),
    )
    for route in read_routes():
        style = handler_module(route.handler.group).app.error_style
        _assert_busy(route, call_route(route, keys["globex"]), style)
    faulty.clear()
    faulty.inject(
        "batch_get_item", lambda: EndpointConnectionError(endpoint_url="https://dynamodb")
    )
    faulty.inject("query", lambda: EndpointConnectionError(endpoint_url="https://dynamodb"))
    route = next(r for r in read_routes() if r.handler.group == "dashboard")
    _assert_busy(route, call_route(route, keys["acme"]), "dashboard")


def test_other_dynamodb_errors_are_a_500_without_internals(keys, monkeypatch):
    faulty = install_faulty_client(monkeypatch)
    for operation in ("get_item", "batch_get_item", "query"):
        faulty.inject(
            operation,
            lambda: client_error("AccessDeniedException", "Read"),
            match=_not_the_key_lookup,
        )
    for route in read_routes():
        response = call_route(route, keys["acme"])
        assert response["statusCode"] == 500, route_id(route)
        assert not any(leak in response["body"] for leak in LEAKS), response["body"]
        assert "AccessDenied" not in response["body"]


def test_unprocessed_keys_on_a_read_give_the_same_answer(keys, stream, monkeypatch):
    post_events(keys["acme"], _batch("u", 12))
    stream.drain()
    route = next(r for r in read_routes() if r.handler.group == "dashboard")
    clean = call_route(route, keys["acme"])["json"]
    faulty = install_faulty_client(monkeypatch)
    real = faulty._real.batch_get_item
    rounds = {"n": 0}

    def half_unprocessed(**kwargs):
        rounds["n"] += 1
        ((table, request),) = kwargs["RequestItems"].items()
        if rounds["n"] % 2 and len(request["Keys"]) > 1:
            half = len(request["Keys"]) // 2
            answer = real(RequestItems={table: {**request, "Keys": request["Keys"][:half]}})
            answer["UnprocessedKeys"] = {table: {**request, "Keys": request["Keys"][half:]}}
            return answer
        return real(**kwargs)

    monkeypatch.setattr(faulty._real, "batch_get_item", half_unprocessed, raising=False)
    assert call_route(route, keys["acme"])["json"] == clean
    assert rounds["n"] > 1
    assert storage.BATCH_GET_LIMIT == 100


# --- Operations in template.yaml -----------------------------------------------------------


def test_the_template_alarms_on_stream_lag_failed_batches_and_5xx_and_keeps_logs_bounded():
    resources = tpl.load().raw["Resources"]
    # Single-metric alarms by metric (tests/unit/test_template_ops.py checks all of them).
    alarms = {
        props.get("MetricName"): props
        for resource in resources.values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
        for props in [resource["Properties"]]
    }
    assert alarms["IteratorAge"]["Dimensions"][0]["Value"] == {"Ref": "CountersFunction"}
    queue = alarms["ApproximateNumberOfMessagesVisible"]
    assert queue["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["CountersFailureQueue", "QueueName"]}
    assert (queue["Threshold"], queue["ComparisonOperator"]) == (0, "GreaterThanThreshold")
    assert alarms["5XXError"]["Namespace"] == "AWS/ApiGateway"
    functions = {
        name
        for name, resource in resources.items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    retained = {
        resource["Properties"]["LogGroupName"]["Fn::Sub"]
        for resource in resources.values()
        if resource["Type"] == "AWS::Logs::LogGroup" and resource["Properties"]["RetentionInDays"]
    }
    assert {group for group in retained if group.startswith("/aws/lambda/")} == {
        f"/aws/lambda/${{{name}}}" for name in functions
    }
    settings = resources["TallyApi"]["Properties"]["MethodSettings"]
    stage = next(s for s in settings if s["ResourcePath"] == "/*")
    export = next(s for s in settings if s["ResourcePath"] == "/~1api~1analytics~1export")
    assert export["HttpMethod"] == "GET"
    assert export["ThrottlingRateLimit"] < stage["ThrottlingRateLimit"]
    assert export["ThrottlingBurstLimit"] < stage["ThrottlingBurstLimit"]


def test_a_billing_profile_write_lost_to_throttling_is_repaired_by_the_retry(keys, monkeypatch):
    from tally.events import PROFILE_SK, billing_profile

    faulty = install_faulty_client(monkeypatch)
    # The event's put commits; the profile put after it is throttled.
    faulty.inject(
        "put_item",
        lambda: client_error("ThrottlingException", "PutItem"),
        times=1,
        match=lambda kwargs: kwargs["Item"]["sk"]["S"] == PROFILE_SK,
    )
    profile = {
        "id": "b1",
        "kind": "billing",
        "occurred_at": "2026-06-10T10:00:00Z",
        "brand": "Acme",
        "pricing_model": "unlimited",
    }
    assert _ingest(keys["acme"], [profile])["statusCode"] == 503
    assert billing_profile("acme") is None
    retried = _ingest(keys["acme"], [profile])
    assert retried["json"] == {"accepted": 0, "unchanged": 1}
    stored = billing_profile("acme")
    assert stored is not None
    assert (stored["brand"], stored["pricing_model"]) == ("Acme", "unlimited")


def test_a_refused_key_creation_leaves_neither_a_key_nor_a_usage_event(keys, monkeypatch):
    keys_table = get_settings().keys_table
    before = (len(list(storage.scan(keys_table))), len(stored_events("acme")))
    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "transact_write_items",
        lambda: client_error("ThrottlingException", "TransactWriteItems"),
        times=1,
        match=on_table(keys_table),
    )
    refused = invoke(
        "keys", proxy_event("POST", "/v1/keys", key=keys["acme"], body={"scopes": ["stats:read"]})
    )
    assert refused["statusCode"] == 503
    assert (len(list(storage.scan(keys_table))), len(stored_events("acme"))) == before
    created = invoke(
        "keys", proxy_event("POST", "/v1/keys", key=keys["acme"], body={"scopes": ["stats:read"]})
    )
    assert created["statusCode"] == 201
    assert (len(list(storage.scan(keys_table))), len(stored_events("acme"))) == (
        before[0] + 1,
        before[1] + 1,
    )
