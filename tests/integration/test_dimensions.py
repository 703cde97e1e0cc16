"""Per-account caps on usage names, operators and currencies (tally.dimensions).

Open-ended names become counter attributes; capped, no counter item or update can reach
DynamoDB's 400 KB item or 4 KB expression limit. On DynamoDB Local the largest batch the
caps allow (every usage name at its longest, in one batch) is applied for real.
"""

from __future__ import annotations

from tally import dimensions
from tests.support import (
    counter_items,
    expected_counters,
    invoke,
    message,
    post_events,
    proxy_event,
)


def post(key: str, events: list[dict]) -> dict:
    return invoke("ingest", proxy_event("POST", "/v1/events", key=key, body={"events": events}))


def usage(event_id: str, name: str) -> dict:
    return {"id": event_id, "kind": "usage", "occurred_at": "2026-06-10T12:00:00Z", "name": name}


def longest_name(number: int) -> str:
    return f"n{number:03d}".ljust(64, "x")


def test_the_largest_usage_batch_the_cap_allows_is_counted(keys, stream):
    cap = dimensions.CAPS["usage"]
    names = [longest_name(number) for number in range(cap)]
    response = post(keys["acme"], [usage(f"u{n}", name) for n, name in enumerate(names)])
    assert response["statusCode"] == 200, response["body"]
    result = stream.drain()
    assert result is not None
    assert result["records_quarantined"] == 0
    assert counter_items() == expected_counters()

    # One name more is refused, naming every event that brings a new one; nothing is stored.
    refused = post(keys["acme"], [usage("extra-1", "brand_new"), usage("extra-2", names[0])])
    assert refused["statusCode"] == 422
    errors = refused["json"]["errors"]
    assert [(error["index"], error["field"]) for error in errors] == [(0, "name")]
    assert f"at most {cap}" in errors[0]["reason"]
    assert stream.read_all() == []
    # Known names, and the seed's twelve, are always accepted.
    accepted = post(keys["acme"], [usage("again", names[5]), usage("seed", "message_added")])
    assert accepted["statusCode"] == 200


def test_operators_and_currencies_are_capped_per_account(keys):
    operators = dimensions.CAPS["operator"]
    fill = [message(f"o{n}", operator=f"op{n}") for n in range(operators - 3)]
    # The three default operators are derived from numbers and count towards the cap.
    fill += [message(f"t{n}", to=f"+213{n + 5}50000001") for n in range(3)]
    assert post(keys["acme"], fill)["statusCode"] == 200
    over = post(keys["acme"], [message("one-more", operator="newcomer")])
    assert over["statusCode"] == 422
    assert over["json"]["errors"][0]["field"] == "operator"
    # Another account has its own registry.
    assert post(keys["globex"], [message("g1", operator="newcomer")])["statusCode"] == 200

    currencies = dimensions.CAPS["currency"]
    priced = [
        message(f"c{n}", status="sent", price={"amount": "1", "currency": f"C{chr(65 + n)}X"})
        for n in range(currencies)
    ]
    assert post(keys["acme"], priced)["statusCode"] == 200
    extra = post(keys["acme"], [message("c-extra", price={"amount": "1", "currency": "ZZZ"})])
    assert extra["statusCode"] == 422
    assert extra["json"]["errors"][0]["field"] == "price.currency"


def test_a_warm_container_reads_the_registry_only_for_values_it_has_not_seen(keys, monkeypatch):
    from tally import storage

    post_events(keys["acme"], [message("m1", operator="orange")])
    reads: list[str] = []
    real = storage.get_item

    def counting(table, key, **options):
        reads.append(str(key.get("sk")))
        return real(table, key, **options)

    monkeypatch.setattr(storage, "get_item", counting)
    post_events(keys["acme"], [message("m2", operator="orange")])
    assert "~dims" not in reads
    dimensions.clear_cache()
    post_events(keys["acme"], [message("m3", operator="orange")])
    assert reads.count("~dims") == 1
