"""CORS end to end through the local gateway: the preflight answered as API Gateway answers
it from the template's `Cors`, and the functions' responses carrying
Access-Control-Allow-Origin for the origins of TALLY_CORS_ORIGINS (CorsAllowedOrigins)."""

from __future__ import annotations

import dataclasses
import re

import pytest

from tally.config import reset_settings
from tally_dev import template as tpl
from tally_dev.gateway import Gateway, Reply

APP = "https://app.example.com"
OTHER = "https://evil.example.net"
TEMPLATE = tpl.load()


def _gateway(origins: str) -> Gateway:
    """The template's gateway with CorsAllowedOrigins set to `origins` (as a deploy would)."""
    environment = {**TEMPLATE.environment, "TALLY_CORS_ORIGINS": origins}
    return Gateway(dataclasses.replace(TEMPLATE, environment=environment))


@pytest.fixture
def origins(monkeypatch: pytest.MonkeyPatch):
    """Set the functions' TALLY_CORS_ORIGINS (the local runtime copies the template's
    environment into the process) and return a gateway configured alike."""

    def configure(value: str) -> Gateway:
        monkeypatch.setenv("TALLY_CORS_ORIGINS", value)
        reset_settings()
        return _gateway(value)

    yield configure
    reset_settings()


def _headers(reply: Reply) -> dict[str, str]:
    return {name.lower(): value for name, value in reply.headers}


def _preflight(gateway: Gateway, path: str, method: str = "GET") -> Reply:
    return gateway.invoke(
        "OPTIONS",
        path,
        {"Origin": APP, "Access-Control-Request-Method": method},
    )


def test_by_default_the_preflight_allows_no_origin() -> None:
    reply = _preflight(Gateway(TEMPLATE), "/v1/events", "POST")
    headers = _headers(reply)
    assert reply.status == 200
    assert "access-control-allow-origin" not in headers
    assert headers["access-control-allow-methods"] == "OPTIONS,POST"


def test_one_origin_is_named_in_the_preflight() -> None:
    headers = _headers(_preflight(_gateway(APP), "/v1/keys/k1"))
    assert headers["access-control-allow-origin"] == APP
    assert headers["access-control-allow-methods"] == "DELETE,OPTIONS,PATCH"
    allowed = headers["access-control-allow-headers"].lower().split(",")
    assert {"authorization", "x-api-key", "cb-administration-api-key", "x-account-id"} <= set(
        allowed
    )
    assert headers["access-control-max-age"] == "600"


def test_several_origins_answer_the_preflight_with_a_wildcard() -> None:
    headers = _headers(_preflight(_gateway(f"{APP},http://localhost:5173"), "/v1/stats/messages"))
    assert headers["access-control-allow-origin"] == "*"
    # The route also has an ANY method: SAM's preflight lists every method there.
    assert headers["access-control-allow-methods"] == "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"


def test_every_route_has_a_preflight_and_unknown_paths_stay_404() -> None:
    gateway = _gateway(APP)
    for route in TEMPLATE.routes:
        path = re.sub(r"\{[^}]+\}", "x", route.path)
        reply = _preflight(gateway, path, route.method)
        assert reply.status == 200, path
        methods = _headers(reply)["access-control-allow-methods"].split(",")
        assert route.method in {*methods, "ANY"}, path
    assert _preflight(gateway, "/v1/nowhere").status == 404


def test_responses_name_an_allowed_origin_only(keys, origins) -> None:
    gateway = origins(f"{APP},http://localhost:5173")
    auth = {"Authorization": f"Bearer {keys['acme']}"}
    allowed = gateway.invoke("GET", "/v1/stats?scope=1w", {**auth, "Origin": APP})
    assert allowed.status == 200
    headers = _headers(allowed)
    assert headers["access-control-allow-origin"] == APP
    # Browsers hide other response headers from scripts unless exposed.
    assert "Retry-After" in headers["access-control-expose-headers"].split(",")

    refused = gateway.invoke("GET", "/v1/stats?scope=1w", {**auth, "Origin": OTHER})
    assert refused.status == 200
    assert "access-control-allow-origin" not in _headers(refused)


def test_errors_carry_the_header_too_so_a_page_can_read_them(keys, origins) -> None:
    gateway = origins(APP)
    unauthorised = gateway.invoke("GET", "/api/billing/status", {"Origin": APP})
    assert unauthorised.status == 401
    assert _headers(unauthorised)["access-control-allow-origin"] == APP
    invalid = gateway.invoke(
        "POST",
        "/v1/events",
        {"Origin": APP, "Authorization": f"Bearer {keys['acme']}"},
        {"events": [{"id": "x"}]},
    )
    assert invalid.status == 422
    assert _headers(invalid)["access-control-allow-origin"] == APP


def test_without_origins_no_response_allows_a_browser(keys, origins) -> None:
    gateway = origins("")
    reply = gateway.invoke(
        "GET", "/v1/stats", {"Authorization": f"Bearer {keys['acme']}", "Origin": APP}
    )
    assert reply.status == 200
    assert not any(name.startswith("access-control-") for name in _headers(reply))
