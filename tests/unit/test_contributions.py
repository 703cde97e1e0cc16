"""tally.contributions: what one stored event adds to which counters."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tally import metrics
from tally.contributions import (
    EVENTS,
    USAGE,
    CampaignTarget,
    GaugeTarget,
    TimeTarget,
    contribution,
    delta,
    message_credits,
)
from tally.timeutil import Resolution

AT = "2026-06-10T12:00:42.000000Z"  # a Wednesday, 12:00 UTC
MINUTE = TimeTarget("acme", 1781092800)
# Every counted message is also counted by UTC hour of day and day of week of its send time.
SENT_AT = {"hod:12:t": 1, "dow:3:t": 1}
DELIVERED_AT = {"hod:12:d": 1, "dow:3:d": 1}


def item(kind: str, **fields: Any) -> dict[str, Any]:
    return {"account": "acme", "kind": kind, "event_id": "e1", "occurred_at": AT, **fields}


def sms(status: str = "queued", **fields: Any) -> dict[str, Any]:
    return item("message", channel="sms", status=status, **fields)


def test_message_is_bucketed_at_its_minute_by_state():
    assert contribution(sms()) == {MINUTE: {"msg:sms:total": 1, **SENT_AT}}
    assert contribution(sms("sent")) == {
        MINUTE: {"msg:sms:total": 1, "msg:sms:sent": 1, "credits:used": 1, **SENT_AT}
    }
    assert contribution(sms("delivered"))[MINUTE] == {
        "msg:sms:total": 1,
        "msg:sms:sent": 1,
        "msg:sms:delivered": 1,
        "credits:used": 1,
        **SENT_AT,
        **DELIVERED_AT,
    }
    assert contribution(sms("failed")) == {
        MINUTE: {"msg:sms:total": 1, "msg:sms:failed": 1, **SENT_AT}
    }


def test_send_time_is_the_utc_hour_and_weekday_with_sunday_zero():
    sunday_late = sms(occurred_at="2026-06-07T23:59:59Z")
    counted = next(iter(contribution(sunday_late).values()))
    assert counted["hod:23:t"] == counted["dow:0:t"] == 1


def test_message_extras_operator_marketing_price_and_campaign():
    price = {"amount": Decimal("0.05"), "currency": "EUR"}
    result = contribution(
        sms("sent", operator="ooredoo", purpose="marketing", price=price, campaign_id="c1")
    )
    assert result[MINUTE]["op:ooredoo"] == 1
    assert result[MINUTE][metrics.MARKETING_MESSAGES] == 1
    assert result[MINUTE]["amt:sms:EUR"] == Decimal("0.05")
    assert result[CampaignTarget("acme", "c1")] == {"msg:total": 1, "msg:sent": 1}
    # A price counts only once the message reaches sent.
    assert "amt:sms:EUR" not in contribution(sms("queued", price=price))[MINUTE]


@pytest.mark.parametrize(
    ("channel", "length", "credits"),
    [
        ("sms", None, 1),
        ("sms", 1, 1),
        ("sms", 480, 1),
        ("sms", 481, 2),
        ("sms", 1000, 3),
        ("sms", 0, 0),  # ceil(0 / 480): the rule as written; only an unknown length costs 1
        ("mms", None, 2),
        ("mms", 5000, 2),
        ("whatsapp", 5000, 0),
        ("chat", None, 0),
    ],
)
def test_credits(channel, length, credits):
    assert message_credits(channel, length) == credits
    fields = {} if length is None else {"length": length}
    sent = contribution(item("message", channel=channel, status="sent", **fields))[MINUTE]
    assert sent.get("credits:used", 0) == credits
    for unsent in ("queued", "failed"):
        queued = contribution(item("message", channel=channel, status=unsent, **fields))
        assert "credits:used" not in queued[MINUTE]


@pytest.mark.parametrize("excluded", [{"test": True}, {"direction": "inbound"}])
def test_test_and_inbound_messages_count_nowhere(excluded):
    assert contribution(sms("delivered", campaign_id="c1", **excluded)) == {}


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (item("otp"), {"otp:total": 1, "otp:pending": 1}),
        (item("otp", status="verified"), {"otp:total": 1, "otp:verified": 1}),
        (item("campaign", status="sending"), {"cmp:total": 1, "cmp:sending": 1}),
        (item("dialog", type=3), {"dlg:3": 1}),
    ],
)
def test_time_series_kinds(event, expected):
    assert contribution(event) == {MINUTE: expected}


def test_usage_is_kept_only_at_the_resolutions_of_the_last_day():
    target = TimeTarget("acme", MINUTE.minute, USAGE, USAGE.ladder)
    assert contribution(item("usage", name="message_published_ok")) == {
        target: {"use:message_published_ok": 1}
    }
    assert USAGE.ladder == (Resolution.MINUTE, Resolution.QUARTER, Resolution.HOUR)


def test_credits_are_kept_only_per_year():
    target = TimeTarget("acme", MINUTE.minute, EVENTS, (Resolution.YEAR,))
    assert contribution(item("credit", amount=-20, reason="adjustment")) == {
        target: {"credits:added": -20}
    }


def test_contacts_are_a_gauge():
    gauge = GaugeTarget("acme")
    assert contribution(item("contact", textable=True, opted_in=True)) == {
        gauge: {"contacts:total": 1, "contacts:textable": 1, "contacts:opted_out": 0}
    }
    assert delta(
        item("contact", textable=True, opted_in=True),
        item("contact", textable=False, opted_in=False),
    ) == {gauge: {"contacts:textable": -1, "contacts:opted_out": 1}}


@pytest.mark.parametrize(
    "other",
    [item("billing", currency="EUR"), {"pk": "acme", "sk": "~profile#billing"}, None, {}],
)
def test_items_that_count_nothing(other):
    assert contribution(other) == {}


def test_status_change_moves_the_contribution():
    assert delta(sms("queued"), sms("sent")) == {MINUTE: {"msg:sms:sent": 1, "credits:used": 1}}
    price = {"amount": Decimal("0.02"), "currency": "EUR"}
    assert delta(sms("sent", price=price, length=600), sms("failed", price=price, length=600)) == {
        MINUTE: {
            "msg:sms:sent": -1,
            "msg:sms:failed": 1,
            "credits:used": -2,
            "amt:sms:EUR": Decimal("-0.02"),
        }
    }
    assert delta(sms("sent"), sms("delivered")) == {
        MINUTE: {"msg:sms:delivered": 1, **DELIVERED_AT}
    }
    assert delta(sms("sent"), sms("sent")) == {}
    assert delta(None, sms("sent")) == contribution(sms("sent"))
    assert delta(sms("sent"), None) == {
        MINUTE: {name: -value for name, value in contribution(sms("sent"))[MINUTE].items()}
    }


def test_becoming_a_test_message_takes_everything_back():
    assert delta(sms("sent", campaign_id="c1"), sms("sent", campaign_id="c1", test=True)) == {
        MINUTE: {
            "msg:sms:total": -1,
            "msg:sms:sent": -1,
            "credits:used": -1,
            **dict.fromkeys(SENT_AT, -1),
        },
        CampaignTarget("acme", "c1"): {"msg:total": -1, "msg:sent": -1},
    }


messages = st.builds(
    lambda channel, status, length, test, inbound, marketing, minute, campaign: item(
        "message",
        channel=channel,
        status=status,
        test=test,
        direction="inbound" if inbound else "outbound",
        purpose="marketing" if marketing else "transactional",
        occurred_at=f"2026-06-10T12:{minute:02d}:00Z",
        **({} if length is None else {"length": length}),
        **({"campaign_id": campaign} if campaign else {}),
    ),
    st.sampled_from(("sms", "mms", "whatsapp", "chat")),
    st.sampled_from(("queued", "sent", "delivered", "failed")),
    st.none() | st.integers(0, 2000),
    st.booleans(),
    st.booleans(),
    st.booleans(),
    st.integers(0, 1),
    st.sampled_from((None, "c1", "c2")),
)


@settings(max_examples=200, deadline=None)
@given(old=st.none() | messages, new=st.none() | messages)
def test_delta_is_exactly_new_minus_old(old, new):
    """contribution(old) + delta(old, new) == contribution(new), with no zero entries."""
    total: dict[Any, dict[str, Decimal]] = {}
    for part in (contribution(old), delta(old, new)):
        for target, deltas in part.items():
            for name, value in deltas.items():
                merged = total.setdefault(target, {})
                merged[name] = merged.get(name, Decimal(0)) + value
    nonzero = {t: {n: v for n, v in d.items() if v} for t, d in total.items()}
    assert {t: d for t, d in nonzero.items() if d} == contribution(new)
    assert all(value != 0 for deltas in delta(old, new).values() for value in deltas.values())
