"""Every route of template.yaml x every scope set -> success, 401 or 403, as DESIGN.md says.

`admin` implies every scope; keys routes need `keys:manage`, ingest
`events:write`, billing `billing:read`, every other statistics route
`stats:read`. Missing, unknown and revoked keys are 401, and so is a non-admin
key naming another account in `x-account-id`.
"""

from __future__ import annotations

import pytest

from tally.keys import bootstrap_key
from tests.support import (
    SUCCESS_STATUS,
    api_routes,
    call_route,
    required_scope,
    route_id,
    throwaway_key_id,
)

ROUTES = api_routes()
PLAIN_SCOPES = ("events:write", "stats:read", "billing:read", "keys:manage")
# Each scope alone, admin alone, and all scopes but the route's own (added per route
# below): together they show the route's scope is both sufficient and necessary.
SCOPE_SETS = [frozenset({scope}) for scope in (*PLAIN_SCOPES, "admin")]
ALL_BUT_REQUIRED = "all but the route's scope"
KEY_HEADERS = ("Authorization", "X-API-KEY", "x-api-key", "CB-Administration-API-Key")


def _success(route) -> int:
    return SUCCESS_STATUS.get((route.method, route.path), 200)


def _call(route, key: str | None, **options) -> dict:
    """Call `route` as acme; PATCH/DELETE get a key of acme to act on."""
    key_id = throwaway_key_id("acme") if "{key_id}" in route.path else "key_none"
    return call_route(route, key, key_id=key_id, **options)


def test_the_matrix_covers_every_group_of_the_template():
    groups = {route.handler.group for route in ROUTES}
    assert {"ingest", "keys", "dashboard", "usage_stats"} <= groups
    assert all(required_scope(route) in PLAIN_SCOPES for route in ROUTES)


@pytest.mark.parametrize("scopes", [*SCOPE_SETS, ALL_BUT_REQUIRED], ids=str)
def test_every_route_with_a_scope_set(aws, scopes):
    wrong = {}
    for route in ROUTES:
        required = required_scope(route)
        granted = set(PLAIN_SCOPES) - {required} if scopes == ALL_BUT_REQUIRED else set(scopes)
        secret = bootstrap_key("acme", sorted(granted), "matrix").secret
        expected = _success(route) if required in granted or "admin" in granted else 403
        got = _call(route, secret)["statusCode"]
        if got != expected:
            wrong[route_id(route)] = (got, expected)
    assert wrong == {}, "(got, expected) per route"


def test_missing_unknown_revoked_and_foreign_account_are_401(aws):
    full = bootstrap_key("acme", list(PLAIN_SCOPES), "full").secret
    revoked = bootstrap_key("acme", list(PLAIN_SCOPES), "revoked")
    admin = bootstrap_key("platform", ["admin"], "admin").secret
    revoke = next(r for r in ROUTES if r.method == "DELETE" and r.handler.group == "keys")
    assert call_route(revoke, admin, key_id=revoked.key_id)["statusCode"] == 204
    cases = {
        "no key": (None, {}, 401),
        "unknown key": ("tk_" + "A" * 43, {}, 401),
        "revoked key": (revoked.secret, {}, 401),
        "x-account-id of another account": (full, {"x-account-id": "globex"}, 401),
        "x-account-id of its own account": (full, {"x-account-id": "acme"}, None),
        "admin naming an account": (admin, {"x-account-id": "acme"}, None),
    }
    wrong = {}
    for route in ROUTES:
        for case, (secret, headers, status) in cases.items():
            expected = status or _success(route)
            got = _call(route, secret, headers=headers)["statusCode"]
            if got != expected:
                wrong[f"{route_id(route)}: {case}"] = (got, expected)
    assert wrong == {}, "(got, expected)"


def test_every_key_header_is_accepted_on_every_route(aws):
    secret = bootstrap_key("acme", list(PLAIN_SCOPES), "headers").secret
    wrong = {}
    for route in ROUTES:
        for header in KEY_HEADERS:
            value = f"Bearer {secret}" if header == "Authorization" else secret
            got = _call(route, None, headers={header: value})["statusCode"]
            if got != _success(route):
                wrong[f"{route_id(route)}: {header}"] = got
    assert wrong == {}
