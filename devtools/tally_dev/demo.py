"""`tally serve --demo`: a realistic, deterministic dataset, loaded and counted in seconds.

About four months of traffic ending at the clock (`TALLY_NOW` honoured) for
account `demo`: messages on every channel to Algerian operators and a few
foreign numbers, delivery receipts that arrive later, marketing campaigns,
OTP sessions, chat dialogs, contacts, API usage, credits and a billing
profile. The originals go first, then the updates (receipts, verifications,
campaign completions), as a platform would send them.
"""

from __future__ import annotations

import json
import logging
import os
import random
import shlex
import sys
import time
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from tqdm import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from tally import dimensions, ingest, storage, timeutil
from tally.config import get_settings
from tally.rebuild import rebuild
from tally.stats.usage import SEED_NAMES
from tally_dev import template as tpl

T = TypeVar("T")

log = logging.getLogger("localrt.demo")

ACCOUNT = "demo"
SCOPES = ("stats:read", "billing:read", "events:write", "keys:manage")
SEED = 20260604
DAYS = 120
MESSAGES = 2400
# Items per progress step: 20 BatchWriteItem calls of 25.
_WRITE_GROUP = 500
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


def dataset(now: datetime) -> list[dict[str, Any]]:
    """The demo events in the order a platform sends them: the originals (chronological),
    then their updates (receipts, verifications, campaign completions)."""
    generator = _Generator(now)
    generator.messages(generator.campaigns())
    generator.otps()
    generator.dialogs_and_contacts()
    generator.usage()
    generator.credits_and_billing()
    events: list[dict[str, Any]] = []
    for phase in (generator.originals, generator.updates):
        events += sorted(phase, key=lambda event: (event["occurred_at"], event["id"]))
    return events


def _kind(event: BaseModel) -> str:
    return str(getattr(event, "kind"))  # noqa: B009 - a union of models


def stored_items(events: list[BaseModel]) -> list[dict[str, Any]]:
    """The events-table items the events leave once all are ingested, folded in memory
    with ingest's own `new_item`/`merge` (the same merge rules, no table round-trips)."""
    items: dict[tuple[str, str], dict[str, Any]] = {}
    stamp = timeutil.format_instant(timeutil.now())
    for event in events:
        identity = (_kind(event), str(getattr(event, "id")))  # noqa: B009 - a union of models
        existing = items.get(identity)
        items[identity] = (
            ingest.merge(ACCOUNT, existing, event) if existing else ingest.new_item(ACCOUNT, event)
        )
    # Ingest's first write of an item gives it revision 1; its later conditional writes
    # (an update of a demo event through the API) expect that revision.
    return [{**item, "rev": 1, "updated_at": stamp} for item in items.values()]


def _bar(items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]:
    return tqdm(items, desc=desc, total=total, unit="item", file=sys.stderr, leave=False)


def load_demo() -> str:
    """Load the dataset for account `demo` and count it; the demo key's secret.

    Fast path (instead of ~7,000 events through the ingest handler and the stream):
    the events are validated (their usage names, operators and currencies registered)
    and folded into items in memory, bulk-written with BatchWriteItem while the events
    table has no stream yet (`Runtime.start`), the billing event goes through
    `store_events` (it keeps the billing profile), and the counters are computed once by
    `tally rebuild`'s code. The stream is turned on
    afterwards, so the counters function never sees, nor counts twice, the bulk load.
    """
    from tally.keys import bootstrap_key

    started = time.monotonic()
    secret = bootstrap_key(ACCOUNT, SCOPES, "demo").secret
    events = ingest.validate_events(dataset(timeutil.now()))
    # The per-account registry of usage names, operators and currencies, as ingest keeps it.
    dimensions.register(ACCOUNT, ingest.dimension_uses(events))
    billing = [event for event in events if _kind(event) == "billing"]
    items = stored_items([event for event in events if _kind(event) != "billing"])
    table = get_settings().events_table
    service = os.environ.get("POWERTOOLS_SERVICE_NAME", "tally")
    # Log lines printed while a bar is drawn go above it, never onto its line.
    with logging_redirect_tqdm([logging.getLogger(), logging.getLogger(service)]):
        groups = list(storage.chunked(items, _WRITE_GROUP))
        for group in _bar(groups, desc="demo events", total=len(groups)):
            storage.batch_write(table, group, [])
        ingest.store_events(ACCOUNT, billing)
        counted = rebuild(ACCOUNT, progress=_bar)
    log.info(
        "demo: %d events (%d items) loaded, %d counter items, in %.1f s",
        len(events),
        len(items) + len(billing),
        counted.items_written,
        time.monotonic() - started,
    )
    return secret


def announce(base_url: str, template: tpl.Template, secret: str) -> None:
    """The demo key, `export` lines for the shell, one curl line per route, and the
    dashboard's link (the key in its fragment, never sent to a server)."""
    print(f"\ndemo key (account {ACCOUNT}, scopes {','.join(SCOPES)}):\n  {secret}\n", flush=True)
    print("paste these into your shell, then any curl line below:", flush=True)
    print(f"export API={base_url}", flush=True)
    print(f"export KEY={secret}\n", flush=True)
    for line in curl_lines(template):
        print(line, flush=True)
    print(f"\ndashboard: {base_url}/#key={secret}", flush=True)


# The function serving the dashboard page, its assets and the API docs (public routes).
_PAGE_GROUP = "web"
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


def curl_lines(template: tpl.Template) -> list[str]:
    """One curl command per API route of the template, for a shell with `$API` and `$KEY`."""
    lines = []
    for route in sorted(template.routes, key=lambda r: (r.path, r.method)):
        if route.method == "ANY":
            continue
        if route.handler.group == _PAGE_GROUP:
            continue  # the dashboard page and the docs: the printed link opens them
        path, body = _EXAMPLES.get((route.method, route.path), (route.path, None))
        # -g: `types[]` is a literal, not a curl URL range.
        parts = ["curl", "-sSg", "-X", route.method, '-H "Authorization: Bearer $KEY"']
        if body is not None:
            text = json.dumps(body).replace('"NOW"', f'"{_iso(timeutil.now())}"')
            parts += ["-H", shlex.quote("Content-Type: application/json"), "-d", shlex.quote(text)]
        elif route.method == "POST":
            parts += ["-H", shlex.quote("Content-Type: application/json"), "-d", "'{}'"]
        parts.append(f'"$API{path}"')
        lines.append(" ".join(parts))
    return lines
