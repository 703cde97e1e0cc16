"""POST /v1/events through the ingest handler: all-or-nothing validation and idempotent upserts."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tally import events, storage
from tally.config import get_settings, reset_settings
from tests.event_cases import VALID, cases
from tests.support import invoke, message, post_events, proxy_event, stored_events


def post(key: str, body, **options):
    return invoke("ingest", proxy_event("POST", "/v1/events", key=key, body=body, **options))


def events_table() -> list[dict]:
    return list(storage.scan(get_settings().events_table))


def stored(account: str, event_id: str, kind: str = "message") -> dict:
    item = storage.get_item(get_settings().events_table, events.event_key(account, kind, event_id))
    assert item is not None
    return item


def test_every_invalid_field_is_a_422_naming_it_and_nothing_is_written(keys):
    """One request holding every bad case (unit tests check them one by one)."""
    bad = cases()
    before = events_table()
    response = post(keys["acme"], {"events": [VALID["message"], *(event for _, _, event in bad)]})
    assert response["statusCode"] == 422, response["body"]
    assert response["headers"]["content-type"] == "application/problem+json"
    errors = response["json"]["errors"]
    assert {error["index"] for error in errors} == set(range(1, len(bad) + 1))
    for index, (kind, field, _) in enumerate(bad, start=1):
        named = [e["field"] for e in errors if e["index"] == index]
        assert any(name == field or name.startswith(field + ".") for name in named), (kind, named)
    assert events_table() == before


def test_valid_events_of_every_kind_are_stored(keys):
    assert post_events(keys["acme"], list(VALID.values())) == {"accepted": 8, "unchanged": 0}
    assert {item["kind"] for item in stored_events("acme")} >= set(VALID)


def test_too_many_events_is_413(keys):
    response = post(keys["acme"], {"events": [message(f"m{n}") for n in range(501)]})
    assert response["statusCode"] == 413
    assert stored_events("acme") == [e for e in stored_events("acme") if e["kind"] == "usage"]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("not json at all", {}),
        ("id=1&kind=message", {"Content-Type": "application/x-www-form-urlencoded"}),
        (json.dumps({"events": [message("m1")]}), {"Content-Type": "text/plain"}),
    ],
)
def test_non_json_body_is_415(keys, body, headers):
    response = post(keys["acme"], body, headers=headers)
    assert response["statusCode"] == 415, response["body"]


def test_unknown_top_level_and_event_fields_are_rejected(keys):
    response = post(keys["acme"], {"events": [message("m1")], "dry_run": True})
    assert response["statusCode"] == 422
    assert [e["field"] for e in response["json"]["errors"]] == ["dry_run"]
    response = post(keys["acme"], {"events": [message("m1", colour="red")]})
    assert response["statusCode"] == 422
    assert response["json"]["errors"][0] == {
        "index": 0,
        "field": "colour",
        "reason": "Extra inputs are not permitted",
    }


def test_resend_is_idempotent(keys):
    batch = [message("m1", status="sent"), VALID["otp"], VALID["contact"]]
    assert post_events(keys["acme"], batch) == {"accepted": 3, "unchanged": 0}
    first = stored("acme", "m1")
    assert post_events(keys["acme"], batch) == {"accepted": 0, "unchanged": 3}
    assert stored("acme", "m1") == first  # not even rewritten: same revision


def test_status_moves_forward_only(keys):
    post_events(keys["acme"], [message("m1", status="delivered")])
    result = post_events(
        keys["acme"], [message("m1", status="sent"), message("m1", status="queued")]
    )
    assert result == {"accepted": 0, "unchanged": 2}
    assert stored("acme", "m1")["status"] == "delivered"
    post_events(keys["acme"], [message("m2"), message("m2", status="failed")])
    post_events(keys["acme"], [message("m2", status="delivered")])
    assert stored("acme", "m2")["status"] == "failed"


def test_first_occurred_at_and_omitted_fields_are_kept(keys):
    price = {"amount": "0.05", "currency": "EUR"}
    post_events(
        keys["acme"],
        [message("m1", "2026-06-10T08:00:00+02:00", to="+213550000001", length=700, price=price)],
    )
    receipt = message("m1", "2026-06-10T11:00:00Z", status="delivered")
    assert post_events(keys["acme"], [receipt]) == {"accepted": 1, "unchanged": 0}
    item = stored("acme", "m1")
    assert item["occurred_at"] == "2026-06-10T06:00:00.000000Z"
    assert item["status"] == "delivered"
    assert (item["to"], item["length"], item["operator"]) == ("+213550000001", 700, "ooredoo")
    assert item["price"] == {"amount": Decimal("0.05"), "currency": "EUR"}


@pytest.mark.parametrize(
    ("to", "operator"),
    [
        ("+213550000001", "ooredoo"),
        ("+213660000001", "mobilis"),
        ("+213770000001", "djeezy"),
        ("+33612345678", None),
    ],
)
def test_operator_is_derived_from_the_number(keys, to, operator):
    post_events(keys["acme"], [message("m1", to=to)])
    assert stored("acme", "m1").get("operator") == operator


def test_explicit_operator_wins_and_the_prefix_table_is_configurable(keys, monkeypatch):
    post_events(keys["acme"], [message("m1", to="+213550000001", operator="other")])
    assert stored("acme", "m1")["operator"] == "other"
    monkeypatch.setenv("TALLY_OPERATOR_PREFIXES", json.dumps({"+336": "orange", "+3361": "sfr"}))
    reset_settings()
    post_events(keys["acme"], [message("m2", to="+33612345678"), message("m3", to="+33698765432")])
    assert stored("acme", "m2")["operator"] == "sfr"  # the longest prefix wins
    assert stored("acme", "m3")["operator"] == "orange"


def test_a_lost_race_is_retried_on_the_fresh_item(keys, monkeypatch):
    """Another writer updates the item between our read and our conditional write."""
    post_events(keys["acme"], [message("m1", to="+213550000001")])
    real_batch_get = storage.batch_get
    raced: list[bool] = []

    def batch_get(table, request_keys, **options):
        found = real_batch_get(table, request_keys, **options)
        if not raced:
            raced.append(True)
            other = dict(stored("acme", "m1"), status="sent", length=900)
            other["rev"] = int(other["rev"]) + 1
            storage.put_item(table, other)
        return found

    monkeypatch.setattr(storage, "batch_get", batch_get)
    assert post_events(keys["acme"], [message("m1", status="delivered")]) == {
        "accepted": 1,
        "unchanged": 0,
    }
    item = stored("acme", "m1")
    assert (item["status"], item["length"], item["rev"]) == ("delivered", 900, 3)


def test_persistent_conflicts_are_a_503_to_retry(keys, monkeypatch):
    """Another writer changes the item before every one of our conditional puts."""
    post_events(keys["acme"], [message("m1")])
    real_put = storage.put_item

    def always_overtaken(table, item, **options):
        if options.get("condition"):
            current = stored("acme", "m1")
            real_put(table, {**current, "rev": int(current["rev"]) + 1})
        return real_put(table, item, **options)

    monkeypatch.setattr(storage, "put_item", always_overtaken)
    monkeypatch.setattr(storage, "backoff", lambda attempt: None)
    response = post(keys["acme"], {"events": [message("m1", status="sent")]})
    assert response["statusCode"] == 503
    assert response["headers"]["retry-after"] == "1"
    assert stored("acme", "m1")["status"] == "queued"
