"""`tally serve --demo`: a realistic, deterministic dataset loaded through the real ingest handler.

About four months of traffic ending at the clock (`TALLY_NOW` honoured) for
account `demo`: messages on every channel to Algerian operators and a few
foreign numbers, delivery receipts that arrive later, marketing campaigns,
OTP sessions, chat dialogs, contacts, API usage, credits and a billing
profile. The originals go first, then the updates (receipts, verifications,
campaign completions), as a platform would send them.
"""

from __future__ import annotations

import logging
import random
import shlex
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from tally import timeutil
from tally.stats.usage import SEED_NAMES

if TYPE_CHECKING:
    from tally_dev.server import Runtime

log = logging.getLogger("localrt.demo")

ACCOUNT = "demo"
SCOPES = ("stats:read", "billing:read", "events:write", "keys:manage")
SEED = 20260604
DAYS = 120
MESSAGES = 2400
BATCH = 500
DIALOGS = 400
# (prefix, weight): the three Algerian operators of the default prefix table, then foreign numbers.
DESTINATIONS = (("+2135", 30), ("+2136", 28), ("+2137", 26), ("+33", 6), ("+216", 5), ("+1", 5))
CHANNELS = (("sms", 50), ("whatsapp", 22), ("mms", 8), ("chat", 20))
PRICES = {"sms": "0.0150", "mms": "0.0600", "whatsapp": "0.0350"}
# Busy office hours, quiet nights (UTC).
HOUR_WEIGHTS = (1, 1, 1, 1, 1, 2, 4, 7, 9, 10, 10, 9, 8, 9, 10, 10, 9, 8, 7, 6, 5, 3, 2, 1)


def _iso(moment: datetime) -> str:
    return timeutil.format_instant(moment)


class _Generator:
    def __init__(self, now: datetime) -> None:
        self.rng = random.Random(SEED)
        self.now = now
        self.start = now - timedelta(days=DAYS)
        self.originals: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []

    def moment(self, start: datetime | None = None, end: datetime | None = None) -> datetime:
        """A time in [start, end) following the daily traffic curve, growing toward now."""
        start = start or self.start
        end = end or self.now
        span_days = max((end - start).total_seconds() / 86400, 1 / 24)
        for _ in range(50):
            # sqrt skews toward the end: traffic grows over the months.
            offset = span_days * self.rng.random() ** 0.7
            day = start + timedelta(days=offset)
            hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
            candidate = day.replace(
                hour=hour, minute=self.rng.randrange(60), second=self.rng.randrange(60)
            )
            if start <= candidate < end:
                return candidate
        return start + (end - start) * self.rng.random()

    def number(self) -> str:
        prefix = self.rng.choices([p for p, _ in DESTINATIONS], [w for _, w in DESTINATIONS])[0]
        digits = 12 - len(prefix) + (1 if prefix.startswith("+213") else 0)
        return prefix + "".join(str(self.rng.randrange(10)) for _ in range(digits))

    def campaigns(self) -> list[tuple[str, datetime]]:
        created = []
        names = (
            "Spring sale",
            "Ramadan offers",
            "New branch",
            "Loyalty points",
            "Flash deal",
            "Welcome series",
        )
        for number in range(24):
            when = self.moment()
            campaign_id = f"cmp-{number:03d}"
            done = when < self.now - timedelta(days=2)
            final = (
                "completed"
                if done and self.rng.random() > 0.1
                else ("failed" if done else "sending")
            )
            self.originals.append(
                {
                    "id": campaign_id,
                    "kind": "campaign",
                    "occurred_at": _iso(when),
                    "name": f"{self.rng.choice(names)} #{number + 1}",
                    "status": "scheduled",
                    "audience": self.rng.randrange(200, 900),
                }
            )
            update: dict[str, Any] = {
                "id": campaign_id,
                "kind": "campaign",
                "occurred_at": _iso(when),
                "name": f"{names[number % len(names)]} #{number + 1}",
                "status": final,
            }
            if final == "completed":
                update["completed_at"] = _iso(when + timedelta(hours=self.rng.randrange(1, 30)))
            self.updates.append(update)
            created.append((campaign_id, when))
        return created

    def messages(self, campaigns: list[tuple[str, datetime]]) -> None:
        rng = self.rng
        for number in range(MESSAGES):
            channel = rng.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0]
            roll = rng.random()
            event: dict[str, Any] = {
                "id": f"msg-{number:06d}",
                "kind": "message",
                "channel": channel,
            }
            if channel != "chat" and roll < 0.22 and campaigns:
                campaign_id, launched = rng.choice(campaigns)
                when = self.moment(launched, min(self.now, launched + timedelta(days=2)))
                event.update(purpose="marketing", campaign_id=campaign_id)
            elif channel in ("sms", "whatsapp") and roll < 0.4:
                when = self.moment()
                event["purpose"] = "otp"
            else:
                when = self.moment()
            event["occurred_at"] = _iso(when)
            event.update(self.channel_fields(channel))
            if rng.random() < 0.01:
                event["test"] = True
            fresh = when > self.now - timedelta(minutes=10)
            event["status"] = "queued" if fresh or rng.random() < 0.03 else "sent"
            self.originals.append(event)
            if event["status"] == "sent":
                outcome = rng.random()
                if outcome < 0.82:
                    self.updates.append({**event, "status": "delivered"})
                elif outcome < 0.9:
                    self.updates.append({**event, "status": "failed"})

    def channel_fields(self, channel: str) -> dict[str, Any]:
        rng = self.rng
        if channel == "chat":
            fields: dict[str, Any] = {"dialog_id": f"dlg-{rng.randrange(DIALOGS):05d}"}
            if rng.random() < 0.35:
                fields["direction"] = "inbound"
            return fields
        fields = {"to": self.number(), "price": {"amount": PRICES[channel], "currency": "EUR"}}
        if channel == "sms":
            fields["length"] = rng.choice((rng.randrange(20, 160), rng.randrange(160, 1200)))
        return fields

    def otps(self) -> None:
        for number in range(500):
            when = self.moment()
            session = {
                "id": f"otp-{number:05d}",
                "kind": "otp",
                "occurred_at": _iso(when),
                "status": "pending",
                "channel": self.rng.choice(("sms", "sms", "whatsapp")),
            }
            self.originals.append(session)
            outcome = self.rng.choices(("verified", "failed", "expired", None), (78, 6, 12, 4))[0]
            if outcome:
                self.updates.append({**session, "status": outcome})

    def dialogs_and_contacts(self) -> None:
        for number in range(DIALOGS):
            self.originals.append(
                {
                    "id": f"dlg-{number:05d}",
                    "kind": "dialog",
                    "occurred_at": _iso(self.moment()),
                    "type": self.rng.choices((1, 2, 3, 4), (50, 25, 15, 10))[0],
                }
            )
        for number in range(300):
            self.originals.append(
                {
                    "id": f"contact-{number:05d}",
                    "kind": "contact",
                    "occurred_at": _iso(self.moment()),
                    "textable": self.rng.random() < 0.92,
                    "opted_in": self.rng.random() < 0.7,
                }
            )

    def usage(self) -> None:
        weights = (2, 1, 1, 3, 2, 1, 3, 2, 1, 30, 26, 3)
        for number in range(900):
            # A third of the usage lands in the last day, so the 24-hour windows are lively.
            start = self.now - timedelta(days=1) if number % 3 == 0 else None
            self.originals.append(
                {
                    "id": f"use-{number:05d}",
                    "kind": "usage",
                    "occurred_at": _iso(self.moment(start)),
                    "name": self.rng.choices(SEED_NAMES, weights)[0],
                }
            )

    def credits_and_billing(self) -> None:
        month = self.start
        number = 0
        while month < self.now:
            self.originals.append(
                {
                    "id": f"credit-{number:03d}",
                    "kind": "credit",
                    "occurred_at": _iso(month),
                    "amount": 10000,
                    "reason": "purchase",
                }
            )
            number += 1
            month += timedelta(days=30)
        for amount, reason in ((2500, "grant"), (-300, "adjustment")):
            self.originals.append(
                {
                    "id": f"credit-{number:03d}",
                    "kind": "credit",
                    "occurred_at": _iso(self.moment()),
                    "amount": amount,
                    "reason": reason,
                }
            )
            number += 1
        period_end = (self.now.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(
            seconds=1
        )
        self.originals.append(
            {
                "id": "billing-profile",
                "kind": "billing",
                "occurred_at": _iso(self.start),
                "brand": "amplifi",
                "billing_status": "active",
                "pricing_model": "full_service",
                "currency": "EUR",
                "subscription": {
                    "id": "sub_demo001",
                    "plan_type": "full_service",
                    "billing_interval": "monthly",
                    "status": "active",
                    "paid_through": period_end.date().isoformat(),
                    "current_period_end": timeutil.format_millis(period_end),
                    "next_billing_date": (period_end + timedelta(seconds=1)).date().isoformat(),
                    "provider": "amplifi",
                },
                "included_credits": 10000,
                "portal_urls": {"customer_portal": None, "subscription_management": None},
                "available_credit_products": [
                    {
                        "id": "prod_10k",
                        "name": "10,000 Credits",
                        "credits_amount": 10000,
                        "price_cents": 4900,
                    },
                    {
                        "id": "prod_50k",
                        "name": "50,000 Credits",
                        "credits_amount": 50000,
                        "price_cents": 19900,
                    },
                ],
            }
        )


def dataset(now: datetime) -> list[list[dict[str, Any]]]:
    """The demo events as ingest batches: originals (chronological), then their updates."""
    generator = _Generator(now)
    generator.messages(generator.campaigns())
    generator.otps()
    generator.dialogs_and_contacts()
    generator.usage()
    generator.credits_and_billing()
    batches: list[list[dict[str, Any]]] = []
    for phase in (generator.originals, generator.updates):
        phase.sort(key=lambda event: (event["occurred_at"], event["id"]))
        batches.extend(phase[offset : offset + BATCH] for offset in range(0, len(phase), BATCH))
    return batches


def load_demo(runtime: Runtime) -> str:
    """Ingest the dataset through the gateway, wait for the counters, print a key and curl lines."""
    from tally.keys import bootstrap_key

    secret = bootstrap_key(ACCOUNT, SCOPES, "demo").secret
    headers = {"Authorization": f"Bearer {secret}"}
    batches = dataset(timeutil.now())
    total = sum(len(batch) for batch in batches)
    with tqdm(total=total, unit="event", desc="demo data") as progress:
        for batch in batches:
            reply = runtime.gateway.invoke("POST", "/v1/events", headers, {"events": batch})
            if reply.status != 200:
                raise RuntimeError(f"demo ingest failed with {reply.status}: {reply.body[:500]!r}")
            progress.update(len(batch))
    log.info("demo: %d events ingested; waiting for the counters stream to catch up", total)
    if not runtime.wait_for_counters(timeout=300):
        log.warning("demo: the counters are still catching up")
    print(f"\ndemo key (account {ACCOUNT}, scopes {','.join(SCOPES)}):\n  {secret}\n", flush=True)
    for line in curl_lines(runtime, secret):
        print(line, flush=True)
    print(f"\ndashboard: {runtime.base_url}/#key={secret}", flush=True)
    return secret


_EXAMPLES: dict[tuple[str, str], tuple[str, Any]] = {
    ("GET", "/v1/stats"): ("/v1/stats?scope=1month", None),
    ("GET", "/v1/stats/{scope}"): ("/v1/stats/1w", None),
    ("GET", "/v1/stats/messages"): ("/v1/stats/messages?pretty=true", None),
    ("POST", "/v1/events"): (
        "/v1/events",
        {
            "events": [
                {
                    "id": "m-curl-1",
                    "kind": "message",
                    "occurred_at": "NOW",
                    "channel": "sms",
                    "status": "sent",
                    "to": "+213550123456",
                }
            ]
        },
    ),
    ("POST", "/v1/keys"): ("/v1/keys", {"scopes": ["stats:read"], "name": "readonly"}),
    ("DELETE", "/v1/keys/{key_id}"): ("/v1/keys/KEY_ID", None),
    ("PATCH", "/v1/keys/{key_id}"): ("/v1/keys/KEY_ID", {"name": "renamed"}),
    ("POST", "/api/v1/connect-hub/{channel}/stats"): (
        "/api/v1/connect-hub/whatsapp/stats",
        {"type": "daily", "timezone": "Africa/Algiers"},
    ),
    ("GET", "/api/analytics/trends"): ("/api/analytics/trends?metric=messages", None),
    ("GET", "/api/analytics/export"): ("/api/analytics/export?type=campaigns", None),
    ("GET", "/admin/stats/dialogs/created-per-day"): (
        "/admin/stats/dialogs/created-per-day?types[]=1&types[]=2",
        None,
    ),
}


def curl_lines(runtime: Runtime, secret: str) -> list[str]:
    """One ready-to-paste curl command per route of the template."""
    import json

    lines = []
    for route in sorted(runtime.template.routes, key=lambda r: (r.path, r.method)):
        if route.method == "ANY":
            continue
        path, body = _EXAMPLES.get((route.method, route.path), (route.path, None))
        parts = ["curl", "-sS", "-X", route.method, "-H", f"Authorization: Bearer {secret}"]
        if body is not None:
            text = json.dumps(body).replace('"NOW"', f'"{_iso(timeutil.now())}"')
            parts += ["-H", "Content-Type: application/json", "-d", text]
        elif route.method == "POST":
            parts += ["-H", "Content-Type: application/json", "-d", "{}"]
        parts.append(f"{runtime.base_url}{path}")
        lines.append(shlex.join(parts))
    return lines
