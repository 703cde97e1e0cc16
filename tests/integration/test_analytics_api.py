"""The analytics API against a brute-force oracle over the raw stored events."""

from __future__ import annotations

import csv
import io
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from typing import Any

import pytest

from tests.support import invoke, load_event, post_events, proxy_event, stored_events

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
CHANNELS = ("sms", "mms", "whatsapp", "chat")
STATUSES = ("completed", "completed", "sending", "completed", "scheduled", "failed", "draft")
TRICKY_NAMES = [
    'Spring, "big" sale',
    '=HYPERLINK("http://evil")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A2)",
    "line\nbreak",
    "Plain",
]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def dataset(seed: int = 7) -> list[dict[str, Any]]:
    """Campaigns, messages (some test, inbound, queued), contacts over the last ~100 days."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    campaign_ids = []
    for number in range(12):
        created = NOW - timedelta(days=rng.uniform(0, 45), seconds=rng.randint(0, 59))
        campaign: dict[str, Any] = {
            "id": f"cmp-{number}",
            "kind": "campaign",
            "occurred_at": iso(created),
            "name": TRICKY_NAMES[number % len(TRICKY_NAMES)] + f" #{number}",
            "status": STATUSES[number % len(STATUSES)],
        }
        if number % 3 == 0:
            campaign["audience"] = rng.randint(10, 5000)
        if campaign["status"] == "completed" and number % 2:
            campaign["completed_at"] = iso(created + timedelta(hours=3))
        events.append(campaign)
        campaign_ids.append(campaign["id"])
    # Messages share a few dozen send instants: fewer counter items keep moto fast.
    instants = [NOW - timedelta(seconds=rng.randint(0, 100 * 86400)) for _ in range(36)]
    for number in range(140):
        sent_at = rng.choice(instants)
        message: dict[str, Any] = {
            "id": f"m-{number}",
            "kind": "message",
            "occurred_at": iso(sent_at),
            "channel": rng.choice(CHANNELS),
            "status": rng.choice(["queued", "sent", "delivered", "delivered", "failed"]),
        }
        if rng.random() < 0.5:
            message["campaign_id"] = rng.choice(campaign_ids)
        if rng.random() < 0.08:
            message["test"] = True
        if rng.random() < 0.08:
            message["direction"] = "inbound"
        events.append(message)
    for number in range(8):
        events.append(
            {
                "id": f"c-{number}",
                "kind": "contact",
                "occurred_at": iso(NOW - timedelta(days=number)),
                "textable": rng.random() < 0.7,
                "opted_in": rng.random() < 0.8,
            }
        )
    return events


@pytest.fixture
def seeded(keys, stream) -> list[dict[str, Any]]:
    post_events(keys["acme"], dataset())
    # Delivery receipts and failures arriving later move messages between states.
    post_events(
        keys["acme"],
        [
            {
                "id": f"m-{n}",
                "kind": "message",
                "occurred_at": iso(NOW),
                "channel": "sms",
                "status": s,
            }
            for n, s in ((1, "delivered"), (2, "failed"), (3, "delivered"), (4, "failed"))
        ],
    )
    # Another account's data must never show up.
    post_events(keys["globex"], dataset(seed=99)[:30])
    stream.drain()
    return stored_events("acme")


def get(key: str, route: str, **query: str) -> dict[str, Any]:
    return invoke("analytics", proxy_event("GET", f"/api/analytics/{route}", key=key, query=query))


def test_every_endpoint_matches_the_oracle_on_one_dataset(keys, seeded):
    """One seeded dataset (moto makes seeding the slow part) checked by every endpoint."""
    overview_and_trends_match_oracle(keys, seeded)
    top_campaigns_and_export_match_oracle(keys, seeded)
    best_send_times_match_oracle(keys, seeded)
    auth_scopes_and_account_isolation(keys)


# -- the oracle: plain Python over the raw items ------------------------------------------


def minute(text: str) -> int:
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    value = int(moment.timestamp())
    return value - value % 60


def window(start: datetime, end: datetime) -> tuple[int, int]:
    """Ranges are read in whole minutes: start floored, end ceiled."""
    low = int(start.timestamp()) // 60 * 60
    high = -(-int(end.timestamp() * 1e6) // 60_000_000) * 60
    return low, high


def counted(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        item
        for item in items
        if item["kind"] == "message"
        and item.get("direction", "outbound") == "outbound"
        and not item.get("test", False)
    ]


def states(messages: list[dict[str, Any]]) -> dict[str, int]:
    status = Counter(str(item["status"]) for item in messages)
    return {
        "total": len(messages),
        "sent": status["sent"] + status["delivered"],
        "delivered": status["delivered"],
        "failed": status["failed"],
    }


def rate(numerator: int, denominator: int) -> float:
    return round(numerator * 100 / denominator + 1e-9, 2) if denominator else 0.0


def in_window(items: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    low, high = window(start, end)
    return [item for item in items if low <= minute(item["occurred_at"]) < high]


def campaigns_in(
    items: list[dict[str, Any]], start: datetime, end: datetime
) -> list[dict[str, Any]]:
    return in_window([item for item in items if item["kind"] == "campaign"], start, end)


# -- overview ------------------------------------------------------------------------------


def overview_and_trends_match_oracle(keys: dict[str, str], seeded: list[dict[str, Any]]) -> None:
    response = get(keys["acme"], "overview")
    assert response["statusCode"] == 200, response
    body = response["json"]
    start = NOW - timedelta(days=30)
    assert body["dateRange"] == {
        "start": "2026-05-11T12:34:56.000Z",
        "end": "2026-06-10T12:34:56.000Z",
    }
    assert list(body) == ["dateRange", "campaigns", "messages", "contacts", "deliveryRate"]
    messages = states(in_window(counted(seeded), start, NOW))
    assert body["messages"] == messages
    assert body["deliveryRate"] == rate(messages["delivered"], messages["total"])
    created = Counter(str(c["status"]) for c in campaigns_in(seeded, start, NOW))
    assert body["campaigns"] == {
        "total": sum(created.values()),
        "completed": created["completed"],
        "sending": created["sending"],
        "scheduled": created["scheduled"],
        "failed": created["failed"],
    }
    contacts = [item for item in seeded if item["kind"] == "contact"]
    assert body["contacts"] == {
        "total": len(contacts),
        "textable": sum(1 for c in contacts if c["textable"]),
        "optedOut": sum(1 for c in contacts if not c["opted_in"]),
    }
    assert messages["total"] > 25
    assert body["campaigns"]["total"] > 5

    # Date-only and date-time bounds.
    response = get(keys["acme"], "overview", startDate="2026-04-01", endDate="2026-05-31")
    body = response["json"]
    assert body["dateRange"] == {
        "start": "2026-04-01T00:00:00.000Z",
        "end": "2026-06-01T00:00:00.000Z",
    }
    start, end = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    assert body["messages"] == states(in_window(counted(seeded), start, end))

    response = get(
        keys["acme"],
        "overview",
        startDate="2026-05-20T10:15:30+02:00",
        endDate="2026-06-02T07:00:00.250Z",
    )
    body = response["json"]
    assert body["dateRange"] == {
        "start": "2026-05-20T08:15:30.000Z",
        "end": "2026-06-02T07:00:00.250Z",
    }
    start = datetime(2026, 5, 20, 8, 15, 30, tzinfo=UTC)
    end = datetime(2026, 6, 2, 7, 0, 0, 250000, tzinfo=UTC)
    assert body["messages"] == states(in_window(counted(seeded), start, end))

    # Trends: one entry per UTC day, zero-filled.
    start, end = datetime(2026, 4, 20, tzinfo=UTC), datetime(2026, 6, 11, tzinfo=UTC)
    response = get(keys["acme"], "trends", startDate="2026-04-20", endDate="2026-06-10")
    assert response["statusCode"] == 200, response
    days = response["json"]
    assert len(days) == 52
    assert [day["date"] for day in days][:2] == ["2026-04-20", "2026-04-21"]
    assert days[-1]["date"] == "2026-06-10"
    messages = counted(seeded)
    for day in days:
        day_start = datetime.fromisoformat(day["date"]).replace(tzinfo=UTC)
        expected = states(in_window(messages, day_start, day_start + timedelta(days=1)))
        assert day == {"date": day["date"], **expected}
    assert any(day["total"] == 0 for day in days)  # zero-filled, not skipped

    campaign_days = get(
        keys["acme"], "trends", metric="campaigns", startDate="2026-04-20", endDate="2026-06-10"
    )["json"]
    assert len(campaign_days) == 52
    for day in campaign_days:
        day_start = datetime.fromisoformat(day["date"]).replace(tzinfo=UTC)
        created = Counter(
            str(c["status"]) for c in campaigns_in(seeded, day_start, day_start + timedelta(days=1))
        )
        assert day == {
            "date": day["date"],
            "total": sum(created.values()),
            "completed": created["completed"],
            "sending": created["sending"],
            "failed": created["failed"],
        }
    assert sum(day["total"] for day in campaign_days) == len(campaigns_in(seeded, start, end))

    # The default range: 30 days ending now, agreeing with the overview.
    days = get(keys["acme"], "trends")["json"]
    assert len(days) == 31  # 30 days ending now: the partial first and last UTC days included
    assert days[0]["date"] == "2026-05-11"
    assert days[-1]["date"] == "2026-06-10"
    overview = get(keys["acme"], "overview")["json"]["messages"]
    for state in ("total", "sent", "delivered", "failed"):
        assert sum(day[state] for day in days) == overview[state]


# -- top campaigns ---------------------------------------------------------------------------


def oracle_top(items: list[dict[str, Any]], start: datetime, end: datetime) -> list[dict[str, Any]]:
    messages = counted(items)
    rows = []
    for campaign in campaigns_in(items, start, end):
        if campaign["status"] != "completed":
            continue
        own = states([m for m in messages if m.get("campaign_id") == campaign["event_id"]])
        created = datetime.fromisoformat(str(campaign["occurred_at"]).replace("Z", "+00:00"))
        rows.append(
            (
                -(Fraction(own["delivered"], own["total"]) if own["total"] else Fraction(0)),
                -own["delivered"],
                -created.timestamp(),
                campaign["event_id"],
                {
                    "id": campaign["event_id"],
                    "name": campaign["name"],
                    "createdAt": created.strftime("%Y-%m-%dT%H:%M:%S.")
                    + f"{created.microsecond // 1000:03d}Z",
                    "totalCount": own["total"],
                    "sentCount": own["sent"],
                    "deliveredCount": own["delivered"],
                    "failedCount": own["failed"],
                    "deliveryRate": rate(own["delivered"], own["total"]),
                },
            )
        )
    return [row[-1] for row in sorted(rows, key=lambda row: row[:4])]


def top_campaigns_and_export_match_oracle(
    keys: dict[str, str], seeded: list[dict[str, Any]]
) -> None:
    start = NOW - timedelta(days=60)
    response = get(keys["acme"], "top-campaigns", startDate=iso(start), limit="100")
    assert response["statusCode"] == 200, response
    expected = oracle_top(seeded, start, NOW)
    assert len(expected) >= 3
    assert response["json"] == expected
    assert list(response["json"][0]) == [
        "id", "name", "createdAt", "totalCount", "sentCount", "deliveredCount", "failedCount", "deliveryRate",
    ]  # fmt: skip
    assert (
        get(keys["acme"], "top-campaigns", startDate=iso(start), limit="2")["json"] == expected[:2]
    )
    default = get(keys["acme"], "top-campaigns")["json"]
    assert default == oracle_top(seeded, NOW - timedelta(days=30), NOW)[:10]

    export_matches_oracle(keys, seeded)


def test_top_campaigns_ties_broken_by_delivered_count(keys, stream):
    at = iso(NOW - timedelta(days=1))
    events: list[dict[str, Any]] = [
        {"id": name, "kind": "campaign", "occurred_at": at, "name": name, "status": "completed"}
        for name in ("small", "large", "empty")
    ]
    for campaign, count in (("small", 2), ("large", 4)):
        events += [
            {"id": f"{campaign}-{n}", "kind": "message", "occurred_at": at, "channel": "sms",
             "status": "delivered" if n % 2 else "failed", "campaign_id": campaign}
            for n in range(count)
        ]  # fmt: skip
    post_events(keys["acme"], events)
    stream.drain()
    ranked = get(keys["acme"], "top-campaigns")["json"]
    assert [(row["id"], row["deliveryRate"], row["deliveredCount"]) for row in ranked] == [
        ("large", 50.0, 2),
        ("small", 50.0, 1),
        ("empty", 0.0, 0),
    ]


# -- best send times -------------------------------------------------------------------------


def best_send_times_match_oracle(keys: dict[str, str], seeded: list[dict[str, Any]]) -> None:
    response = get(keys["acme"], "best-send-times")
    assert response["statusCode"] == 200, response
    body = response["json"]
    assert list(body) == ["byHour", "byDayOfWeek"]
    messages = in_window(counted(seeded), NOW - timedelta(days=90), NOW)
    by_hour: dict[int, list[dict[str, Any]]] = {}
    by_day: dict[int, list[dict[str, Any]]] = {}
    for message in messages:
        sent = datetime.fromtimestamp(minute(message["occurred_at"]), UTC)
        by_hour.setdefault(sent.hour, []).append(message)
        by_day.setdefault((sent.weekday() + 1) % 7, []).append(message)  # Monday=0 -> Sunday=0

    def entries(key: str, groups: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        result = []
        for slot in sorted(groups):
            numbers = states(groups[slot])
            result.append(
                {key: slot, "totalSent": numbers["total"], "delivered": numbers["delivered"],
                 "deliveryRate": rate(numbers["delivered"], numbers["total"])}
            )  # fmt: skip
        return result

    assert body["byHour"] == entries("hour", by_hour)
    assert body["byDayOfWeek"] == entries("dayOfWeek", by_day)
    assert len(body["byDayOfWeek"]) == 7
    hourly_total = sum(entry["totalSent"] for entry in body["byHour"])
    assert hourly_total == sum(entry["totalSent"] for entry in body["byDayOfWeek"]) == len(messages)


def test_best_send_times_only_hours_with_traffic(keys, stream):
    # 2026-06-07 is a Sunday; 2026-06-09 a Tuesday.
    post_events(
        keys["acme"],
        [
            {"id": "a", "kind": "message", "occurred_at": "2026-06-07T09:59:59Z", "channel": "sms", "status": "delivered"},
            {"id": "b", "kind": "message", "occurred_at": "2026-06-09T09:00:00Z", "channel": "mms", "status": "failed"},
            {"id": "c", "kind": "message", "occurred_at": "2026-06-09T23:30:00Z", "channel": "sms", "status": "delivered"},
            {"id": "t", "kind": "message", "occurred_at": "2026-06-09T05:00:00Z", "channel": "sms", "test": True},
        ],
    )  # fmt: skip
    stream.drain()
    body = get(keys["acme"], "best-send-times", startDate="2026-06-01")["json"]
    assert body == {
        "byHour": [
            {"hour": 9, "totalSent": 2, "delivered": 1, "deliveryRate": 50.0},
            {"hour": 23, "totalSent": 1, "delivered": 1, "deliveryRate": 100.0},
        ],
        "byDayOfWeek": [
            {"dayOfWeek": 0, "totalSent": 1, "delivered": 1, "deliveryRate": 100.0},
            {"dayOfWeek": 2, "totalSent": 2, "delivered": 1, "deliveryRate": 50.0},
        ],
    }


# -- export ------------------------------------------------------------------------------------


def export_matches_oracle(keys: dict[str, str], seeded: list[dict[str, Any]]) -> None:
    start = NOW - timedelta(days=60)
    response = get(keys["acme"], "export", type="campaigns", startDate=iso(start))
    assert response["statusCode"] == 200, response
    assert response["headers"]["content-type"].startswith("text/csv")
    assert response["headers"]["content-disposition"] == (
        'attachment; filename="campaigns-2026-04-11-to-2026-06-10.csv"'
    )
    assert response["body"].endswith("\r\n")
    rows = list(csv.reader(io.StringIO(response["body"], newline="")))
    assert rows[0] == [
        "Campaign Name", "Status", "Total Recipients", "Sent", "Delivered", "Failed", "Created At", "Completed At",
    ]  # fmt: skip
    messages = counted(seeded)
    expected = []
    for campaign in sorted(
        campaigns_in(seeded, start, NOW), key=lambda c: (str(c["occurred_at"]), str(c["event_id"]))
    ):
        own = states([m for m in messages if m.get("campaign_id") == campaign["event_id"]])
        name = str(campaign["name"])
        created = datetime.fromisoformat(str(campaign["occurred_at"]).replace("Z", "+00:00"))
        completed = campaign.get("completed_at")
        expected.append(
            [
                "'" + name if name[0] in "=+-@" else name,
                str(campaign["status"]),
                str(campaign["audience"] if "audience" in campaign else own["total"]),
                str(own["sent"]),
                str(own["delivered"]),
                str(own["failed"]),
                created.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                str(completed)[:19] + ".000Z" if completed else "",
            ]
        )
    assert rows[1:] == expected
    assert len(expected) == 12
    names = [row[0] for row in rows[1:]]
    assert any(name.startswith('Spring, "big" sale') for name in names)  # commas and quotes survive
    assert any(name.startswith("line\nbreak") for name in names)
    assert not any(name[0] in "=+-@" for name in names)  # every formula cell neutralised

    # `type` defaults to campaigns; a date-only end names its own day in the filename.
    response = get(keys["acme"], "export", startDate="2026-05-01", endDate="2026-05-31")
    assert response["statusCode"] == 200
    assert response["headers"]["content-disposition"].endswith(
        'filename="campaigns-2026-05-01-to-2026-05-31.csv"'
    )
    rows = list(csv.reader(io.StringIO(response["body"], newline="")))
    start, end = datetime(2026, 5, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    assert len(rows) - 1 == len(campaigns_in(seeded, start, end))


# -- errors, auth, sample events ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("route", "query", "field"),
    [
        ("overview", {"startDate": "yesterday"}, "startDate"),
        ("overview", {"endDate": "2026-13-01"}, "endDate"),
        ("overview", {"startDate": "2026-06-05", "endDate": "2026-06-01"}, "endDate"),
        ("overview", {"startDate": "2026-07-01"}, "startDate"),
        ("trends", {"metric": "contacts"}, "metric"),
        ("trends", {"startDate": "2000-01-01"}, "startDate"),
        ("top-campaigns", {"limit": "101"}, "limit"),
        ("top-campaigns", {"limit": "0"}, "limit"),
        ("top-campaigns", {"limit": "ten"}, "limit"),
        ("best-send-times", {"startDate": "2024-01-01"}, "startDate"),
        ("export", {"type": "messages"}, "type"),
        ("export", {"endDate": "9999-12-31"}, "endDate"),
    ],
)
def test_bad_parameters_are_400_problems_naming_the_field(keys, route, query, field):
    response = get(keys["acme"], route, **query)
    assert response["statusCode"] == 400, response
    assert response["headers"]["content-type"] == "application/problem+json"
    problem = response["json"]
    assert problem["status"] == 400
    assert problem["title"] == "Bad Request"
    assert [error["field"] for error in problem["errors"]] == [field]
    assert problem["errors"][0]["reason"]


def auth_scopes_and_account_isolation(keys: dict[str, str]) -> None:
    assert get("tk_nope", "overview")["statusCode"] == 401
    assert get("tk_nope", "top-campaigns", limit="1000")["statusCode"] == 401  # the key first
    assert get(keys["acme_write"], "overview")["statusCode"] == 403
    assert get(keys["acme_read"], "overview")["statusCode"] == 200
    globex = get(keys["globex"], "overview")["json"]["messages"]
    expected = states(in_window(counted(stored_events("globex")), NOW - timedelta(days=30), NOW))
    assert globex == expected
    assert globex != get(keys["acme"], "overview")["json"]["messages"]


@pytest.mark.parametrize(
    "name",
    [
        "analytics_overview.json",
        "analytics_trends.json",
        "analytics_top_campaigns.json",
        "analytics_best_send_times.json",
        "analytics_export.json",
    ],
)
def test_sample_events_are_served(keys, name):
    event = load_event(name)
    event["headers"]["Authorization"] = f"Bearer {keys['acme']}"
    response = invoke("analytics", event)
    assert response["statusCode"] == 200, response
