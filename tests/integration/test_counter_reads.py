"""Counter reads that name their counters: DynamoDB sends only those, with the same values."""

from __future__ import annotations

from datetime import UTC, datetime

from tally import counters, dimensions, events, metrics, storage
from tally_dev.lambda_kit import DynamoDBCalls
from tests.support import message, post_events

JUNE = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
PRICE = {"amount": "0.05", "currency": "EUR"}


def test_a_named_read_returns_only_the_named_counters_with_the_same_values(keys, stream):
    post_events(
        keys["acme"],
        [
            message("m1", status="delivered", operator="ooredoo", price=PRICE),
            message("m2", "2026-06-11T09:30:00Z", channel="whatsapp", status="sent", price=PRICE),
            message("m3", "2026-06-09T23:59:00Z", status="failed", operator="djezzy"),
            {"id": "o1", "kind": "otp", "occurred_at": "2026-06-10T11:00:00Z"},
        ],
    )
    stream.drain()
    whole = counters.read_ranges("acme", [JUNE])[0]
    names = [metrics.message("sms", "total"), metrics.amount("sms", "EUR"), "op:ooredoo", "absent"]

    with DynamoDBCalls(storage.client()) as calls:
        named = counters.read_ranges("acme", [JUNE], names=names)[0]

    assert whole[metrics.message("sms", "total")] == 2
    assert named == {name: whole[name] for name in names if name in whole}
    # Every BatchGetItem asked for those names only (and the key).
    requests = [call.params["RequestItems"] for call in calls.calls]
    assert requests
    assert all(
        set(table["ExpressionAttributeNames"].values()) == {"pk", *names}
        for request in requests
        for table in request.values()
    )
    assert counters.read_all_time("acme", names) == named


def test_the_billing_profile_and_the_registry_come_in_one_read(keys, stream):
    post_events(
        keys["acme"],
        [
            message("m1", operator="ooredoo", price=PRICE),
            {
                "id": "b1",
                "kind": "billing",
                "occurred_at": "2026-06-01T00:00:00Z",
                "pricing_model": "per_message",
                "currency": "EUR",
            },
        ],
    )
    with DynamoDBCalls(storage.client()) as calls:
        profile, registry = events.billing_profile_and_registry("acme")
    assert calls.operations() == ["BatchGetItem"]
    assert profile is not None
    assert profile["pricing_model"] == "per_message"
    assert dimensions.registered(registry, "operator") == {"ooredoo"}
    assert dimensions.registered(registry, "currency") == {"EUR"}
    assert events.billing_profile_and_registry("globex") == (None, None)
