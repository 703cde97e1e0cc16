"""Tenant isolation: every read route of template.yaml, two accounts with different data.

Each account's key must see exactly its own brute-force totals (recomputed from
its raw events), an `admin` key naming an account in `x-account-id` must see
exactly what that account's own key sees, and an `admin` key naming none reads
its own account (`platform`), which has none of the others' data.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tally import storage
from tally.config import get_settings
from tests.support import call_route, message, post_events, read_routes, route_id, stored_events

CHANNELS = ("sms", "mms", "whatsapp", "chat")
STATUSES = ("queued", "sent", "delivered", "failed")
SCALES = {"acme": 1, "globex": 3}  # different sizes, so a leak changes every number


def dataset(account: str, scale: int) -> list[dict[str, Any]]:
    """Messages, campaigns, dialogs, usage and credits of one account, all in the last 24 h."""
    events: list[dict[str, Any]] = []
    for n in range(8 * scale):
        events.append(
            message(
                f"{account}-m{n}",
                f"2026-06-10T{1 + n % 11:02d}:{n % 60:02d}:00Z",
                channel=CHANNELS[n % 4],
                status=STATUSES[(n // 4) % 4],
                campaign_id=f"{account}-c{n % scale}",
            )
        )
    for n in range(scale):
        events.append(
            {
                "id": f"{account}-c{n}",
                "kind": "campaign",
                "occurred_at": "2026-06-10T00:30:00Z",
                "name": f"{account} campaign {n}",
                "status": "completed",
            }
        )
    for n in range(2 * scale):
        events.append(
            {
                "id": f"{account}-d{n}",
                "kind": "dialog",
                "occurred_at": "2026-06-10T02:00:00Z",
                "type": 1 + n % 4,
            }
        )
        events.append(
            {
                "id": f"{account}-u{n}",
                "kind": "usage",
                "occurred_at": "2026-06-10T03:00:00Z",
                "name": "message_published_ok",
            }
        )
    events.append(
        {
            "id": f"{account}-cr",
            "kind": "credit",
            "occurred_at": "2026-06-10T00:00:00Z",
            "amount": 1000 * scale,
            "reason": "purchase",
        }
    )
    return events


class Oracle:
    """An account's numbers recomputed by brute force from its raw events and keys."""

    def __init__(self, account: str) -> None:
        events = stored_events(account)
        self.messages = [
            e
            for e in events
            if e["kind"] == "message"
            and e.get("direction", "outbound") == "outbound"
            and not e.get("test")
        ]
        self.by_kind = Counter(str(e["kind"]) for e in events)
        self.usage = Counter(str(e["name"]) for e in events if e["kind"] == "usage")
        self.campaigns = sorted(str(e["event_id"]) for e in events if e["kind"] == "campaign")
        consumed = sum(
            (math.ceil(int(e.get("length", 0)) / 480) or 1)
            if e["channel"] == "sms"
            else 2
            if e["channel"] == "mms"
            else 0
            for e in self.messages
            if e.get("status") in ("sent", "delivered")
        )
        credits = sum(int(e["amount"]) for e in events if e["kind"] == "credit")
        self.balance = credits - consumed
        self.keys = sorted(
            str(item["key_id"])
            for item in storage.scan(get_settings().keys_table)
            if item["account"] == account and "revoked_at" not in item
        )

    def channel(self, name: str) -> int:
        return sum(1 for e in self.messages if e["channel"] == name)


# What each read route answers, reduced to numbers the oracle computes: (from the
# response, from the oracle). The default ranges (1month, last 30 days, 24h, today)
# all cover the dataset.
Check = tuple[Callable[[Any], Any], Callable[[Oracle], Any]]
CHECKS: dict[str, Check] = {
    "GET /v1/keys": (lambda r: sorted(k["key_id"] for k in r["keys"]), lambda o: o.keys),
    "GET /v1/stats": (
        lambda r: (r["data"]["total_messages"], r["data"]["scoped_messages"]),
        lambda o: (len(o.messages), len(o.messages)),
    ),
    "GET /v1/stats/{scope}": (lambda r: r["data"]["scoped_messages"], lambda o: len(o.messages)),
    "GET /v1/stats/messages": (
        lambda r: {k: v for k, v in r["aggregated_api_usage_events"]["last_24_hours"].items() if v},
        lambda o: dict(o.usage),
    ),
    "GET /admin/stats/messages/sent-total": (lambda r: r["total"], lambda o: o.channel("chat")),
    "GET /admin/stats/messages/sent-per-day": (
        lambda r: sum(r.values()),
        lambda o: o.channel("chat"),
    ),
    "GET /admin/stats/dialogs/created-total": (lambda r: r["total"], lambda o: o.by_kind["dialog"]),
    "GET /admin/stats/dialogs/created-per-day": (
        lambda r: sum(r.values()),
        lambda o: o.by_kind["dialog"],
    ),
    "POST /api/v1/connect-hub/{channel}/stats": (
        lambda r: r[0]["total_requests"],
        lambda o: o.channel("sms"),
    ),
    "GET /api/analytics/overview": (
        lambda r: (r["messages"]["total"], r["campaigns"]["total"]),
        lambda o: (len(o.messages), len(o.campaigns)),
    ),
    "GET /api/analytics/trends": (
        lambda r: sum(day["total"] for day in r),
        lambda o: len(o.messages),
    ),
    "GET /api/analytics/top-campaigns": (
        lambda r: sorted(c["id"] for c in r),
        lambda o: o.campaigns,
    ),
    "GET /api/analytics/best-send-times": (
        lambda r: sum(hour["totalSent"] for hour in r["byHour"]),
        lambda o: len(o.messages),
    ),
    "GET /api/analytics/export": (
        lambda r: len(r.strip().splitlines()) - 1,
        lambda o: len(o.campaigns),
    ),
    "GET /api/billing/status": (lambda r: r["credits"]["available"], lambda o: o.balance),
    "GET /api/credits/balance": (lambda r: r["balance"], lambda o: o.balance),
}
ROUTES = read_routes()


def _body(response: dict[str, Any]) -> Any:
    return response["json"] if "json" in response else response["body"]


@pytest.fixture
def world(keys, stream) -> dict[str, str]:
    for account, scale in SCALES.items():
        post_events(keys[account], dataset(account, scale))
    stream.drain()
    return {"acme": keys["acme"], "globex": keys["globex"], "platform": keys["admin"]}


def test_every_read_route_has_a_brute_force_check():
    assert sorted(CHECKS) == sorted(route_id(route) for route in ROUTES)


def test_each_key_sees_only_its_own_numbers_on_every_read_route(world):
    # One dataset for every route (ingesting it per route would dominate the runtime).
    oracles = {account: Oracle(account) for account in world}
    wrong: dict[str, Any] = {}
    for route in ROUTES:
        name = route_id(route)
        extract, expected = CHECKS[name]
        seen = {}
        for account, key in world.items():
            response = call_route(route, key)
            assert response["statusCode"] == 200, (name, response["body"])
            seen[account] = extract(_body(response))
            if seen[account] != expected(oracles[account]):
                wrong[f"{name} as {account}"] = (seen[account], expected(oracles[account]))
            if account != "platform":
                named = call_route(route, world["platform"], headers={"x-account-id": account})
                if _body(named) != _body(response):
                    wrong[f"{name} as admin naming {account}"] = _body(named)
        if seen["acme"] == seen["globex"]:
            wrong[f"{name}: the dataset does not tell the accounts apart"] = seen["acme"]
    assert wrong == {}
