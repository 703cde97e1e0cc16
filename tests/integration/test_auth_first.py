"""A request without a valid key is 401 before anything else is looked at, on every route.

Driven by the route table of template.yaml: every route of every API function,
with no key and with an unknown one, times a valid request and every kind of bad
input (a body that is not UTF-8, nested 1,000 deep, of the wrong media type,
parameters of every bad shape, a key id over DynamoDB's key size), answers 401
in its group's error format. Functions not built on `tally.http` (public pages)
are left out: they take no key.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.api_surface import api_apps, api_routes
from tests.support import invoke, route_event

BAD_QUERY = {
    "pretty": "maybe",
    "scope": "bogus",
    "startDate": "\u0663",
    "endDate": "0001-01-01T00:00:00+14:00",
    "limit": "x" * 5000,
    "start_date": "\uff11",
    "types[]": "nope",
    "metric": "?",
}
# (name, what to change in a valid event)
BAD_INPUTS: dict[str, dict[str, Any]] = {
    "valid request": {},
    "body not UTF-8": {
        "body": b"\xff\xfe{\x00",
        "headers": {"Content-Type": "application/json"},
    },
    "body nested 1,000 deep": {
        "body": "[" * 1000 + "]" * 1000,
        "headers": {"Content-Type": "application/json"},
    },
    "text/plain body": {"body": "hello", "headers": {"Content-Type": "text/plain"}},
    "integer of 5,000 digits": {
        "body": '{"scopes": ' + "9" * 5000 + "}",
        "headers": {"Content-Type": "application/json"},
    },
    "bad parameters": {"query": BAD_QUERY},
    "key id over 2 KB": {"key_id": "k" * 3000},
}


def _event(route: Any, key: str | None, bad: dict[str, Any]) -> dict[str, Any]:
    event = route_event(
        route,
        key,
        key_id=bad.get("key_id", "key_none"),
        query=bad.get("query"),
        headers=bad.get("headers"),
    )
    if route.method == "ANY":
        event["httpMethod"] = "DELETE"
    body = bad.get("body")
    if isinstance(body, bytes):
        event.update(body=base64.b64encode(body).decode(), isBase64Encoded=True)
    elif body is not None:
        event.update(body=body, isBase64Encoded=False)
    return event


def assert_unauthorized(response: dict[str, Any], style: str) -> None:
    assert response["statusCode"] == 401, response.get("body")
    assert response["headers"]["www-authenticate"].startswith("Bearer")
    body = response["json"]
    if style == "dashboard":
        assert response["headers"]["content-type"] == "application/json"
        assert body["ok"] is False
        assert body["error"]["code"] == "unauthorized"
    elif style == "usage":
        assert response["headers"]["content-type"] == "application/json"
        assert (body["title"], body["status"]) == ("Unauthorized", 401)
    else:
        assert response["headers"]["content-type"] == "application/problem+json"
        assert (body["title"], body["status"]) == ("Unauthorized", 401)
        assert body["type"] == "about:blank"


def test_the_table_covers_every_api_group(env: None) -> None:
    apps = api_apps()
    assert {"ingest", "keys", "dashboard", "usage_stats", "chat_stats", "channel_stats"} <= set(
        apps
    )
    assert {app.error_style for app in apps.values()} == {"problem", "dashboard", "usage"}
    assert any(route.method == "ANY" for route in api_routes(with_any=True))


@pytest.mark.parametrize("key", [None, "tk_" + "A" * 43], ids=["no key", "unknown key"])
def test_no_valid_key_is_401_whatever_the_request(aws: None, key: str | None) -> None:
    apps = api_apps()
    wrong = {}
    for route in api_routes(with_any=True):
        group = route.handler.group
        for name, bad in BAD_INPUTS.items():
            response = invoke(group, _event(route, key, bad))
            try:
                assert_unauthorized(response, apps[group].error_style)
            except AssertionError as error:
                wrong[f"{route.method} {route.path}: {name}"] = str(error)[:200]
    assert wrong == {}


def test_the_caller_reaches_routes_through_the_resolver_context(aws: None, keys: dict) -> None:
    """A route reads `app.principal`, set only for the request being answered."""
    route = next(r for r in api_routes() if r.method == "GET" and r.path == "/v1/keys")
    response = invoke("keys", route_event(route, keys["acme"]))
    assert response["statusCode"] == 200
    assert {key["account"] for key in response["json"]["keys"]} == {"acme"}
    assert "principal" not in api_apps()["keys"].context
