"""GET /admin/stats/messages/... and /admin/stats/dialogs/... against a brute-force oracle.

The oracle counts raw stored events by the minute they occurred in, within the
range resolved to whole minutes (start floored, end ceiled), grouped by UTC date.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest

from tests.conftest import World
from tests.support import batch_get_keys, invoke, load_event, minute_of, proxy_event

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SEED_START = 1676894034  # 2023-02-20T11:53:54Z, the seed's example
SEED_BODIES = {
    "/admin/stats/messages/sent-total": "start_date=1676894034&end_date=16768967370",
    "/admin/stats/messages/sent-per-day": "start_date=1676894034&end_date=16768967370",
    "/admin/stats/dialogs/created-total": "start_date=1676894057&end_date=16768967671&types[]=2&types[]=3",
    "/admin/stats/dialogs/created-per-day": "start_date=1676894057&end_date=16768967671&types[]=2&types[]=4",
}


def generate(rng: random.Random) -> list[dict[str, Any]]:
    """Chat messages and dialogs on a few dozen busy days since 2023, some at the seed's
    start second, some in the minutes after now; other channels and uncounted messages."""
    days = [datetime(2023, 2, 20, 11, 53, tzinfo=UTC)] + [
        datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=rng.randrange(1255)) for _ in range(30)
    ]
    days.append(NOW - timedelta(minutes=30))
    events: list[dict[str, Any]] = []
    for day in days:
        for _ in range(rng.randint(1, 5)):
            moment = day + timedelta(seconds=rng.randrange(3600 if day.minute else 86400))
            moment = min(moment, NOW + timedelta(minutes=2))
            number = len(events)
            stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
            if rng.random() < 0.4:
                events.append(
                    {
                        "id": f"d{number}",
                        "kind": "dialog",
                        "occurred_at": stamp,
                        "type": rng.randint(1, 4),
                    }
                )
                continue
            event: dict[str, Any] = {
                "id": f"c{number}",
                "kind": "message",
                "occurred_at": stamp,
                "channel": "chat" if rng.random() < 0.8 else "sms",
                "status": rng.choice(("queued", "sent", "delivered", "failed")),
            }
            if rng.random() < 0.08:
                event["test"] = True
            if rng.random() < 0.08:
                event["direction"] = "inbound"
            events.append(event)
    return events


@pytest.fixture(scope="module")
def world(seeded_world: Callable[..., AbstractContextManager[World]]) -> Iterator[World]:
    with seeded_world(generate(random.Random(1676894034))) as seeded:
        yield seeded


def oracle_days(
    items: list[dict[str, Any]],
    start: int | None,
    end: int | None,
    types: set[int] | None = None,
    *,
    dialogs: bool = False,
) -> dict[str, int]:
    """{UTC date: count} over [start, end) in whole minutes, end clamped to now."""
    low = (
        datetime.fromtimestamp(start, UTC)
        if start is not None
        else datetime(2000, 1, 1, tzinfo=UTC)
    )
    high = min(datetime.fromtimestamp(end, UTC), NOW) if end is not None else NOW
    low = low.replace(second=0)
    high = high.replace(second=0) + timedelta(minutes=1) if high.second else high
    days: Counter[str] = Counter()
    for item in items:
        if dialogs:
            wanted = item["kind"] == "dialog" and (types is None or int(item["type"]) in types)
        else:
            wanted = (
                item["kind"] == "message"
                and item["channel"] == "chat"
                and item.get("direction", "outbound") == "outbound"
                and not item.get("test", False)
            )
        if wanted and low <= minute_of(item) < high:
            days[minute_of(item).date().isoformat()] += 1
    return dict(sorted(days.items()))


def get(
    world: World, path: str, *, query: dict[str, Any] | None = None, body: str | None = None
) -> dict[str, Any]:
    headers = {"CB-Administration-API-Key": world.keys["acme"], **(FORM if body else {})}
    return invoke("chat_stats", proxy_event("GET", path, query=query, body=body, headers=headers))


WINDOWS = [
    (None, None),
    (SEED_START, None),
    (SEED_START, 16768967370),
    (SEED_START + 1, SEED_START + 59),
    (1700000000, 1750000000),
    (None, 1720000123),
    (int(NOW.timestamp()) - 1800, int(NOW.timestamp()) + 3600),
    (100, 200),
]


@pytest.mark.parametrize(("start", "end"), WINDOWS)
def test_messages_total_and_days_match_the_oracle(world, start, end):
    params = {
        name: str(value)
        for name, value in (("start_date", start), ("end_date", end))
        if value is not None
    }
    expected = oracle_days(world.items, start, end)
    total = get(world, "/admin/stats/messages/sent-total", query=params)
    assert total["json"] == {"total": sum(expected.values())}
    full = get(world, "/admin/stats/messages/sent-per-day", query={**params, "limit": "1000"})
    assert full["json"] == expected
    assert list(full["json"]) == sorted(expected)
    pages: dict[str, int] = {}
    for offset in range(0, len(expected) + 7, 7):
        page = get(
            world,
            "/admin/stats/messages/sent-per-day",
            query={**params, "limit": "7", "offset": str(offset)},
        )
        assert len(page["json"]) <= 7
        pages.update(page["json"])
    assert pages == expected


@pytest.mark.parametrize("types", [None, [2, 3], [2, 4], [1], [2, 2], [7], [-1, 0, 99999]])
@pytest.mark.parametrize(("start", "end"), [(None, None), (SEED_START, 1720000123)])
def test_dialogs_match_the_oracle(world, types, start, end):
    params: dict[str, Any] = {
        name: str(value)
        for name, value in (("start_date", start), ("end_date", end))
        if value is not None
    }
    if types is not None:
        params["types[]"] = [str(value) for value in types]
    expected = oracle_days(
        world.items, start, end, None if types is None else set(types), dialogs=True
    )
    total = get(world, "/admin/stats/dialogs/created-total", query=params)
    assert total["json"] == {"total": sum(expected.values())}
    days = get(world, "/admin/stats/dialogs/created-per-day", query=params)
    assert days["json"] == dict(list(expected.items())[:100])


def test_default_limit_is_100_and_offset_pages(world):
    expected = oracle_days(world.items, None, None)
    assert len(expected) > 10
    first = get(world, "/admin/stats/messages/sent-per-day", query={"limit": "3"})
    second = get(world, "/admin/stats/messages/sent-per-day", query={"limit": "3", "offset": "3"})
    assert list(first["json"].items()) == list(expected.items())[:3]
    assert list(second["json"].items()) == list(expected.items())[3:6]
    beyond = get(world, "/admin/stats/messages/sent-per-day", query={"offset": "100000"})
    assert beyond["json"] == {}


@pytest.mark.parametrize("path", list(SEED_BODIES))
def test_the_seed_examples_as_form_bodies_on_get(world, path):
    """The seed's `curl -X GET -d '...'`: a form body on a GET, the 11-digit end clamped."""
    form = get(world, path, body=SEED_BODIES[path])
    query = get(world, path, query=dict(parse_qs(SEED_BODIES[path])))
    assert form["statusCode"] == 200, form["body"]
    assert form["json"] == query["json"]
    values = parse_qs(SEED_BODIES[path])
    types = {int(value) for value in values.get("types[]", [])} or None
    expected = oracle_days(
        world.items,
        int(values["start_date"][0]),
        int(values["end_date"][0]),
        types,
        dialogs="dialogs" in path,
    )
    if path.endswith("total"):
        assert form["json"] == {"total": sum(expected.values())}
    else:
        assert form["json"] == dict(list(expected.items())[:100])
    assert sum(expected.values()) > 0


def test_query_string_and_form_body_combine(world):
    expected = oracle_days(world.items, SEED_START, 1720000123)
    both = get(
        world,
        "/admin/stats/messages/sent-total",
        query={"start_date": str(SEED_START)},
        body=urlencode({"end_date": "1720000123"}),
    )
    assert both["json"] == {"total": sum(expected.values())}


def test_sample_event_files(world):
    for name in (
        "chat_stats_sent_total.json",
        "chat_stats_sent_per_day.json",
        "chat_stats_dialogs_created_total.json",
        "chat_stats_dialogs_created_per_day.json",
    ):
        event = load_event(name)
        event["headers"]["CB-Administration-API-Key"] = world.keys["acme"]
        event["multiValueHeaders"]["CB-Administration-API-Key"] = [world.keys["acme"]]
        response = invoke("chat_stats", event)
        assert response["statusCode"] == 200, (name, response["body"])
        assert response["json"] == get(world, event["path"], body=event["body"])["json"]


@pytest.mark.parametrize(
    ("params", "body", "status", "field"),
    [
        ({"start_date": "200", "end_date": "100"}, None, 400, "start_date"),
        ({"start_date": str(int(NOW.timestamp()) + 60)}, None, 400, "start_date"),
        ({"start_date": "yesterday"}, None, 400, "start_date"),
        ({"end_date": "1.5"}, None, 400, "end_date"),
        ({"end_date": ""}, None, 400, "end_date"),
        ({"limit": "1001"}, None, 400, "limit"),
        ({"limit": "0"}, None, 400, "limit"),
        ({"offset": "-1"}, None, 400, "offset"),
        ({"types[]": ["2", "two"]}, None, 400, "types[][1]"),
        ({"start_date": ["1", "2"]}, None, 400, "start_date"),
        ({"start_date": "1"}, "start_date=2", 400, "start_date"),
    ],
)
def test_bad_parameters_name_the_field(world, params, body, status, field):
    response = get(world, "/admin/stats/dialogs/created-per-day", query=params, body=body)
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["content-type"] == "application/problem+json"
    assert [error["field"] for error in response["json"]["errors"]] == [field]


def test_json_body_is_415_and_keys_are_checked(world):
    event = proxy_event(
        "GET",
        "/admin/stats/messages/sent-total",
        body={"start_date": 1},
        headers={"CB-Administration-API-Key": world.keys["acme"]},
    )
    assert invoke("chat_stats", event)["statusCode"] == 415
    missing = invoke("chat_stats", proxy_event("GET", "/admin/stats/messages/sent-total"))
    assert missing["statusCode"] == 401
    write_only = proxy_event(
        "GET",
        "/admin/stats/messages/sent-total",
        headers={"CB-Administration-API-Key": world.keys["acme_write"]},
    )
    assert invoke("chat_stats", write_only)["statusCode"] == 403


def test_same_numbers_as_the_channel_api(world):
    """The chat channel's `total_requests` over a rolling month equals sent-total over it."""
    end = int(NOW.timestamp())
    start = (end // 60 + 1) * 60 - 30 * 86400  # lastmonth: 30 days ending with the current minute
    total = get(world, "/admin/stats/messages/sent-total", query={"start_date": str(start)})
    channel = invoke(
        "channel_stats",
        proxy_event(
            "POST",
            "/api/v1/connect-hub/chat/stats",
            key=world.keys["acme"],
            body={"type": "lastmonth"},
            resource="/api/v1/connect-hub/{channel}/stats",
            path_parameters={"channel": "chat"},
        ),
    )
    assert total["json"]["total"] == channel["json"][0]["total_requests"] > 0


def test_per_day_reads_are_bounded_by_the_range_not_the_events(world):
    """Since 2000: ~320 month items, then day items only inside nonzero months."""
    with batch_get_keys() as calls:
        page = get(world, "/admin/stats/messages/sent-per-day", query={"limit": "5"})
    first_page = sum(calls)
    with batch_get_keys() as calls:
        get(world, "/admin/stats/messages/sent-per-day", query={"limit": "1000"})
    everything = sum(calls)
    assert len(page["json"]) == 5
    months = (NOW.year - 2000) * 12 + NOW.month
    # Month totals plus at most the days of the nonzero months (~31 busy months here).
    assert months <= first_page < months + 31 * 8 + 40
    assert first_page < everything < months + 31 * 40 + 40
    print(f"per-day items read: first page of 5 = {first_page}, all days = {everything}")
