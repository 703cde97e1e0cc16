"""POST /api/v1/connect-hub/{channel}/stats against a brute-force oracle in five timezones.

The oracle never looks at counters: it takes the raw stored events, puts each
in the minute it occurred in, groups with zoneinfo (local date, ISO week,
month, year, or the instant the local hour began) and sums.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import World
from tests.support import batch_get_keys, invoke, load_event, minute_of, post_events, proxy_event

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
FIRST = datetime(2025, 10, 1, tzinfo=UTC)
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Kolkata", "Asia/Kathmandu")
CHANNELS = ("whatsapp", "sms", "mms", "chat")
# Instants where grouping goes wrong first: DST changes (EU, US), :30/:45 local midnights,
# UTC month ends, and the current minute.
HOT_SPOTS = (
    datetime(2025, 10, 26, 1, tzinfo=UTC),
    datetime(2025, 11, 2, 6, tzinfo=UTC),
    datetime(2026, 3, 8, 7, tzinfo=UTC),
    datetime(2026, 3, 29, 1, tzinfo=UTC),
    datetime(2026, 3, 31, 18, 30, tzinfo=UTC),
    datetime(2026, 4, 30, 18, 15, tzinfo=UTC),
    datetime(2026, 1, 1, tzinfo=UTC),
    datetime(2026, 6, 9, 18, 30, tzinfo=UTC),
    NOW,
)
STATUSES = ("queued", "sent", "delivered", "failed")
RESOURCE = "/api/v1/connect-hub/{channel}/stats"


def generate_messages(rng: random.Random, count: int) -> list[dict[str, Any]]:
    """Messages of every channel, status and price, many near the hot spots."""
    span = int((NOW - FIRST).total_seconds())
    events = []
    for number in range(count):
        if rng.random() < 0.5:
            moment = FIRST + timedelta(seconds=rng.randrange(span))
        else:
            moment = rng.choice(HOT_SPOTS) + timedelta(seconds=rng.randint(-3 * 3600, 3 * 3600))
        moment = min(moment, NOW + timedelta(minutes=3))  # a few just after now: never counted
        event: dict[str, Any] = {
            "id": f"m{number}",
            "kind": "message",
            "occurred_at": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "channel": rng.choice(CHANNELS),
            "status": rng.choice(STATUSES),
        }
        if rng.random() < 0.8:
            currency = "EUR" if rng.random() < 0.9 else "USD"
            event["price"] = {
                "amount": f"{rng.randint(1, 99999) / 10000:.4f}",
                "currency": currency,
            }
        if rng.random() < 0.05:
            event["test"] = True
        if rng.random() < 0.05:
            event["direction"] = "inbound"
        events.append(event)
    return events


def counted(item: dict[str, Any], channel: str) -> bool:
    return (
        item["kind"] == "message"
        and item["channel"] == channel
        and item.get("direction", "outbound") == "outbound"
        and not item.get("test", False)
    )


def oracle_entry(
    items: list[dict[str, Any]], channel: str, currency: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """The seed's four numbers for `[start, end)`, summed from raw events."""
    inside = [i for i in items if counted(i, channel) and start <= minute_of(i) < end]
    sent = [i for i in inside if i.get("status") in ("sent", "delivered")]
    amount = sum(
        (
            Decimal(str(i["price"]["amount"]))
            for i in sent
            if i.get("price") and i["price"]["currency"] == currency
        ),
        Decimal(0),
    )
    return {
        "total_requests": len(inside),
        "total_transactions": len(sent),
        "total_amount": float(amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)),
        "currency": currency,
    }


def local_key(unit: str, zone: ZoneInfo) -> Callable[[datetime], Any]:
    """Which local calendar unit an instant belongs to, computed with zoneinfo only."""

    def key(moment: datetime) -> Any:
        local = moment.astimezone(zone)
        day = local.date()
        if unit == "hourly":
            return moment - timedelta(minutes=local.minute, seconds=local.second)
        if unit == "daily":
            return day
        if unit == "weekly":
            return day - timedelta(days=day.weekday())
        if unit == "monthly":
            return day.year, day.month
        return day.year

    return key


def request(key: str, channel: str, body: Any, headers: dict[str, str] | None = None) -> Any:
    path = f"/api/v1/connect-hub/{channel}/stats"
    all_headers = {"x-api-key": key, **(headers or {})}
    event = proxy_event(
        "POST",
        path,
        body=body,
        headers=all_headers,
        resource=RESOURCE,
        path_parameters={"channel": channel},
    )
    return invoke("channel_stats", event)


def check_series(
    *,
    entries: list[dict[str, Any]],
    items: list[dict[str, Any]],
    channel: str,
    unit: str,
    zone: ZoneInfo,
    start: datetime,
    end: datetime,
) -> None:
    """Entries tile [start, end) (minute-resolved), one per local unit, with the raw sums."""
    key = local_key(unit, zone)
    bounds = [
        (datetime.fromisoformat(e["start"]), datetime.fromisoformat(e["end"])) for e in entries
    ]
    floor = start.replace(second=0, microsecond=0)
    ceil = floor_end = end.replace(second=0, microsecond=0)
    if floor_end != end:
        ceil += timedelta(minutes=1)
    assert bounds[0][0] == floor
    assert bounds[-1][1] == ceil
    for (_, left_end), (right_start, _) in itertools.pairwise(bounds):
        assert left_end == right_start
        # An interior boundary is exactly a change of local unit.
        assert key(left_end - timedelta(seconds=1)) != key(left_end)
    assert len({key(s) for s, _ in bounds}) == len(entries)
    for entry, (s, e) in zip(entries, bounds, strict=True):
        assert key(s) == key(e - timedelta(seconds=1)), (s, e)
        assert list(entry)[:4] == [
            "total_requests",
            "total_transactions",
            "total_amount",
            "currency",
        ]
        numbers = {name: entry[name] for name in list(entry)[:4]}
        assert numbers == oracle_entry(items, channel, entry["currency"], s, e), (unit, zone, s, e)


@pytest.fixture(scope="module")
def world(seeded_world: Callable[..., AbstractContextManager[World]]) -> Iterator[World]:
    with seeded_world(generate_messages(random.Random(20260610), 180)) as seeded:
        yield seeded


@pytest.fixture(scope="module")
def keys(world: World) -> dict[str, str]:
    return world.keys


@pytest.fixture(scope="module")
def dataset(world: World) -> list[dict[str, Any]]:
    return world.items


SERIES_CASES = [
    # (type, local start, local end): DST days in Paris and New York, both directions.
    ("hourly", "2026-03-28T18:00:00", "2026-03-30T03:00:00"),
    ("hourly", "2025-11-01T20:00:00", "2025-11-02T05:00:00"),
    ("hourly", "2026-06-09T20:30:00", None),
    ("daily", "2025-10-20T00:00:00", "2025-11-09T00:00:00"),
    ("daily", "2026-03-01T00:00:00", "2026-04-05T00:00:00"),
    ("daily", None, None),
    ("weekly", "2025-10-01T00:00:00", None),
    ("weekly", None, "2026-04-01T07:45:00"),
    ("monthly", "2025-09-15T00:00:00", "2026-06-10T20:00:00"),
    ("monthly", None, None),
    ("yearly", "2025-01-01T00:00:00", None),
    ("yearly", None, None),
]


def test_every_series_type_matches_the_oracle_in_every_zone(keys, dataset):
    default_spans = {
        "hourly": timedelta(hours=24),
        "daily": None,
        "weekly": None,
        "monthly": None,
        "yearly": None,
    }
    checked = 0
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        for type_, local_start, local_end in SERIES_CASES:
            channel = CHANNELS[checked % len(CHANNELS)]
            body: dict[str, Any] = {"type": type_, "timezone": zone_name}
            if local_start:
                body["start_time"] = local_start  # wall-clock time in `timezone`
            if local_end:
                body["end_time"] = local_end
            response = request(keys["acme"], channel, body)
            assert response["statusCode"] == 200, response["body"]
            end = datetime.fromisoformat(local_end).replace(tzinfo=zone) if local_end else NOW
            if local_start:
                start = datetime.fromisoformat(local_start).replace(tzinfo=zone)
            elif default_spans[type_]:
                start = end - default_spans[type_]
            else:
                # Defaults go back in local calendar terms; the oracle only checks the tiling.
                start = datetime.fromisoformat(response["json"][0]["start"])
            check_series(
                entries=response["json"],
                items=dataset,
                channel=channel,
                unit=type_,
                zone=zone,
                start=start,
                end=end,
            )
            checked += 1
    assert checked == len(ZONES) * len(SERIES_CASES)


def test_dst_days_have_23_and_25_hours(keys, dataset):
    lengths = {}
    for zone_name, start, end in (
        ("Europe/Paris", "2026-03-28", "2026-03-31"),
        ("America/New_York", "2025-11-01", "2025-11-04"),
    ):
        body = {"type": "daily", "timezone": zone_name, "start_time": start, "end_time": end}
        entries = request(keys["acme"], "sms", body)["json"]
        lengths[zone_name] = [
            (datetime.fromisoformat(e["end"]) - datetime.fromisoformat(e["start"]))
            / timedelta(hours=1)
            for e in entries
        ]
    assert lengths == {"Europe/Paris": [24, 23, 24], "America/New_York": [24, 25, 24]}


def test_default_starts(keys, dataset):
    expected_first = {
        ("daily", "Europe/Paris"): "2026-05-11T14:34:00.000+02:00",
        ("weekly", "UTC"): "2026-03-18T12:34:00.000Z",
        ("monthly", "Asia/Kolkata"): "2025-06-10T18:04:00.000+05:30",
        ("yearly", "America/New_York"): "2021-06-10T08:34:00.000-04:00",
    }
    for (type_, zone_name), first in expected_first.items():
        entries = request(keys["acme"], "whatsapp", {"type": type_, "timezone": zone_name})["json"]
        assert entries[0]["start"] == first
        assert entries[-1]["end"].startswith("2026-06-10")


ROLLING = {
    "lastm": timedelta(minutes=1),
    "last5m": timedelta(minutes=5),
    "last10m": timedelta(minutes=10),
    "last30m": timedelta(minutes=30),
    "lasth": timedelta(hours=1),
    "last12h": timedelta(hours=12),
    "last24h": timedelta(hours=24),
    "lastmonth": timedelta(days=30),
}


def test_rolling_windows_and_today(keys, dataset):
    current_minute_end = NOW.replace(second=0) + timedelta(minutes=1)
    nonzero = 0
    for type_, length in ROLLING.items():
        for channel in CHANNELS:
            entries = request(keys["acme"], channel, {"type": type_})["json"]
            start = current_minute_end - length
            assert len(entries) == 1
            entry = entries[0]
            assert entry["start"] == start.strftime("%Y-%m-%dT%H:%M:00.000Z")
            expected = oracle_entry(dataset, channel, "EUR", start, current_minute_end)
            assert {k: entry[k] for k in expected} == expected, (type_, channel)
            nonzero += expected["total_requests"] > 0
    for zone_name in ZONES:
        zone = ZoneInfo(zone_name)
        midnight = datetime.combine(NOW.astimezone(zone).date(), datetime.min.time(), zone)
        for body in ({"timezone": zone_name}, {"type": "today", "timezone": zone_name}):
            entries = request(keys["acme"], "sms", body)["json"]
            assert len(entries) == 1
            assert datetime.fromisoformat(entries[0]["start"]) == midnight
            expected = oracle_entry(dataset, "sms", "EUR", midnight, current_minute_end)
            assert {k: entries[0][k] for k in expected} == expected
    assert nonzero > 10  # the windows near now hold data, so the comparison can fail


def test_amounts_in_the_account_currency_sum_exactly(keys, world):
    billing = {
        "id": "b1",
        "kind": "billing",
        "occurred_at": "2026-01-01T00:00:00Z",
        "currency": "USD",
    }
    prices = ["0.1", "0.2", "0.005", "0.005", "1.115"]
    messages = [
        {
            "id": f"p{n}",
            "kind": "message",
            "occurred_at": "2026-06-10T10:00:00Z",
            "channel": "whatsapp",
            "status": "sent",
            "price": {"amount": amount, "currency": "USD"},
        }
        for n, amount in enumerate(prices)
    ]
    messages.append({**messages[0], "id": "eur", "price": {"amount": "5", "currency": "EUR"}})
    post_events(keys["globex"], [billing, *messages])
    world.stream.drain()
    entries = request(keys["globex"], "whatsapp", {"type": "today"})["json"]
    # 0.1 + 0.2 + 0.005 + 0.005 + 1.115 = 1.425 -> 1.43 (float summing gives 1.4249999...)
    assert entries[0]["total_amount"] == 1.43
    assert entries[0]["currency"] == "USD"
    assert entries[0]["total_transactions"] == 6


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"type": "fortnightly"}, 400, "type"),
        ({"type": "daily", "start_time": "yesterday"}, 400, "start_time"),
        ({"type": "daily", "end_time": "2026-13-01T00:00:00Z"}, 400, "end_time"),
        (
            {
                "type": "daily",
                "start_time": "2026-02-01T00:00:00Z",
                "end_time": "2026-01-01T00:00:00Z",
            },
            400,
            "end_time",
        ),
        ({"type": "daily", "start_time": "2027-01-01T00:00:00Z"}, 400, "end_time"),
        ({"timezone": "Mars/Olympus_Mons"}, 400, "timezone"),
        ({"timezone": "../../etc/passwd"}, 400, "timezone"),
        ({"type": "hourly", "start_time": "2025-01-01T00:00:00Z"}, 400, "start_time"),
        ({"type": "daily", "start_time": "1969-12-31T00:00:00Z"}, 400, "start_time"),
        ({"typ": "daily"}, 400, "typ"),
        ({"type": 3}, 400, "type"),
        ("[1, 2]", 400, "body"),
        ("{not json", 400, "body"),
    ],
)
def test_bad_requests_name_the_field(keys, body, status, field):
    # As the seed sends it: a body of text is declared JSON (without, it would be a 415).
    response = request(keys["acme"], "whatsapp", body, {"Content-Type": "application/json"})
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["content-type"] == "application/problem+json"
    assert [error["field"] for error in response["json"]["errors"]] == [field]


def test_ten_thousand_intervals_is_the_limit(keys):
    start = datetime(2025, 1, 1, tzinfo=UTC)
    ok = {
        "type": "hourly",
        "start_time": start.isoformat(),
        "end_time": (start + timedelta(hours=10_000)).isoformat(),
    }
    assert len(request(keys["acme"], "sms", ok)["json"]) == 10_000
    over = {**ok, "end_time": (start + timedelta(hours=10_001)).isoformat()}
    assert request(keys["acme"], "sms", over)["statusCode"] == 400


def test_auth_and_unknown_channel(keys):
    assert request("tk_nope", "sms", {})["statusCode"] == 401
    mismatched = request(keys["acme"], "sms", {}, {"x-account-id": "globex"})
    assert mismatched["statusCode"] == 401
    matched = request(keys["acme"], "sms", {}, {"x-account-id": "acme"})
    assert matched["statusCode"] == 200
    assert request(keys["acme_write"], "sms", {})["statusCode"] == 403
    unknown = request(keys["acme"], "fax", {})
    assert unknown["statusCode"] == 404
    assert "fax" in unknown["json"]["detail"]
    assert unknown["json"]["errors"][0]["field"] == "channel"


def test_sample_event_file(keys):
    event = load_event("channel_stats_post.json")
    event["headers"]["x-api-key"] = keys["acme"]
    event["headers"]["x-account-id"] = "acme"
    response = invoke("channel_stats", event)
    assert response["statusCode"] == 200, response["body"]
    # The seed's example: daily over January 2024 in UTC, the end ceiled to the next minute.
    assert len(response["json"]) == 31
    assert response["json"][-1]["end"] == "2024-02-01T00:00:00.000Z"


def test_counter_items_read_per_request(keys, dataset):
    """The greedy cover reads a handful of items per interval, whatever the event count."""
    cases = {
        "daily 30 d aligned": {
            "type": "daily",
            "start_time": "2026-05-11",
            "end_time": "2026-06-10",
        },
        "daily 30 d default": {"type": "daily"},
        "monthly 12 M aligned": {
            "type": "monthly",
            "start_time": "2025-06-01",
            "end_time": "2026-06-01",
        },
        "monthly 12 M default": {"type": "monthly"},
    }
    measured: dict[tuple[str, str], tuple[int, int]] = {}
    for zone_name in ("UTC", "Asia/Kolkata"):
        for label, body in cases.items():
            with batch_get_keys() as calls:
                response = request(keys["acme"], "sms", {**body, "timezone": zone_name})
            assert response["statusCode"] == 200
            measured[zone_name, label] = (sum(calls), len(calls))
    for (zone_name, label), (items, calls) in measured.items():
        print(f"{zone_name:13} {label:22} items={items:4} BatchGetItem calls={calls}")
    assert measured["UTC", "daily 30 d aligned"][0] == 30
    assert measured["UTC", "monthly 12 M aligned"][0] == 12
    # A Kolkata day is 18:30-18:30 UTC: a plain cover takes 2 + 5 + 18 + 2 = 27 buckets; the
    # signed one takes the UTC day plus the 18:30-24:00 tail before it (2 quarters + 5 hours)
    # minus its own tail, and neighbours share tails: 30 days + 31 tails of 7.
    assert measured["Asia/Kolkata", "daily 30 d aligned"][0] == 30 + 31 * 7
    assert measured["Asia/Kolkata", "monthly 12 M aligned"][0] == 12 + 13 * 7
    assert all(items <= 1000 for items, _ in measured.values())
