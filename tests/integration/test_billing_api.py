"""Billing status and credit balance, end to end, against an oracle over the raw events."""

from __future__ import annotations

from typing import Any

from tally.stats.shared import account_credit_balance
from tests.support import invoke, load_event, post_events, proxy_event, stored_events

AT = "2026-06-09T10:00:00Z"
PROFILE = {
    "id": "profile-1",
    "kind": "billing",
    "occurred_at": "2026-06-01T00:00:00Z",
    "brand": "amplifi",
    "billing_status": "active",
    "pricing_model": "full_service",
    "subscription": {
        "id": "sub_abc123",
        "plan_type": "full_service",
        "billing_interval": "monthly",
        "status": "active",
        "paid_through": "2026-06-30",
        "current_period_end": "2026-06-30T23:59:59.000Z",
        "next_billing_date": "2026-07-01",
        "provider": "amplifi",
    },
    "included_credits": 10000,
    "portal_urls": {"customer_portal": "https://billing.example/portal"},
    "available_credit_products": [
        {
            "id": "prod_xyz789",
            "name": "10,000 Credits",
            "credits_amount": 10000,
            "price_cents": 4900,
        }
    ],
}


def message(event_id: str, channel: str, status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": event_id,
        "kind": "message",
        "occurred_at": AT,
        "channel": channel,
        "status": status,
        **extra,
    }


def credit(event_id: str, amount: int, reason: str) -> dict[str, Any]:
    return {"id": event_id, "kind": "credit", "occurred_at": AT, "amount": amount, "reason": reason}


# (message, credits it consumes once everything below has been applied)
MESSAGES = [
    (message("no-length", "sms", "sent"), 1),
    (message("one-segment", "sms", "delivered", length=480), 1),
    (message("two-segments", "sms", "sent", length=481), 2),
    (message("three-segments", "sms", "delivered", length=1000), 3),
    (message("empty", "sms", "sent", length=0), 0),  # ceil(0 / 480)
    (message("mms", "mms", "sent"), 2),
    (message("whatsapp", "whatsapp", "delivered", length=5000), 0),
    (message("chat", "chat", "sent"), 0),
    (message("queued", "sms", "queued"), 0),
    (message("failed", "sms", "failed"), 0),
    (message("test-send", "sms", "delivered", test=True), 0),
    (message("inbound", "mms", "delivered", direction="inbound"), 0),
    (message("sent-then-failed", "sms", "sent"), 0),
    (message("queued-then-delivered", "mms", "queued"), 2),
]
LATER = [
    message("sent-then-failed", "sms", "failed"),
    message("queued-then-delivered", "mms", "delivered"),
]
CREDITS = [
    credit("buy", 100, "purchase"),
    credit("gift", 50, "grant"),
    credit("fix", -7, "adjustment"),
]


def get(key: str, path: str) -> dict[str, Any]:
    return invoke("billing", proxy_event("GET", path, key=key))


def oracle_balance(items: list[dict[str, Any]], unlimited: bool) -> int:
    """The seed's rules applied to the raw items: 1 credit per SMS segment of up to 480
    characters, 2 per MMS, only once sent, never for test or inbound sends."""
    added = sum(int(item["amount"]) for item in items if item["kind"] == "credit")
    used = 0
    for item in items:
        if (
            item["kind"] != "message"
            or item.get("test")
            or item.get("direction", "outbound") != "outbound"
            or item["status"] not in ("sent", "delivered")
        ):
            continue
        if item["channel"] == "sms":
            length = int(item.get("length", 1))
            used += (length + 479) // 480
        elif item["channel"] == "mms":
            used += 2
    return added - (0 if unlimited else used)


def dashboard_balance(key: str) -> int:
    body = invoke("dashboard", proxy_event("GET", "/v1/stats", key=key))["json"]
    return int(body.get("data", body)["credit_balance"])


def test_credits_follow_the_seed_rules_end_to_end(keys, stream):
    post_events(keys["acme"], [event for event, _ in MESSAGES] + CREDITS)
    post_events(keys["acme"], LATER)
    stream.drain()
    expected = 100 + 50 - 7 - sum(credits for _, credits in MESSAGES)
    assert expected == 132
    assert oracle_balance(stored_events("acme"), unlimited=False) == expected

    balance = get(keys["acme"], "/api/credits/balance")
    assert balance["statusCode"] == 200, balance
    assert balance["json"] == {"balance": expected}
    assert account_credit_balance("acme") == expected
    assert dashboard_balance(keys["acme"]) == expected

    status = get(keys["acme"], "/api/billing/status")["json"]
    assert status["credits"] == {"available": expected, "included": 0, "total": expected}

    # On the unlimited pricing model nothing is consumed.
    post_events(keys["acme"], [{**PROFILE, "id": "unlimited", "pricing_model": "unlimited"}])
    unlimited = oracle_balance(stored_events("acme"), unlimited=True)
    assert unlimited == 143
    assert get(keys["acme"], "/api/credits/balance")["json"] == {"balance": unlimited}
    assert dashboard_balance(keys["acme"]) == unlimited
    credits = get(keys["acme"], "/api/billing/status")["json"]["credits"]
    assert credits == {"available": 143, "included": 10000, "total": 10143}
    # Other accounts' credits are theirs alone.
    assert get(keys["globex"], "/api/credits/balance")["json"] == {"balance": 0}


def test_billing_status_in_the_seed_field_order(keys, stream):
    post_events(keys["acme"], [PROFILE, credit("buy", 24500, "purchase")])
    # An older billing event arriving later does not replace the latest profile.
    post_events(
        keys["acme"],
        [{"id": "old", "kind": "billing", "occurred_at": "2026-01-01T00:00:00Z", "brand": "old"}],
    )
    stream.drain()
    response = get(keys["acme"], "/api/billing/status")
    assert response["statusCode"] == 200, response
    body = response["json"]
    assert body == {
        "organization_id": "acme",
        "brand": "amplifi",
        "billing_status": "active",
        "pricing_model": "full_service",
        "subscription": PROFILE["subscription"],
        "credits": {"available": 24500, "included": 10000, "total": 34500},
        "portal_urls": {
            "customer_portal": "https://billing.example/portal",
            "subscription_management": None,
        },
        "available_credit_products": PROFILE["available_credit_products"],
    }
    assert list(body) == [
        "organization_id", "brand", "billing_status", "pricing_model", "subscription",
        "credits", "portal_urls", "available_credit_products",
    ]  # fmt: skip
    assert list(body["subscription"]) == list(PROFILE["subscription"])
    assert list(body["credits"]) == ["available", "included", "total"]
    assert list(body["available_credit_products"][0]) == [
        "id", "name", "credits_amount", "price_cents",
    ]  # fmt: skip


def test_billing_status_without_a_profile(keys):
    body = get(keys["globex"], "/api/billing/status")["json"]
    assert body == {
        "organization_id": "globex",
        "brand": None,
        "billing_status": None,
        "pricing_model": None,
        "subscription": None,
        "credits": {"available": 0, "included": 0, "total": 0},
        "portal_urls": {"customer_portal": None, "subscription_management": None},
        "available_credit_products": [],
    }


def test_billing_scope_and_auth(keys):
    for path in ("/api/billing/status", "/api/credits/balance"):
        assert get("tk_unknown", path)["statusCode"] == 401
        forbidden = get(keys["acme_read"], path)  # stats:read only
        assert forbidden["statusCode"] == 403
        assert forbidden["headers"]["content-type"] == "application/problem+json"
        assert get(keys["admin"], path)["json"] is not None


def test_sample_events_are_served(keys):
    for name in ("billing_status.json", "billing_credits_balance.json"):
        event = load_event(name)
        event["headers"]["Authorization"] = f"Bearer {keys['acme']}"
        response = invoke("billing", event)
        assert response["statusCode"] == 200, response
