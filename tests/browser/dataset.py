"""A small, deterministic account history for the page's tests, ingested through the API.

Every kind of event the page shows, over the last 45 days and around the most recent
daylight-saving change of Europe/Paris (so a 23- or 25-hour day is in range), plus
usage events in the last hours and a billing profile.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tally.timeutil import format_instant

DST_ZONE = ZoneInfo("Europe/Paris")
CHANNELS = ("sms", "whatsapp", "mms", "chat")
STATUSES = ("delivered", "delivered", "delivered", "sent", "failed", "queued")
OPERATOR_PREFIXES = ("+2135", "+2136", "+2137", "+33")
USAGE = ("message_added", "message_published_ok", "message_published_not_ok", "api_key_added")


def last_dst_change(now: datetime, zone: ZoneInfo = DST_ZONE) -> datetime:
    """Local midnight (as UTC) starting the most recent day of `zone` that is not 24 h long."""
    day = now.astimezone(zone).date()
    for _ in range(400):
        start = datetime(day.year, day.month, day.day, tzinfo=zone)
        following = day + timedelta(days=1)
        end = datetime(following.year, following.month, following.day, tzinfo=zone)
        if (end.astimezone(UTC) - start.astimezone(UTC)) != timedelta(days=1):
            return start.astimezone(UTC)
        day -= timedelta(days=1)
    raise LookupError(f"{zone} had no daylight-saving change in the last 400 days")


def _at(moment: datetime) -> str:
    return format_instant(moment)


def events(now: datetime, seed: int = 15) -> list[dict[str, Any]]:
    """The history's events, oldest first."""
    rng = random.Random(seed)
    start = now - timedelta(days=45)
    dst = last_dst_change(now)
    made: list[dict[str, Any]] = []

    def moment(low: datetime = start, high: datetime = now - timedelta(minutes=5)) -> datetime:
        return low + (high - low) * rng.random()

    campaigns = [f"cmp-{n}" for n in range(4)]
    for n, campaign in enumerate(campaigns):
        made.append(
            {
                "id": campaign,
                "kind": "campaign",
                "occurred_at": _at(now - timedelta(days=20 - 4 * n)),
                "name": f"Campaign {n + 1}",
                "status": "completed" if n < 3 else "sending",
                "audience": 50 + 10 * n,
                **({"completed_at": _at(now - timedelta(days=19 - 4 * n))} if n < 3 else {}),
            }
        )
    for n in range(260):
        # A fifth of the messages land on the three days around the DST change.
        when = moment(dst - timedelta(days=1), dst + timedelta(days=2)) if n % 5 == 0 else moment()
        channel = CHANNELS[n % len(CHANNELS)]
        event: dict[str, Any] = {
            "id": f"msg-{n:04d}",
            "kind": "message",
            "occurred_at": _at(when),
            "channel": channel,
            "status": rng.choice(STATUSES),
        }
        if channel != "chat":
            event["to"] = rng.choice(OPERATOR_PREFIXES) + f"{rng.randrange(10**7, 10**8)}"
            event["price"] = {"amount": "0.0350", "currency": "EUR"}
        else:
            event["dialog_id"] = f"dlg-{n % 20}"
        if channel == "sms" and n % 3 == 0:
            event.update(purpose="marketing", campaign_id=campaigns[(n // 3) % 3])
        made.append(event)
    for n in range(40):
        made.append(
            {
                "id": f"otp-{n:03d}",
                "kind": "otp",
                "occurred_at": _at(moment()),
                "status": ("verified", "verified", "failed", "pending")[n % 4],
            }
        )
    for n in range(20):
        made.append(
            {"id": f"dlg-{n}", "kind": "dialog", "occurred_at": _at(moment()), "type": 1 + n % 4}
        )
    for n in range(15):
        made.append(
            {
                "id": f"contact-{n}",
                "kind": "contact",
                "occurred_at": _at(moment()),
                "textable": n % 5 != 0,
                "opted_in": n % 4 != 0,
            }
        )
    for n in range(30):
        made.append(
            {
                "id": f"use-{n}",
                "kind": "usage",
                "occurred_at": _at(now - timedelta(minutes=5 + 37 * n)),
                "name": USAGE[n % len(USAGE)],
            }
        )
    made.append(
        {
            "id": "credit-1",
            "kind": "credit",
            "occurred_at": _at(start),
            "amount": 5000,
            "reason": "purchase",
        }
    )
    made.append(
        {
            "id": "billing",
            "kind": "billing",
            "occurred_at": _at(start),
            "brand": "tally",
            "billing_status": "active",
            "pricing_model": "full_service",
            "currency": "EUR",
            "subscription": {
                "id": "sub_1",
                "plan_type": "full_service",
                "billing_interval": "monthly",
                "status": "active",
                "paid_through": (now + timedelta(days=10)).date().isoformat(),
                "current_period_end": _at(now + timedelta(days=10)),
                "next_billing_date": (now + timedelta(days=11)).date().isoformat(),
                "provider": "tally",
            },
            "included_credits": 1000,
            "portal_urls": {"customer_portal": None, "subscription_management": None},
            "available_credit_products": [
                {
                    "id": "prod_1",
                    "name": "1,000 Credits",
                    "credits_amount": 1000,
                    "price_cents": 900,
                }
            ],
        }
    )
    made.sort(key=lambda event: (event["occurred_at"], event["id"]))
    return made
