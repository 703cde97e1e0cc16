"""GET /v1/stats and /v1/stats/{scope} against a brute-force oracle over the stored raw events.

The oracle below re-derives every number from `stored_events` with its own
bucket arithmetic (hard-coded window starts for the pinned clock), so it does
not share the code under test.
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from tally import auth, contributions, counters, events, storage
from tally.config import get_settings
from tally_dev.lambda_kit import DynamoDBCalls
from tests.support import invoke, load_event, post_events, proxy_event, stored_events

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
CUTOFF = datetime(2026, 6, 10, 12, 35, tzinfo=UTC)  # the current minute counts, later ones not
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
DEFAULT_OPERATORS = ("ooredoo", "mobilis", "djeezy")
SEED_DATA_ORDER = [
    "total_messages",
    "scoped_messages",
    "scoped_increase_percent",
    "success_rate_percent",
    "otp_verification_success_rate_percent",
    "credit_balance",
    "charts",
    "recent_activity",
]
SEED_CHART_ORDER = ["scope", "labels", "messages", "otps", "campaigns", "operators"]


def iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def month_starts(year: int, month: int, count: int) -> list[datetime]:
    starts = []
    for offset in range(count):
        index = year * 12 + month - 1 + offset
        starts.append(datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC))
    return starts


def oracle_buckets(
    scope: str, first: datetime | None
) -> tuple[list[datetime], str, datetime | None]:
    """Bucket starts (the last bucket ends at the next one or at the cutoff), label format, and
    the previous window's start (it ends where the first bucket starts)."""
    if scope == "24h":
        start = datetime(2026, 6, 9, 13, tzinfo=UTC)
        return [start + timedelta(hours=h) for h in range(25)], "hour", start - timedelta(hours=24)
    if scope == "1w":
        start = datetime(2026, 6, 4, tzinfo=UTC)
        return [start + timedelta(days=d) for d in range(8)], "day", start - timedelta(days=7)
    if scope == "1month":
        start = datetime(2026, 5, 12, tzinfo=UTC)
        return [start + timedelta(days=d) for d in range(31)], "day", start - timedelta(days=30)
    if scope == "1year":
        return month_starts(2025, 7, 13), "month", datetime(2024, 7, 1, tzinfo=UTC)
    assert scope == "all"
    if first is None or first >= datetime(2026, 6, 1, tzinfo=UTC):
        return month_starts(2026, 6, 2), "month", None
    count = (2026 - first.year) * 12 + 6 - first.month + 2
    return month_starts(first.year, first.month, count), "month", None


def label(start: datetime, kind: str) -> str:
    if kind == "hour":
        return f"{start.hour:02d}:00"
    if kind == "day":
        return f"{MONTHS[start.month - 1]} {start.day:02d}"
    return f"{MONTHS[start.month - 1]} {start.year}"


def pct(numerator: int, denominator: int) -> float:
    if not denominator:
        return 0.0
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def at(item: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(item["occurred_at"]))


def counted_message(item: dict[str, Any]) -> bool:
    return (
        item["kind"] == "message"
        and item.get("direction", "outbound") == "outbound"
        and not item.get("test", False)
    )


def credits(item: dict[str, Any]) -> int:
    if item["status"] not in ("sent", "delivered"):
        return 0
    if item["channel"] == "sms":
        return 1 if item.get("length") is None else max(1, math.ceil(int(item["length"]) / 480))
    return 2 if item["channel"] == "mms" else 0


def oracle(account: str, scope: str) -> dict[str, Any]:
    items = stored_events(account)
    messages = [item for item in items if counted_message(item)]
    otps = [item for item in items if item["kind"] == "otp"]
    activity = [
        item for item in items if counted_message(item) or item["kind"] in ("otp", "campaign")
    ]
    first = min((at(item) for item in activity), default=None)
    starts, kind, previous_start = oracle_buckets(scope, first)
    edges = [*starts[:-1], min(starts[-1], CUTOFF)]
    bounds = list(itertools.pairwise(edges))
    window = (bounds[0][0], bounds[-1][1])

    def inside(item: dict[str, Any], lo: datetime, hi: datetime) -> bool:
        return lo <= at(item) < hi

    def series(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            {
                "bucket": int(lo.timestamp()),
                "label": label(lo, kind),
                "total": sum(inside(row, lo, hi) for row in rows),
            }
            for lo, hi in bounds
        ]

    scoped = [m for m in messages if inside(m, *window)]
    scoped_otps = [o for o in otps if inside(o, *window)]
    if previous_start is None:
        increase = 0.0
    else:
        before = sum(inside(m, previous_start, window[0]) for m in messages)
        increase = (100.0 if scoped else 0.0) if before == 0 else pct(len(scoped) - before, before)
    operators = Counter(dict.fromkeys(DEFAULT_OPERATORS, 0))
    operators.update(m["operator"] for m in scoped if m.get("operator"))
    recent = sorted(
        (item for item in activity if at(item) < CUTOFF),
        key=lambda item: f"{item['occurred_at']}#{item['kind']}#{item['event_id']}",
        reverse=True,
    )[:10]
    balance = sum(int(i["amount"]) for i in items if i["kind"] == "credit") - sum(
        credits(m) for m in messages
    )
    return {
        "total_messages": len(messages),
        "scoped_messages": len(scoped),
        "scoped_increase_percent": increase,
        "success_rate_percent": pct(
            sum(m["status"] in ("sent", "delivered") for m in scoped), len(scoped)
        ),
        "otp_verification_success_rate_percent": pct(
            sum(o["status"] == "verified" for o in scoped_otps), len(scoped_otps)
        ),
        "credit_balance": balance,
        "charts": {
            "scope": scope,
            "labels": [label(lo, kind) for lo, _ in bounds],
            "messages": series(messages),
            "otps": series(otps),
            "campaigns": series([m for m in messages if m.get("purpose") == "marketing"]),
            "operators": [
                {"operator": name, "total": total}
                for name, total in sorted(operators.items(), key=lambda e: (-e[1], e[0]))
            ],
        },
        "recent_activity": [
            {
                "type": item["kind"],
                "id": item["event_id"],
                "status": item["status"],
                "occurred_at": at(item).strftime("%Y-%m-%dT%H:%M:%S.")
                + f"{at(item).microsecond // 1000:03d}Z",
            }
            for item in recent
        ],
    }


# Instants on and just off every window edge of the pinned clock (current and previous windows).
EDGES = [
    "2026-06-09T13:00:00Z", "2026-06-09T12:59:59Z", "2026-06-08T13:00:00Z", "2026-06-08T12:59:59Z",
    "2026-06-04T00:00:00Z", "2026-06-03T23:59:59Z", "2026-05-28T00:00:00Z", "2026-05-27T23:59:59Z",
    "2026-05-12T00:00:00Z", "2026-05-11T23:59:59Z", "2026-04-12T00:00:00Z", "2026-04-11T23:59:59Z",
    "2025-07-01T00:00:00Z", "2025-06-30T23:59:59Z", "2024-07-01T00:00:00Z", "2024-06-30T23:59:59Z",
    "2026-06-10T12:00:00Z", "2026-06-10T12:34:56Z", "2026-06-10T12:34:59.999Z",
    "2026-06-10T12:35:00Z", "2026-06-11T00:00:00Z",
]  # fmt: skip
PHONES = ["+213550000001", "+213660000002", "+213770000003", "+33612345678", None]


def generate(rng: random.Random, count: int, prefix: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    span = int((NOW - datetime(2024, 5, 1, tzinfo=UTC)).total_seconds())
    for n in range(count):
        moment = (
            EDGES[n % len(EDGES)]
            if n < 3 * len(EDGES)
            else iso(NOW - timedelta(seconds=rng.randrange(span)))
        )
        roll = rng.random()
        event: dict[str, Any] = {"id": f"{prefix}{n}", "occurred_at": moment}
        if roll < 0.65:
            event.update(kind="message", channel=rng.choice(["sms", "mms", "whatsapp", "chat"]))
            event["status"] = rng.choice(["queued", "sent", "delivered", "failed"])
            event["purpose"] = rng.choice(["transactional", "otp", "marketing"])
            phone = rng.choice(PHONES)
            if phone:
                event["to"] = phone
            if rng.random() < 0.1:
                event["operator"] = "orange"
            if rng.random() < 0.5:
                event["length"] = rng.randrange(1, 1500)
            if rng.random() < 0.08:
                event["direction"] = "inbound"
            if rng.random() < 0.08:
                event["test"] = True
        elif roll < 0.85:
            event.update(
                kind="otp", status=rng.choice(["pending", "verified", "failed", "expired"])
            )
        elif roll < 0.92:
            event.update(kind="campaign", name=f"c{n}", status="completed")
        else:
            event.update(kind="credit", amount=rng.randrange(-20, 200), reason="purchase")
        events.append(event)
    return events


def get(key: str, scope: str | None, style: str) -> dict[str, Any]:
    if style == "path":
        event = proxy_event(
            "GET",
            f"/v1/stats/{scope}",
            key=key,
            resource="/v1/stats/{scope}",
            path_parameters={"scope": str(scope)},
        )
    else:
        event = proxy_event(
            "GET", "/v1/stats", key=key, query=None if scope is None else {"scope": scope}
        )
    return invoke("dashboard", event)


def test_every_scope_matches_the_oracle_by_query_and_path(keys, stream):
    # One dataset for every check: each test gets a fresh moto, and streaming is the slow part.
    rng = random.Random(4)
    post_events(keys["acme"], generate(rng, 120, "a"))
    post_events(keys["globex"], generate(rng, 15, "g"))
    stream.drain()
    for scope in ("24h", "1w", "1month", "1year", "all"):
        expected = oracle("acme", scope)
        if scope != "all":
            # The edge events keep both windows populated, so no comparison passes vacuously.
            assert expected["scoped_messages"] > 0
            assert expected["scoped_increase_percent"] not in (0.0, 100.0)
        for style in ("query", "path"):
            response = get(keys["acme_read"], scope, style)
            assert response["statusCode"] == 200, response["body"]
            body = response["json"]
            assert list(body) == ["ok", "data"]
            assert body["ok"] is True
            assert list(body["data"]) == SEED_DATA_ORDER
            assert list(body["data"]["charts"]) == SEED_CHART_ORDER
            assert body["data"] == expected, (scope, style)
    assert len(oracle("acme", "all")["charts"]["labels"]) > 12  # reaches before the 1year window
    assert get(keys["acme"], None, "query")["json"]["data"] == oracle("acme", "1month")
    globex = get(keys["globex"], "all", "query")["json"]["data"]
    assert globex == oracle("globex", "all")
    assert globex["total_messages"] < oracle("acme", "all")["total_messages"]


def test_all_without_events_is_the_current_month(keys):
    data = get(keys["acme_read"], "all", "path")["json"]["data"]
    assert data["charts"]["labels"] == ["Jun 2026"]
    assert data["charts"]["messages"] == [{"bucket": 1780272000, "label": "Jun 2026", "total": 0}]
    assert data["scoped_increase_percent"] == 0.0
    assert data["recent_activity"] == []
    assert [o["operator"] for o in data["charts"]["operators"]] == ["djeezy", "mobilis", "ooredoo"]


def test_unknown_scopes_are_a_400_in_the_dashboard_envelope(keys):
    cases = [(scope, style) for scope in ("7d", "messages", "1W") for style in ("query", "path")]
    cases.append(("", "query"))  # an empty `?scope=` is a value, not an absent parameter
    for scope, style in cases:
        response = get(keys["acme_read"], scope, style)
        assert response["statusCode"] == 400, (scope, style)
        assert response["json"]["ok"] is False
        assert response["json"]["error"]["code"] == "bad_request"
        assert response["json"]["error"]["message"].startswith("scope: must be one of")


def test_path_and_query_scopes_must_agree(keys):
    event = proxy_event(
        "GET",
        "/v1/stats/1w",
        key=keys["acme_read"],
        query={"scope": "24h"},
        resource="/v1/stats/{scope}",
        path_parameters={"scope": "1w"},
    )
    response = invoke("dashboard", event)
    assert response["statusCode"] == 400
    assert "scope" in response["json"]["error"]["message"]


def test_auth_errors_use_the_dashboard_envelope(keys):
    missing = get("tk_not-a-key", "1w", "query")
    assert missing["statusCode"] == 401
    assert missing["json"]["ok"] is False
    assert missing["json"]["error"]["code"] == "unauthorized"
    forbidden = get(keys["acme_write"], "1w", "path")
    assert forbidden["statusCode"] == 403
    assert forbidden["json"]["error"]["code"] == "forbidden"


def test_late_receipts_move_the_send_bucket(keys, stream):
    sent_at = "2026-06-08T10:00:00Z"
    post_events(
        keys["acme"],
        [
            {"id": "late", "kind": "message", "occurred_at": sent_at, "channel": "sms"},
            {"id": "early", "kind": "message", "occurred_at": sent_at, "channel": "sms",
             "status": "sent"},
            {"id": "today", "kind": "message", "occurred_at": "2026-06-10T12:00:00Z",
             "channel": "sms", "status": "queued"},
        ],
    )  # fmt: skip
    stream.drain()

    def read() -> dict[str, dict[str, Any]]:
        return {scope: get(keys["acme"], scope, "query")["json"]["data"] for scope in ("24h", "1w")}

    before = read()
    assert before["1w"]["success_rate_percent"] == 33.33
    receipt_at = "2026-06-10T12:30:00Z"  # in the current hour, but the message was sent Jun 08
    for receipt, rate in (("delivered", 66.67), ("failed", 33.33)):
        message_id = "late" if receipt == "delivered" else "early"
        post_events(
            keys["acme"],
            [{"id": message_id, "kind": "message", "occurred_at": receipt_at, "channel": "sms",
              "status": receipt}],
        )  # fmt: skip
        stream.drain()
        after = read()
        assert after["24h"]["charts"] == before["24h"]["charts"]
        assert after["24h"]["success_rate_percent"] == before["24h"]["success_rate_percent"] == 0
        assert after["1w"]["charts"]["messages"] == before["1w"]["charts"]["messages"]
        assert after["1w"]["success_rate_percent"] == rate
        assert after["1w"] == oracle("acme", "1w")


def test_sample_events_are_served(keys):
    for name in ("dashboard_stats_query.json", "dashboard_stats_path.json"):
        event = load_event(name)
        event["headers"]["Authorization"] = f"Bearer {keys['acme_read']}"
        event["multiValueHeaders"]["Authorization"] = [f"Bearer {keys['acme_read']}"]
        response = invoke("dashboard", event)
        assert response["statusCode"] == 200, response["body"]
        expected_scope = (event["pathParameters"] or event["queryStringParameters"])["scope"]
        assert response["json"]["data"]["charts"]["scope"] == expected_scope


MINUTES = 600  # distinct minutes the bulk events fall in, spread over 25 months


def bulk_counters(count: int) -> None:
    """Counter items as the pipeline leaves them after `count` messages and OTPs.

    The events fall in MINUTES distinct minutes, so they are only 2 * MINUTES
    distinct images: each image's contribution (the pipeline's own code) is
    scaled by how many events share it, then merged per item and written with
    plain puts. Building 100k images one by one, or writing through moto's
    transactions (which copy the whole table each time), would take minutes.
    """
    rng = random.Random(7)
    span = int((NOW - datetime(2024, 5, 1, tzinfo=UTC)).total_seconds()) // 60
    minutes = [iso(NOW - timedelta(minutes=rng.randrange(span))) for _ in range(MINUTES)]
    weights = Counter((n % MINUTES, n % 5 == 0) for n in range(count))
    updates = counters.ItemUpdates()
    for (minute, is_otp), weight in weights.items():
        image: dict[str, Any] = {"account": "acme", "occurred_at": minutes[minute]}
        if is_otp:
            image.update(kind="otp", status="verified")
        else:
            image.update(kind="message", channel="sms", status="delivered", operator="ooredoo")
        updates.add(
            {
                target: {name: value * weight for name, value in deltas.items()}
                for target, deltas in contributions.delta(None, image).items()
            }
        )
    table = get_settings().counters_table
    for key, values, _ in updates.nonzero():
        storage.put_item(table, {"pk": key, **values})


def test_requests_per_call_do_not_grow_with_events(keys):
    # A few raw events give the activity index an old first event and a recent tail.
    post_events(
        keys["acme"],
        [
            {"id": f"r{n}", "kind": "otp", "occurred_at": iso(NOW - timedelta(days=30 * n))}
            for n in range(0, 26)
        ],
    )

    def measure() -> dict[str, list[str]]:
        result = {}
        for scope in ("24h", "1w", "1month", "1year", "all"):
            auth.clear_cache()  # count the key lookup too: the worst case of a cold container
            with DynamoDBCalls(storage.client()) as calls:
                assert get(keys["acme_read"], scope, "query")["statusCode"] == 200
            result[scope] = sorted(calls.operations())
        return result

    bulk_counters(10_000)
    small = measure()
    assert get(keys["acme_read"], "all", "query")["json"]["data"]["total_messages"] == 8_000
    bulk_counters(100_000)
    large = measure()
    assert get(keys["acme_read"], "all", "query")["json"]["data"]["total_messages"] == 80_000
    assert large == small
    for scope, names in large.items():
        # The key (GetItem), the billing profile and the operators registered
        # (BatchGetItem), the counters (BatchGetItem; `all` reads its years first), one
        # Query per events partition key for the recent activity (concurrent) and one
        # BatchGetItem for those items' statuses.
        assert names.count("Query") == len(events.partitions("acme")), (scope, names)
        assert names.count("GetItem") == 1, (scope, names)
        assert names.count("BatchGetItem") <= 4, (scope, names)
