"""Only `admin` may change or revoke a key that holds `admin` (keys:manage gets 403)."""

from __future__ import annotations

from typing import Any

from tally.keys import bootstrap_key
from tests.support import invoke, proxy_event, stored_events

RESOURCE = "/v1/keys/{key_id}"


def change(key: str, key_id: str, method: str, body: Any = None) -> dict[str, Any]:
    return invoke(
        "keys",
        proxy_event(
            method,
            f"/v1/keys/{key_id}",
            key=key,
            body=body,
            resource=RESOURCE,
            path_parameters={"key_id": key_id},
        ),
    )


def test_keys_manage_cannot_demote_or_revoke_an_admin_key(aws: None, keys: dict[str, str]) -> None:
    held = bootstrap_key("acme", ["admin"], "acme admin")
    demoted = change(keys["acme"], held.key_id, "PATCH", {"scopes": ["stats:read"]})
    assert demoted["statusCode"] == 403, demoted["body"]
    assert demoted["json"]["errors"] == [{"field": "key_id", "reason": "holds admin"}]
    renamed = change(keys["acme"], held.key_id, "PATCH", {"name": "mine now"})
    assert renamed["statusCode"] == 403
    revoked = change(keys["acme"], held.key_id, "DELETE")
    assert revoked["statusCode"] == 403
    # Untouched: the admin key still works, and no change was recorded.
    listed = invoke("keys", proxy_event("GET", "/v1/keys", key=held.secret))
    assert listed["statusCode"] == 200
    entry = next(k for k in listed["json"]["keys"] if k["key_id"] == held.key_id)
    assert (entry["name"], entry["scopes"]) == ("acme admin", ["admin"])
    usage = [e["name"] for e in stored_events("acme") if e["kind"] == "usage"]
    assert "api_key_updated" not in usage
    assert "api_key_deleted" not in usage


def test_admin_can_change_an_admin_key(aws: None, keys: dict[str, str]) -> None:
    # One change per key: the clock is pinned, and a key's usage event id has its millisecond.
    held = bootstrap_key("acme", ["admin"], "acme admin")
    assert change(held.secret, held.key_id, "PATCH", {"name": "renamed"})["statusCode"] == 200
    other = bootstrap_key("acme", ["admin"], "second admin")
    demoted = change(keys["admin"], other.key_id, "PATCH", {"scopes": ["stats:read"]})
    assert demoted["statusCode"] == 200, demoted["body"]
    assert demoted["json"]["scopes"] == ["stats:read"]
    # Demoted to stats:read, keys:manage may now revoke it.
    assert change(keys["acme"], other.key_id, "DELETE")["statusCode"] == 204


def test_admin_revokes_an_admin_key(aws: None, keys: dict[str, str]) -> None:
    held = bootstrap_key("acme", ["admin"], "acme admin")
    other = bootstrap_key("acme", ["admin"], "second admin")
    assert change(other.secret, held.key_id, "DELETE")["statusCode"] == 204
    assert invoke("keys", proxy_event("GET", "/v1/keys", key=held.secret))["statusCode"] == 401


def test_keys_manage_still_manages_keys_without_admin(aws: None, keys: dict[str, str]) -> None:
    plain = bootstrap_key("acme", ["stats:read"], "plain")
    assert change(keys["acme"], plain.key_id, "PATCH", {"name": "x"})["statusCode"] == 200
    assert change(keys["acme"], plain.key_id, "DELETE")["statusCode"] == 204
