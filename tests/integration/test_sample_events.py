"""The sample events of events/ (what `sam local invoke -e` takes) drive the handlers."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from tally import auth, storage
from tally.counters import recount
from tests.support import counter_items, invoke, load_event


def with_key(name: str, secret: str, key_id: str | None = None) -> dict[str, Any]:
    """A sample proxy event with a real key, and a real key id in the path when given."""
    event = copy.deepcopy(load_event(name))
    for headers in (event["headers"], event["multiValueHeaders"]):
        value = f"Bearer {secret}"
        headers["Authorization"] = value if headers is event["headers"] else [value]
    if key_id and event["pathParameters"]:
        sample = event["pathParameters"]["key_id"]
        event["path"] = event["path"].replace(sample, key_id)
        event["requestContext"]["path"] = event["requestContext"]["path"].replace(sample, key_id)
        event["pathParameters"]["key_id"] = key_id
    return event


def test_keys_sample_events(keys):
    created = invoke("keys", with_key("keys_create.json", keys["acme"]))
    assert created["statusCode"] == 201, created["body"]
    assert (created["json"]["account"], created["json"]["name"]) == ("acme", "dashboard")
    key_id = created["json"]["key_id"]
    listed = invoke("keys", with_key("keys_list.json", keys["acme"]))
    assert key_id in {k["key_id"] for k in listed["json"]["keys"]}
    updated = invoke("keys", with_key("keys_update.json", keys["acme"], key_id))
    assert updated["statusCode"] == 200, updated["body"]
    assert updated["json"]["name"] == "dashboard (read only)"
    revoked = invoke("keys", with_key("keys_revoke.json", keys["acme"], key_id))
    assert revoked["statusCode"] == 204
    assert auth.load_key(key_id).revoked_at is not None


def test_counters_sample_stream_batch(aws, stream):
    batch = load_event("counters_stream_batch.json")
    assert [r["eventName"] for r in batch["Records"]] == ["INSERT", "MODIFY", "INSERT", "REMOVE"]
    result = stream.apply(copy.deepcopy(batch["Records"]))
    # The message's six time items; the OTP, inserted and removed again, nets to nothing.
    assert (result["records"], result["items_written"], result["records_quarantined"]) == (4, 6, 0)
    final = storage.deserialize(batch["Records"][1]["dynamodb"]["NewImage"])
    expected = {key: values for key, values, _ in recount([final]).nonzero()}
    items = counter_items()
    assert {
        key: {n: v for n, v in item.items() if n != "expires_at"} for key, item in items.items()
    } == expected
    year = items["acme#Y#1767225600"]
    assert {n: v for n, v in year.items() if not n.startswith(("hod:", "dow:"))} == {
        "msg:sms:total": 1,
        "msg:sms:sent": 1,
        "msg:sms:delivered": 1,
        "op:ooredoo": 1,
        "credits:used": 2,
        "amt:sms:EUR": Decimal("0.04"),
    }
    again = stream.apply(copy.deepcopy(batch["Records"]))
    assert again["items_written"] == 0
    assert again["items_skipped"] == result["items_written"] + result["items_skipped"]
