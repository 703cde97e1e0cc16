"""API-key auth on every header style, account confinement, and the keys API."""

from __future__ import annotations

import re

import pytest

from tally import auth
from tally.config import reset_settings
from tests.support import invoke, message, post_events, proxy_event, stored_events

INGEST = ("ingest", "POST", "/v1/events")
LIST_KEYS = ("keys", "GET", "/v1/keys")


def call(route, *, headers=None, body=None, key=None, path=None, resource=None):
    group, method, default_path = route
    path = path or default_path
    params = None
    if resource:
        params = {"key_id": path.rsplit("/", 1)[-1]}
    return invoke(
        group,
        proxy_event(
            method,
            path,
            key=key,
            body=body,
            headers=headers,
            resource=resource,
            path_parameters=params,
        ),
    )


def ingest_one(**options):
    return call(INGEST, body={"events": [message("m1")]}, **options)


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer {key}"},
        {"authorization": "bearer {key}"},
        {"X-API-KEY": "{key}"},
        {"x-api-key": "{key}"},
        {"X-Api-Key": "{key}"},
        {"CB-Administration-API-Key": "{key}"},
        {"cb-administration-api-key": "{key}"},
    ],
)
def test_every_header_style_authenticates(keys, headers):
    filled = {name: value.format(key=keys["acme"]) for name, value in headers.items()}
    assert ingest_one(headers=filled)["statusCode"] == 200
    assert call(LIST_KEYS, headers=filled)["statusCode"] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"X-API-KEY": "tk_unknown"},
        {"Authorization": "Bearer tk_" + "A" * 43},
    ],
)
def test_missing_or_unknown_key_is_401(keys, headers):
    for route in (INGEST, LIST_KEYS):
        response = call(route, headers=headers, body={"events": [message("m1")]})
        assert response["statusCode"] == 401
        assert response["headers"]["www-authenticate"].startswith("Bearer")


def test_a_key_whose_digest_does_not_match_is_401(keys, monkeypatch):
    """Same key id, different secret: the constant-time digest compare rejects it."""
    record = auth.load_key(auth.key_id_for(keys["acme"]))
    assert record is not None
    forged = "tk_forged"
    monkeypatch.setattr(auth, "key_id_for", lambda secret: record.key_id)
    assert ingest_one(key=forged)["statusCode"] == 401


def test_missing_scope_is_403(keys):
    assert ingest_one(key=keys["acme_read"])["statusCode"] == 403
    assert call(LIST_KEYS, key=keys["acme_write"])["statusCode"] == 403
    assert ingest_one(key=keys["acme_write"])["statusCode"] == 200


def test_x_account_id_must_match_a_non_admin_key(keys):
    assert ingest_one(key=keys["acme"], headers={"x-account-id": "globex"})["statusCode"] == 401
    assert ingest_one(key=keys["acme"], headers={"X-Account-Id": "acme"})["statusCode"] == 200
    assert not [e for e in stored_events("globex") if e["kind"] == "message"]


def test_admin_acts_on_its_own_account_or_the_named_one(keys):
    assert ingest_one(key=keys["admin"])["statusCode"] == 200
    assert ingest_one(key=keys["admin"], headers={"x-account-id": "globex"})["statusCode"] == 200
    assert [e["event_id"] for e in stored_events("platform") if e["kind"] == "message"] == ["m1"]
    assert [e["event_id"] for e in stored_events("globex") if e["kind"] == "message"] == ["m1"]
    listed = call(LIST_KEYS, key=keys["admin"], headers={"x-account-id": "globex"})["json"]
    assert {k["account"] for k in listed["keys"]} == {"globex"}
    bad = ingest_one(key=keys["admin"], headers={"x-account-id": "no/such"})
    assert bad["statusCode"] == 400


def revoke(key: str, key_id: str):
    return call(("keys", "DELETE", f"/v1/keys/{key_id}"), key=key, resource="/v1/keys/{key_id}")


def test_revoked_key_is_401_within_the_cache_window(keys, monkeypatch):
    victim = keys["acme_write"]
    assert ingest_one(key=victim)["statusCode"] == 200  # now cached
    clock = [1000.0]
    monkeypatch.setattr(auth.time, "monotonic", lambda: clock[0])
    auth.clear_cache()
    assert ingest_one(key=victim)["statusCode"] == 200
    # Revoked by another container: this container's cache is not told.
    from tally import storage
    from tally.config import get_settings

    storage.update_item(
        get_settings().keys_table,
        {"key_id": auth.key_id_for(victim)},
        "SET revoked_at = :at",
        values={":at": "2026-06-10T12:34:56Z"},
    )
    assert ingest_one(key=victim)["statusCode"] == 200  # still cached
    clock[0] += get_settings().key_cache_seconds + 0.001
    assert get_settings().key_cache_seconds <= 60
    assert ingest_one(key=victim)["statusCode"] == 401


def test_cache_window_is_configurable(keys, monkeypatch):
    monkeypatch.setenv("TALLY_KEY_CACHE_SECONDS", "0")
    reset_settings()
    victim = keys["acme_write"]
    assert ingest_one(key=victim)["statusCode"] == 200
    key_id = auth.key_id_for(victim)
    assert revoke(keys["acme"], key_id)["statusCode"] == 204
    assert ingest_one(key=victim)["statusCode"] == 401


def test_no_account_reaches_another_through_keys_routes(keys):
    globex_keys = call(LIST_KEYS, key=keys["globex"])["json"]["keys"]
    acme_keys = call(LIST_KEYS, key=keys["acme"])["json"]["keys"]
    assert {k["account"] for k in globex_keys} == {"globex"}
    assert {k["account"] for k in acme_keys} == {"acme"}
    target = acme_keys[0]["key_id"]
    assert revoke(keys["globex"], target)["statusCode"] == 404
    patched = call(
        ("keys", "PATCH", f"/v1/keys/{target}"),
        key=keys["globex"],
        resource="/v1/keys/{key_id}",
        body={"name": "stolen"},
    )
    assert patched["statusCode"] == 404
    created = call(
        ("keys", "POST", "/v1/keys"),
        key=keys["globex"],
        body={"account": "acme", "scopes": ["stats:read"]},
    )
    assert created["statusCode"] == 403
    # Events posted by globex land in globex only, whatever the ids.
    post_events(keys["globex"], [message("m1", status="sent")])
    assert not [e for e in stored_events("acme") if e["kind"] == "message"]


def test_keys_api_lifecycle(keys):
    create = ("keys", "POST", "/v1/keys")
    response = call(create, key=keys["acme"], body={"scopes": ["stats:read"], "name": "dashboard"})
    assert response["statusCode"] == 201
    created = response["json"]
    assert list(created) == ["key_id", "account", "scopes", "name", "created_at", "secret"]
    assert created["account"] == "acme"
    assert re.fullmatch(r"tk_[A-Za-z0-9_-]{43,}", created["secret"])  # 256 bits, base64url
    secret, key_id = created["secret"], created["key_id"]
    assert call(LIST_KEYS, key=secret)["statusCode"] == 403  # stats:read only

    listed = call(LIST_KEYS, key=keys["acme"])
    assert listed["statusCode"] == 200
    assert secret not in listed["body"]
    entry = next(k for k in listed["json"]["keys"] if k["key_id"] == key_id)
    assert set(entry) == {"key_id", "account", "scopes", "name", "created_at"}

    patch = ("keys", "PATCH", f"/v1/keys/{key_id}")
    updated = call(
        patch,
        key=keys["acme"],
        resource="/v1/keys/{key_id}",
        body={"name": "ops", "scopes": ["events:write"]},
    )
    assert updated["statusCode"] == 200
    assert (updated["json"]["name"], updated["json"]["scopes"]) == ("ops", ["events:write"])
    assert ingest_one(key=secret)["statusCode"] == 200

    assert revoke(keys["acme"], key_id)["statusCode"] == 204
    assert revoke(keys["acme"], key_id)["statusCode"] == 404
    assert ingest_one(key=secret)["statusCode"] == 401
    assert key_id not in call(LIST_KEYS, key=keys["acme"])["body"]

    names = sorted(e["name"] for e in stored_events("acme") if e["kind"] == "usage")
    assert names.count("api_key_added") == 4  # the fixture's 3 keys and this one
    assert names.count("api_key_updated") == 1
    assert names.count("api_key_deleted") == 1


def test_keys_manage_cannot_grant_admin_but_admin_can(keys):
    create = ("keys", "POST", "/v1/keys")
    denied = call(create, key=keys["acme"], body={"scopes": ["admin"]})
    assert denied["statusCode"] == 403
    acme_keys = call(LIST_KEYS, key=keys["acme"])["json"]["keys"]
    escalate = call(
        ("keys", "PATCH", f"/v1/keys/{acme_keys[0]['key_id']}"),
        key=keys["acme"],
        resource="/v1/keys/{key_id}",
        body={"scopes": ["admin"]},
    )
    assert escalate["statusCode"] == 403
    granted = call(create, key=keys["admin"], body={"account": "acme", "scopes": ["admin"]})
    assert granted["statusCode"] == 201
    assert granted["json"]["account"] == "acme"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"scopes": []},
        {"scopes": ["root"]},
        {"scopes": ["stats:read"], "extra": 1},
        {"scopes": ["stats:read"], "account": "a/b"},
    ],
)
def test_invalid_key_requests_are_422(keys, body):
    response = call(("keys", "POST", "/v1/keys"), key=keys["acme"], body=body)
    assert response["statusCode"] == 422, response["body"]
