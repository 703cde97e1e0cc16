"""Real stream records from moto -> counters handler: the counters table equals a recount."""

from __future__ import annotations

from typing import Any

from tests.support import counter_items, delete_raw, expected_counters, message, post_events

OTHER_EVENTS: list[dict[str, Any]] = [
    {"id": "o1", "kind": "otp", "occurred_at": "2026-06-10T11:00:00Z", "status": "pending"},
    {
        "id": "c1",
        "kind": "campaign",
        "occurred_at": "2026-06-01T08:00:00Z",
        "name": "June",
        "status": "draft",
    },
    {"id": "d1", "kind": "dialog", "occurred_at": "2026-06-09T23:59:59Z", "type": 2},
    {
        "id": "u1",
        "kind": "usage",
        "occurred_at": "2026-06-10T12:30:00Z",
        "name": "message_published_ok",
    },
    {
        "id": "cr1",
        "kind": "credit",
        "occurred_at": "2026-05-01T00:00:00Z",
        "amount": 500,
        "reason": "purchase",
    },
    {
        "id": "cr2",
        "kind": "credit",
        "occurred_at": "2026-05-02T00:00:00Z",
        "amount": -20,
        "reason": "adjustment",
    },
    {
        "id": "p1",
        "kind": "contact",
        "occurred_at": "2026-06-01T00:00:00Z",
        "textable": True,
        "opted_in": True,
    },
    {
        "id": "p2",
        "kind": "contact",
        "occurred_at": "2026-06-01T00:00:00Z",
        "textable": False,
        "opted_in": False,
    },
    {
        "id": "b1",
        "kind": "billing",
        "occurred_at": "2026-06-01T00:00:00Z",
        "pricing_model": "per_message",
    },
]


def assert_counters_match(stream) -> None:
    stream.drain()
    assert counter_items() == expected_counters()


def test_lifecycle_of_every_kind_matches_recount(keys, stream):
    price = {"amount": "0.05", "currency": "EUR"}
    post_events(
        keys["acme"],
        [
            message("m1", to="+213550000001", length=1000, price=price, campaign_id="c1"),
            message(
                "m2", "2026-06-10T12:01:30+02:00", channel="mms", status="sent", purpose="marketing"
            ),
            message(
                "m3", "2026-03-29T01:30:00Z", channel="whatsapp", status="delivered", price=price
            ),
            message("t1", status="sent", test=True),
            message("i1", status="sent", direction="inbound"),
            *OTHER_EVENTS,
        ],
    )
    post_events(keys["globex"], [message("m1", status="failed", to="+213660000000")])
    assert_counters_match(stream)

    # In order: queued -> sent -> delivered, each in its own batch.
    post_events(keys["acme"], [message("m1", status="sent")])
    assert_counters_match(stream)
    post_events(keys["acme"], [message("m1", status="delivered")])
    # Out of order: a late `sent` receipt and a `queued` re-send are ignored.
    post_events(keys["acme"], [message("m1", status="sent"), message("m1", status="queued")])
    # A sent message that fails gives its credits and amount back.
    post_events(keys["acme"], [message("m2", channel="mms", status="failed")])
    post_events(
        keys["acme"],
        [
            {
                "id": "o1",
                "kind": "otp",
                "occurred_at": "2026-06-10T11:00:00Z",
                "status": "verified",
            },
            {
                "id": "c1",
                "kind": "campaign",
                "occurred_at": "2026-06-01T08:00:00Z",
                "name": "June",
                "status": "completed",
            },
            {
                "id": "p1",
                "kind": "contact",
                "occurred_at": "2026-06-02T00:00:00Z",
                "textable": False,
                "opted_in": False,
            },
            {
                "id": "p2",
                "kind": "contact",
                "occurred_at": "2026-06-02T00:00:00Z",
                "textable": True,
                "opted_in": True,
            },
            message("t1", status="delivered", test=True),
        ],
    )
    assert_counters_match(stream)

    # Duplicates: the very same requests again change nothing.
    before = counter_items()
    post_events(keys["acme"], OTHER_EVENTS[:3])
    post_events(keys["acme"], [message("m1", status="delivered")])
    assert_counters_match(stream)
    assert counter_items() == before

    # Deletes of raw items take their contribution back (REMOVE records).
    delete_raw("acme", "message", "m1")
    delete_raw("acme", "contact", "p2")
    delete_raw("acme", "credit", "cr2")
    delete_raw("globex", "message", "m1")
    assert_counters_match(stream)
    gauge = counter_items()["acme#gauge"]
    assert gauge == {"contacts:total": 1, "contacts:opted_out": 1}


YEAR_2026 = 1767225600  # 2026-01-01T00:00:00Z


def test_every_change_in_one_batch_matches_recount(keys, stream):
    """Inserts, updates and a delete of the same items, all merged within a single batch."""
    post_events(keys["acme"], [message(f"m{n}", f"2026-06-0{n}T10:00:00Z") for n in range(1, 6)])
    post_events(keys["acme"], [message(f"m{n}", status="sent") for n in range(1, 6)])
    post_events(keys["acme"], [message("m2", status="failed"), message("m3", status="delivered")])
    delete_raw("acme", "message", "m4")
    result = stream.drain()
    assert result is not None
    assert result["items_written"] == len(expected_counters())
    assert counter_items() == expected_counters()
    year = counter_items()[f"acme#Y#{YEAR_2026}"]
    assert {
        name: value for name, value in year.items() if not name.startswith(("hod:", "dow:"))
    } == {
        "msg:sms:total": 4,
        "msg:sms:sent": 3,
        "msg:sms:delivered": 1,
        "msg:sms:failed": 1,
        "credits:used": 3,
    }
