"""Every input gets a 4xx or a success: the inputs that answered 500 (issue 13), on every
route and on both engines (DynamoDB Local refuses what moto stores: it is the reference).

A 4xx always names the field and the reason; no input reaches a 5xx.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tally import storage
from tally.config import get_settings
from tally.ingest import new_item, validate_events
from tests.api_surface import api_routes
from tests.event_cases import VALID, with_field
from tests.support import (
    call_route,
    client_error,
    install_faulty_client,
    invoke,
    message,
    on_table,
    post_events,
    proxy_event,
    route_event,
    route_id,
    throwaway_key_id,
)

JSON = {"Content-Type": "application/json"}
# Bodies that used to raise inside the service; each is refused as a whole (400).
BAD_BODIES: dict[str, tuple[bytes | str, dict[str, str]]] = {
    "not UTF-8": (b'{"events": "\xff\xfe"}', JSON),
    "nested 1,000 deep": ("[" * 1000 + "]" * 1000, JSON),
    "lone surrogate": ('{"events": [{"id": "\\ud800"}], "name": "\\udfff"}', JSON),
    "NaN": ('{"events": [NaN]}', JSON),
}
# Bodies the parser takes whose numbers Python cannot hold as int/float.
ODD_NUMBERS = {
    "integer of 5,000 digits": '{"events": [' + "9" * 5000 + "], " + '"scopes": 1}',
    "1e400": '{"events": [1e400], "scopes": 1e400, "type": 1e400}',
}


def _with_body(
    route: Any, key: str, body: bytes | str, headers: dict[str, str], key_id: str = "key_none"
) -> dict:
    event = route_event(route, key, key_id=key_id, headers=headers)
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    else:
        event.update(body=body, isBase64Encoded=False)
    return event


def assert_client_error_or_success(response: dict[str, Any]) -> None:
    status = response["statusCode"]
    assert status < 500, response.get("body")
    if status >= 400 and "errors" in response.get("json", {}):
        assert all(error["field"] and error["reason"] for error in response["json"]["errors"])


def test_bad_bodies_on_every_route_are_4xx_or_ignored(aws: None, keys: dict[str, str]) -> None:
    answers: dict[str, dict[str, int]] = {}
    bodies = {**BAD_BODIES, **{name: (body, JSON) for name, body in ODD_NUMBERS.items()}}
    for route in api_routes():
        # A real key for PATCH/DELETE, so a body that got through would reach the change.
        key_id = throwaway_key_id("platform") if "{key_id}" in route.path else "key_none"
        for name, (body, headers) in bodies.items():
            event = _with_body(route, keys["admin"], body, headers, key_id)
            response = invoke(route.handler.group, event)
            assert_client_error_or_success(response)
            answers.setdefault(route_id(route), {})[name] = response["statusCode"]
    # Routes that read a JSON body refuse each of these bodies as a whole.
    for route_name in ("POST /v1/events", "POST /v1/keys", "PATCH /v1/keys/{key_id}"):
        assert {answers[route_name][name] for name in BAD_BODIES} == {400}, answers[route_name]
    assert answers["POST /api/v1/connect-hub/{channel}/stats"]["not UTF-8"] == 400


def test_a_text_plain_body_is_415(aws: None, keys: dict[str, str]) -> None:
    for route_name in ("POST /v1/keys", "PATCH /v1/keys/{key_id}", "POST /v1/events"):
        route = next(r for r in api_routes() if route_id(r) == route_name)
        body = '{"scopes": ["stats:read"]}'
        key_id = throwaway_key_id("platform")
        event = _with_body(route, keys["admin"], body, {"Content-Type": "text/plain"}, key_id)
        response = invoke(route.handler.group, event)
        assert response["statusCode"] == 415, (route_name, response["body"])
        assert response["json"]["errors"][0]["field"] == "Content-Type"


def test_a_key_id_that_names_no_key_is_404_before_dynamodb(aws: None, keys: dict[str, str]) -> None:
    """DynamoDB Local refuses a key over 2,048 bytes (a 500 before): such ids name no key."""
    for key_id in ("k" * 3000, "key_" + "0" * 2100, "key_ABC", "../admin"):
        for route in api_routes():
            if "{key_id}" in route.path:
                response = call_route(route, keys["acme"], key_id=key_id)
                assert response["statusCode"] == 404, (route_id(route), response["body"])
                assert len(response["body"]) < 500


# Arabic-Indic three, full-width one: digits to Python's int(), not to this API.
UNICODE_DIGITS = ("\u0663", "\uff11", "1_0")
NUMERIC_PARAMETERS = [
    ("/admin/stats/messages/sent-total", "start_date"),
    ("/admin/stats/messages/sent-total", "end_date"),
    ("/admin/stats/messages/sent-per-day", "limit"),
    ("/admin/stats/dialogs/created-per-day", "offset"),
    ("/admin/stats/dialogs/created-total", "types[]"),
    ("/api/analytics/top-campaigns", "limit"),
    ("/api/analytics/overview", "startDate"),
]


def test_only_ascii_digits_are_numbers(aws: None, keys: dict[str, str]) -> None:
    for path, parameter in NUMERIC_PARAMETERS:
        route = next(r for r in api_routes() if r.path == path)
        for text in UNICODE_DIGITS:
            response = call_route(route, keys["acme"], query={parameter: text})
            assert response["statusCode"] == 400, (path, parameter, response["body"])
            assert response["json"]["errors"][0]["field"].startswith(parameter)


OUT_OF_RANGE = (
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-12:00",
    "9999-12-31",
    "0001-01-01",
    "0999-01-02T00:00:00Z",
)


def test_analytics_dates_out_of_range_are_400(aws: None, keys: dict[str, str]) -> None:
    """Never a 500, and `dateRange` never echoes a year like `999-01-02`."""
    for route in api_routes():
        if not route.path.startswith("/api/analytics/"):
            continue
        for parameter in ("startDate", "endDate"):
            for value in OUT_OF_RANGE:
                response = call_route(route, keys["acme"], query={parameter: value})
                assert response["statusCode"] == 400, (route_id(route), value, response["body"])
                assert response["json"]["errors"][0]["field"] == parameter


def test_channel_times_out_of_range_are_400(aws: None, keys: dict[str, str]) -> None:
    for field in ("start_time", "end_time"):
        for value in OUT_OF_RANGE:
            event = proxy_event(
                "POST",
                "/api/v1/connect-hub/sms/stats",
                key=keys["acme"],
                body={"type": "daily", field: value},
                resource="/api/v1/connect-hub/{channel}/stats",
                path_parameters={"channel": "sms"},
            )
            response = invoke("channel_stats", event)
            assert response["statusCode"] == 400, (field, value, response["body"])
            assert response["json"]["errors"][0]["field"] == field


CHAT_BOUNDS = [
    ("start_date", str(-(10**18)), 200),  # any integer is a valid bound (clamped)
    ("end_date", str(10**18), 200),
    ("end_date", "9" * 20, 400),  # past 19 digits: not an integer parameter
    ("start_date", "1e9", 400),
]


def test_chat_bounds_of_any_size(aws: None, keys: dict[str, str]) -> None:
    for route in api_routes():
        if not route.path.startswith("/admin/stats/"):
            continue
        for parameter, value, status in CHAT_BOUNDS:
            response = call_route(route, keys["acme"], query={parameter: value})
            assert response["statusCode"] == status, (route_id(route), value, response["body"])


def test_event_instants_out_of_range_are_422(aws: None, keys: dict[str, str]) -> None:
    for field in ("occurred_at", "completed_at"):
        for value in OUT_OF_RANGE[:2]:
            event = with_field("campaign", field, value)
            response = invoke(
                "ingest",
                proxy_event("POST", "/v1/events", key=keys["acme"], body={"events": [event]}),
            )
            assert response["statusCode"] == 422, (field, value, response["body"])
            errors = response["json"]["errors"]
            assert [(e["index"], e["field"]) for e in errors] == [(0, field)]


def test_a_price_past_the_bound_is_422_and_nothing_is_stored(
    aws: None, keys: dict[str, str]
) -> None:
    """The issue's cross-account loss began with a price of 9E+125 that ingest accepted."""
    events = [message("m1", status="sent", price={"amount": "9E+125", "currency": "EUR"})]
    response = invoke(
        "ingest", proxy_event("POST", "/v1/events", key=keys["acme"], body={"events": events})
    )
    assert response["statusCode"] == 422, response["body"]
    assert response["json"]["errors"][0]["field"] == "price.amount"
    assert "1,000,000" in response["json"]["errors"][0]["reason"]


def test_stored_instants_from_an_older_version_do_not_break_reads(
    aws: None, keys: dict[str, str]
) -> None:
    """A campaign stored with year 1 unpadded (`1-01-01T...`): the reads that list it answer."""
    (campaign,) = validate_events([VALID["campaign"]])
    item = new_item("acme", campaign)
    item["completed_at"] = "1-01-01T00:00:00.000000Z"
    storage.put_item(get_settings().events_table, item)
    for path in ("/api/analytics/top-campaigns", "/api/analytics/export"):
        route = next(r for r in api_routes() if r.path == path)
        response = call_route(
            route, keys["acme"], query={"startDate": "2026-06-01", "endDate": "2026-06-30"}
        )
        assert response["statusCode"] == 200, (path, response["body"])
    export = call_route(
        next(r for r in api_routes() if r.path == "/api/analytics/export"),
        keys["acme"],
        query={"startDate": "2026-06-01", "endDate": "2026-06-30"},
    )
    assert "0001-01-01T00:00:00.000Z" in export["body"]


@pytest.mark.parametrize(
    "error",
    [
        lambda: client_error("ValidationException", "TransactWriteItems"),
        lambda: client_error(
            "TransactionCanceledException",
            "TransactWriteItems",
            CancellationReasons=[{"Code": "None"}, {"Code": "ValidationError"}],
        ),
    ],
    ids=["ValidationException", "cancelled by ValidationError"],
)
def test_a_transaction_dynamodb_refuses_is_422_not_busy(
    aws: None, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch, error: Any
) -> None:
    """A key and its usage event are one transaction: refused, the client is told 422."""
    faulty = install_faulty_client(monkeypatch)
    faulty.inject("transact_write_items", error)
    route = next(r for r in api_routes() if route_id(r) == "POST /v1/keys")
    event = route_event(route, keys["acme"])
    event["body"] = json.dumps({"scopes": ["stats:read"]})
    response = invoke(route.handler.group, event)
    assert response["statusCode"] == 422, response["body"]
    assert "retry-after" not in response["headers"]
    assert response["json"]["errors"][0]["field"] == "body"


def test_a_plain_write_dynamodb_refuses_is_422(
    aws: None, keys: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ingest writes each event with a conditional PutItem."""
    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "put_item",
        lambda: client_error("ValidationException", "PutItem"),
        match=on_table(get_settings().events_table),
    )
    for events in ([message("m1")], [VALID["billing"]]):
        response = invoke(
            "ingest", proxy_event("POST", "/v1/events", key=keys["acme"], body={"events": events})
        )
        assert response["statusCode"] == 422, response["body"]
        assert "retry-after" not in response["headers"]


def test_the_largest_valid_billing_event_is_stored(aws: None, keys: dict[str, str]) -> None:
    """Every string and list at its bound: the item stays far below 400 KB (DynamoDB Local
    refuses larger items)."""
    text = "x" * 200
    product = {"id": text, "name": text, "credits_amount": 10**12, "price_cents": 10**12}
    subscription = dict.fromkeys(
        (
            "id",
            "plan_type",
            "billing_interval",
            "status",
            "paid_through",
            "current_period_end",
            "next_billing_date",
            "provider",
        ),
        text,
    )
    event = {
        **VALID["billing"],
        "brand": text,
        "subscription": subscription,
        "included_credits": 10**12,
        "portal_urls": {"customer_portal": "u" * 2048, "subscription_management": "u" * 2048},
        "available_credit_products": [product] * 50,
    }
    assert post_events(keys["acme"], [event]) == {"accepted": 1, "unchanged": 0}
