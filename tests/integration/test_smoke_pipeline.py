"""Ingest -> real stream records -> counters -> read API, in one pass."""

from datetime import UTC, datetime

from tally import counters, metrics
from tally.contributions import USAGE
from tests.support import invoke, load_event


def test_sample_event_flows_into_counters(keys, stream):
    event = load_event("ingest_post_events.json")
    event["headers"]["Authorization"] = f"Bearer {keys['acme']}"
    response = invoke("ingest", event)
    assert response["statusCode"] == 200, response
    assert response["json"] == {"accepted": 2, "unchanged": 0}
    stream.drain()
    day = counters.read_range(
        "acme", datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 6, 11, tzinfo=UTC)
    )
    assert day.count(metrics.message("sms", "total")) == 1
    assert day.count(metrics.message("sms", "sent")) == 1
    assert day.count(metrics.operator("ooredoo")) == 1
    assert day.count(metrics.otp("verified")) == 1
    day = (datetime(2026, 6, 10, tzinfo=UTC), datetime(2026, 6, 11, tzinfo=UTC))
    assert counters.read_range("globex", *day) == {}
    assert counters.read_range("globex", *day, USAGE) == {metrics.usage("api_key_added"): 1}
