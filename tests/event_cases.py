"""Valid events of every kind and, for each field, values that must be rejected (422)."""

from __future__ import annotations

from typing import Any

AT = "2026-06-10T12:00:00Z"

VALID: dict[str, dict[str, Any]] = {
    "message": {
        "id": "m-1",
        "kind": "message",
        "occurred_at": AT,
        "channel": "sms",
        "status": "sent",
        "purpose": "otp",
        "direction": "outbound",
        "to": "+213550000001",
        "operator": "ooredoo",
        "campaign_id": "c-1",
        "dialog_id": "d-1",
        "length": 160,
        "price": {"amount": "0.02", "currency": "EUR"},
        "test": False,
    },
    "otp": {"id": "o-1", "kind": "otp", "occurred_at": AT, "status": "verified", "channel": "sms"},
    "campaign": {
        "id": "c-1",
        "kind": "campaign",
        "occurred_at": AT,
        "name": "June",
        "status": "completed",
        "audience": 100,
        "completed_at": AT,
    },
    "dialog": {"id": "d-1", "kind": "dialog", "occurred_at": AT, "type": 1},
    "contact": {
        "id": "p-1",
        "kind": "contact",
        "occurred_at": AT,
        "textable": True,
        "opted_in": False,
    },
    "usage": {"id": "u-1", "kind": "usage", "occurred_at": AT, "name": "message_published_ok"},
    "credit": {"id": "cr-1", "kind": "credit", "occurred_at": AT, "amount": -5, "reason": "grant"},
    "billing": {
        "id": "b-1",
        "kind": "billing",
        "occurred_at": AT,
        "brand": "Acme",
        "billing_status": "active",
        "pricing_model": "per_message",
        "currency": "USD",
        "subscription": {"id": "s-1", "plan_type": "pro", "status": "active"},
        "included_credits": 1000,
        "portal_urls": {"customer_portal": "https://billing.example/acme"},
        "available_credit_products": [
            {"id": "p1", "name": "1k", "credits_amount": 1000, "price_cents": 900}
        ],
    },
}

# Fields every kind shares.
COMMON: list[tuple[str, Any]] = [
    ("id", ""),
    ("id", "has space"),
    ("id", "x" * 129),
    ("id", 7),
    ("occurred_at", "2026-06-10T12:00:00"),  # no offset
    ("occurred_at", "yesterday"),
    ("occurred_at", 1781092800),
    ("occurred_at", "1999-12-31T23:59:59Z"),
    ("occurred_at", "2026-06-12T00:00:00Z"),  # more than 24 h after TALLY_NOW
    ("unexpected", 1),
]

# (field, bad value): the error must name `field` (a dotted path for nested ones).
INVALID: dict[str, list[tuple[str, Any]]] = {
    "message": [
        ("channel", "fax"),
        ("channel", None),
        ("status", "read"),
        ("purpose", "spam"),
        ("direction", "sideways"),
        ("to", "0550000001"),
        ("to", "+0123456789"),
        ("operator", "Bad Operator"),
        ("campaign_id", "a/b"),
        ("dialog_id", ""),
        ("length", -1),
        ("length", "160"),
        ("length", 1.5),
        ("price", "0.02"),
        ("price.amount", "-1"),
        ("price.amount", "abc"),
        ("price.amount", "0.0000001"),
        ("price.currency", "eur"),
        ("price.extra", 1),
        ("test", "yes"),
    ],
    "otp": [("status", "done"), ("channel", "pigeon")],
    "campaign": [
        ("name", ""),
        ("name", "x" * 201),
        ("status", "paused"),
        ("audience", -1),
        ("completed_at", "soon"),
    ],
    "dialog": [("type", 0), ("type", 5), ("type", "1")],
    "contact": [("textable", "true"), ("opted_in", 1)],
    "usage": [("name", "Bad-Name"), ("name", ""), ("name", "x" * 65)],
    "credit": [("amount", 1.5), ("amount", "10"), ("reason", "gift")],
    "billing": [
        ("billing_status", "happy"),
        ("pricing_model", "free"),
        ("currency", "euro"),
        ("subscription", "pro"),
        ("subscription.plan_type", ""),
        ("included_credits", -1),
        ("portal_urls.customer_portal", "x" * 2049),
        ("available_credit_products", {"id": "p1"}),
    ],
}

# Fields without which an event is invalid.
REQUIRED = {
    "message": ["channel"],
    "otp": [],
    "campaign": ["name", "status"],
    "dialog": ["type"],
    "contact": ["textable", "opted_in"],
    "usage": ["name"],
    "credit": ["amount", "reason"],
    "billing": [],
}


def with_field(kind: str, path: str, value: Any) -> dict[str, Any]:
    """The valid event of `kind` with the (possibly nested, dotted) field set to `value`."""
    event = {
        name: dict(field) if isinstance(field, dict) else field
        for name, field in VALID[kind].items()
    }
    *parents, last = path.split(".")
    target = event
    for name in parents:
        target = target[name]
    target[last] = value
    return event


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    """(kind, field the error must name, bad event) for every invalid field of every kind."""
    result = []
    for kind, valid in VALID.items():
        for path, value in COMMON + INVALID[kind]:
            result.append((kind, path, with_field(kind, path, value)))
        for path in ["id", "occurred_at", *REQUIRED[kind]]:
            event = dict(valid)
            del event[path]
            result.append((kind, path, event))
    return result
