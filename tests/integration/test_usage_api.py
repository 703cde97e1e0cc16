"""GET /v1/stats/messages against a brute-force count of the stored usage events."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import yaml

from tests.support import ROOT, invoke, load_event, post_events, proxy_event, stored_events

SEED_NAMES = [
    "api_key_added",
    "api_key_updated",
    "api_key_deleted",
    "queue_added",
    "queue_updated",
    "queue_deleted",
    "listener_added",
    "listener_updated",
    "listener_deleted",
    "message_added",
    "message_published_ok",
    "message_published_not_ok",
]
# Whole minutes: starts floored, the end ceiled past the pinned 12:34:56.
WINDOWS = {
    "last_24_hours": ("2026-06-09T12:34:00Z", "2026-06-10T12:35:00Z"),
    "last_1_hours": ("2026-06-10T11:34:00Z", "2026-06-10T12:35:00Z"),
    "today_so_far": ("2026-06-10T00:00:00Z", "2026-06-10T12:35:00Z"),
}
# On and just off every window edge.
EDGE_TIMES = [
    "2026-06-09T12:33:59Z",
    "2026-06-09T12:34:00Z",
    "2026-06-09T23:59:59Z",
    "2026-06-10T00:00:00Z",
    "2026-06-10T11:33:59Z",
    "2026-06-10T11:34:00Z",
    "2026-06-10T12:34:56Z",
    "2026-06-10T12:34:59Z",
    "2026-06-10T12:35:00Z",
    "2026-06-10T18:00:00Z",
]
MESSAGES = "/v1/stats/messages"


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def oracle(account: str) -> dict[str, dict[str, int]]:
    usage = [item for item in stored_events(account) if item["kind"] == "usage"]
    result = {}
    for window, (start, end) in WINDOWS.items():
        counts = Counter(
            item["name"]
            for item in usage
            if parse(start) <= parse(str(item["occurred_at"])) < parse(end)
        )
        body = {name: counts.pop(name, 0) for name in SEED_NAMES}
        body.update(sorted(counts.items()))
        result[window] = body
    return result


def usage_events() -> list[dict[str, Any]]:
    names = [*SEED_NAMES[3:], "webhook_called", "zz_custom"]
    return [
        {"id": f"u{n}", "kind": "usage", "occurred_at": moment, "name": names[n % len(names)]}
        for n, moment in enumerate(EDGE_TIMES * 3)
    ]


def get(key: str | None, **options: Any) -> dict[str, Any]:
    headers = options.pop("headers", {})
    if key is not None:
        headers = {"X-API-KEY": key, **headers}
    return invoke("usage_stats", proxy_event("GET", MESSAGES, headers=headers, **options))


def test_counts_match_the_oracle_at_window_edges(keys, stream):
    post_events(keys["acme"], usage_events())
    post_events(keys["globex"], usage_events()[:5])
    stream.drain()
    response = get(keys["acme_read"])
    assert response["statusCode"] == 200, response["body"]
    assert response["headers"]["content-type"] == "application/json"
    body = response["json"]
    assert list(body) == ["aggregated_api_usage_events", "_links"]
    windows = body["aggregated_api_usage_events"]
    assert list(windows) == list(WINDOWS)
    expected = oracle("acme")
    assert windows == expected
    for window, counts in windows.items():
        assert list(counts) == list(expected[window])  # seed names first, in the seed's order
    # Guard against a vacuous match: each window has events inside and just outside.
    assert expected["last_24_hours"]["zz_custom"] > 0
    assert sum(expected["last_1_hours"].values()) < sum(expected["today_so_far"].values())
    assert sum(expected["today_so_far"].values()) < sum(expected["last_24_hours"].values())
    assert get(keys["globex"])["json"]["aggregated_api_usage_events"] == oracle("globex")


def test_no_events_gives_the_twelve_zeros(aws):
    from tally.keys import bootstrap_key

    key = bootstrap_key("quiet", ["stats:read"], "read").secret  # writes no usage event
    windows = get(key)["json"]["aggregated_api_usage_events"]
    assert windows == {window: dict.fromkeys(SEED_NAMES, 0) for window in WINDOWS}


def test_key_changes_through_the_keys_api_are_counted(keys, stream):
    stream.drain()  # the fixture's own keys
    before = get(keys["acme"])["json"]["aggregated_api_usage_events"]["today_so_far"]
    created = invoke(
        "keys", proxy_event("POST", "/v1/keys", key=keys["acme"], body={"scopes": ["stats:read"]})
    )
    assert created["statusCode"] == 201, created["body"]
    key_id = created["json"]["key_id"]
    for method, body in (("PATCH", {"name": "renamed"}), ("DELETE", None)):
        response = invoke(
            "keys",
            proxy_event(
                method,
                f"/v1/keys/{key_id}",
                key=keys["acme"],
                body=body,
                resource="/v1/keys/{key_id}",
                path_parameters={"key_id": key_id},
            ),
        )
        assert response["statusCode"] in (200, 204), response["body"]
    stream.drain()
    windows = get(keys["acme"])["json"]["aggregated_api_usage_events"]
    assert windows == oracle("acme")
    today = windows["today_so_far"]
    for name in ("api_key_added", "api_key_updated", "api_key_deleted"):
        assert today[name] == before[name] + 1, name


def test_pretty_prints_the_same_document(keys, stream):
    post_events(keys["acme"], usage_events()[:4])
    stream.drain()
    compact = get(keys["acme_read"])
    pretty = get(keys["acme_read"], query={"pretty": "true"})
    explicit = get(keys["acme_read"], query={"pretty": "false"})
    assert pretty["statusCode"] == 200
    assert pretty["body"].startswith('{\n  "aggregated_api_usage_events": {\n    "last_24_hours"')
    assert "\n" not in compact["body"]
    assert "\n" not in explicit["body"]
    assert (
        explicit["json"]["aggregated_api_usage_events"]
        == compact["json"]["aggregated_api_usage_events"]
    )
    assert (
        pretty["json"]["aggregated_api_usage_events"]
        == compact["json"]["aggregated_api_usage_events"]
    )
    assert pretty["json"]["_links"]["self"]["href"].endswith(f"{MESSAGES}?pretty=true")


def test_non_boolean_pretty_is_a_400(keys):
    for value in ("maybe", "2", ""):
        response = get(keys["acme_read"], query={"pretty": value})
        assert response["statusCode"] == 400, value
        assert response["json"]["title"] == "Bad Request"
        assert response["json"]["status"] == 400
        assert response["json"]["errors"][0]["field"] == "pretty"


def test_self_link_is_the_requested_url(keys):
    on_api_gateway = get(keys["acme_read"])
    assert on_api_gateway["json"]["_links"]["self"]["href"] == (
        f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod{MESSAGES}"
    )
    # A custom domain: API Gateway's requestContext.path carries the base path, not the stage.
    event = proxy_event("GET", MESSAGES, headers={"X-API-KEY": keys["acme_read"]})
    event["headers"]["Host"] = "api.example.com"
    event["requestContext"].update(domainName="api.example.com", path=f"/stats-api{MESSAGES}")
    custom = invoke("usage_stats", event)
    assert (
        custom["json"]["_links"]["self"]["href"] == f"https://api.example.com/stats-api{MESSAGES}"
    )
    # The local runtime: its gateway puts the address it serves in requestContext, and
    # serves without a stage prefix; a domain with a port is plain HTTP.
    event = proxy_event(
        "GET", MESSAGES, headers={"X-API-KEY": keys["acme_read"]}, query={"pretty": "1"}
    )
    event["requestContext"].update(domainName="127.0.0.1:3000", path=f"/prod{MESSAGES}")
    local = invoke("usage_stats", event)
    assert local["json"]["_links"]["self"]["href"] == f"http://127.0.0.1:3000{MESSAGES}?pretty=1"


def test_self_link_ignores_client_headers(keys):
    """Host and X-Forwarded-Proto are the client's to set: the link never echoes them."""
    hostile = get(
        keys["acme_read"],
        headers={"Host": "evil.example", "X-Forwarded-Proto": "javascript:alert(1)//"},
    )
    href = hostile["json"]["_links"]["self"]["href"]
    assert href == f"https://abcdef1234.execute-api.us-east-1.amazonaws.com/prod{MESSAGES}"


def assert_seed_shape(response: dict[str, Any], status: int, title: str) -> None:
    assert response["statusCode"] == status, response["body"]
    assert response["headers"]["content-type"] == "application/json"
    assert response["json"]["title"] == title
    assert response["json"]["status"] == status


def test_error_bodies_follow_the_seed(keys):
    assert_seed_shape(get(None), 401, "Unauthorized")
    assert_seed_shape(get("tk_unknown"), 401, "Unauthorized")
    assert_seed_shape(get(keys["acme_write"]), 403, "Forbidden")
    for accept in ("text/html", "application/json;q=0, text/csv", "application/xml"):
        assert_seed_shape(get(keys["acme_read"], headers={"Accept": accept}), 406, "Not Acceptable")
    for accept in (
        "*/*",
        "application/*",
        "text/html, application/json;q=0.1",
        "application/hal+json",
    ):
        assert get(keys["acme_read"], headers={"Accept": accept})["statusCode"] == 200, accept
    unsupported = get(keys["acme_read"], body="a=1", headers={"Content-Type": "text/plain"})
    assert_seed_shape(unsupported, 415, "Unsupported Media Type")
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        wrong = invoke("usage_stats", proxy_event(method, MESSAGES, key=keys["acme_read"]))
        assert_seed_shape(wrong, 405, "Method Not Allowed")
        assert wrong["headers"]["allow"] == "GET"
    unknown = invoke("usage_stats", proxy_event("GET", f"{MESSAGES}/today", key=keys["acme_read"]))
    assert_seed_shape(unknown, 404, "Not Found")


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def test_api_gateway_errors_follow_the_seed():
    # 429 (and unknown routes, answered before any function runs) come from API Gateway itself.
    text = (ROOT / "template.yaml").read_text()
    # A SafeLoader subclass that only ignores CloudFormation's tags.
    template = yaml.load(text, Loader=_CfnLoader)  # noqa: S506
    responses = template["Resources"]["TallyApi"]["Properties"]["GatewayResponses"]
    expected = {
        "THROTTLED": (429, "Too Many Requests"),
        "QUOTA_EXCEEDED": (429, "Too Many Requests"),
        "MISSING_AUTHENTICATION_TOKEN": (404, "Not Found"),
    }
    for name, (status, title) in expected.items():
        response = responses[name]
        assert response["StatusCode"] == str(status)
        body = json.loads(response["ResponseTemplates"]["application/json"])
        assert (body["title"], body["status"]) == (title, status)


def test_static_path_wins_over_the_scope_parameter():
    from tally_dev import template

    routes = template.load().routes
    candidates, params = template.match(routes, MESSAGES)
    assert {route.handler.group for route in candidates} == {"usage_stats"}
    assert params == {}


def test_sample_event_is_served(keys):
    event = load_event("usage_stats_messages.json")
    event["headers"]["X-API-KEY"] = keys["acme_read"]
    event["multiValueHeaders"]["X-API-KEY"] = [keys["acme_read"]]
    response = invoke("usage_stats", event)
    assert response["statusCode"] == 200, response["body"]
    assert response["body"].startswith("{\n")
    assert list(response["json"]["aggregated_api_usage_events"]["last_1_hours"]) == SEED_NAMES


def test_one_batched_counters_read_per_call(keys, stream):
    from tally import auth, storage
    from tally_dev.lambda_kit import DynamoDBCalls

    post_events(keys["acme"], usage_events())
    stream.drain()
    auth.clear_cache()  # the key lookup counts too, as on a cold container
    with DynamoDBCalls(storage.client()) as calls:
        assert get(keys["acme_read"])["statusCode"] == 200
    assert sorted(calls.operations()) == ["BatchGetItem", "GetItem"]
