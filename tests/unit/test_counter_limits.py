"""No counter update or item can reach a DynamoDB limit, whatever the traffic.

The largest possible update of one counter item is built from the caps: every fixed
attribute, every operator and currency an account may register (tally.dimensions), the
hour-of-day and day-of-week attributes, and a watermark for every partition key of the
account. DynamoDB's limits: 4 KB per expression, 400 KB per item, 38 digits per number; a read
that names every counter an item can hold stays within the same 4 KB.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tally import counters, dimensions, events, metrics, storage

# A counter at its largest: 38 significant digits.
LARGEST = Decimal("9" * 38)
SOURCES = [events.source_suffix(pk) for pk in events.partitions("a")]


def events_item_attributes() -> list[str]:
    names = [metrics.message(c, s) for c in metrics.CHANNELS for s in metrics.MESSAGE_STATES]
    names += [metrics.MARKETING_MESSAGES, metrics.CREDITS_USED, metrics.CREDITS_ADDED]
    names += [
        metrics.OTP_TOTAL,
        *(metrics.otp(s) for s in ("pending", "verified", "failed", "expired")),
    ]
    campaign_states = ("draft", "scheduled", "sending", "completed", "failed")
    names += [metrics.CAMPAIGNS_TOTAL, *(metrics.campaign(s) for s in campaign_states)]
    names += [metrics.dialog(t) for t in range(1, 5)]
    names += [metrics.send_hour(h, s) for h in range(24) for s in metrics.SEND_TIME_STATES]
    names += [metrics.send_weekday(d, s) for d in range(7) for s in metrics.SEND_TIME_STATES]
    names += [metrics.operator("o" * 63 + str(n)) for n in range(dimensions.CAPS["operator"])]
    currencies = [f"C{n:02d}" for n in range(dimensions.CAPS["currency"])]
    names += [metrics.amount(c, cur) for c in metrics.CHANNELS for cur in currencies]
    return names


def usage_item_attributes() -> list[str]:
    names = [metrics.usage(name) for name in metrics.USAGE_SEED_NAMES]
    return names + [metrics.usage("u" * 60 + f"{n:04d}") for n in range(dimensions.CAPS["usage"])]


def largest_request(attributes: list[str]) -> dict[str, object]:
    deltas = dict.fromkeys(attributes, LARGEST)
    expected: dict[str, object] = dict.fromkeys(SOURCES, counters.FRESH)
    return counters.update_request(
        deltas, expected, "z" * counters.POSITION_WIDTH, 1_800_000_000, "y"
    )


def item_size(attributes: list[str]) -> int:
    """DynamoDB's item size: names plus values (a number: about one byte per two digits + 1)."""
    numbers = sum(len(name) + 21 for name in attributes)
    marks = sum(len(metrics.watermark(s)) + counters.POSITION_WIDTH for s in SOURCES)
    return len("pk") + 80 + numbers + marks + len("expires_at") + 6


def test_the_largest_update_of_any_counter_item_fits_in_an_expression():
    for attributes in (events_item_attributes(), usage_item_attributes()):
        request = largest_request(attributes)
        assert len(str(request["expression"]).encode()) < 4096 * 0.9, len(
            str(request["expression"])
        )
        assert len(str(request["condition"]).encode()) < 4096 * 0.9


def test_the_largest_counter_item_is_far_below_400_kb():
    assert item_size(events_item_attributes()) < 40_000
    assert item_size(usage_item_attributes()) < 40_000


def test_sums_are_exact_to_38_digits_or_refused():
    from tally.contributions import EXACT

    assert EXACT.add(Decimal("9" * 37), Decimal(1)) == Decimal("1" + "0" * 37)
    assert EXACT.add(Decimal(0), Decimal("9E+125")) == Decimal("9E+125")
    for overflowing in ((LARGEST, Decimal("0.1")), (Decimal("9E+125"), Decimal("9E+125"))):
        try:
            EXACT.add(*overflowing)
        except ArithmeticError:
            continue
        raise AssertionError(f"{overflowing} should not fit")


def test_a_read_naming_every_counter_an_item_can_hold_fits_in_an_expression(monkeypatch):
    requests: list[dict[str, Any]] = []

    class Recording:
        def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
            requests.append(RequestItems["T"])
            return {"Responses": {"T": []}, "UnprocessedKeys": {}}

    monkeypatch.setattr(storage, "client", Recording)
    for attributes in (events_item_attributes(), usage_item_attributes()):
        storage.batch_get_numbers("T", "pk", ["a#d#0"], attributes)
        projection = requests[-1]["ProjectionExpression"]
        assert len(projection.encode()) < 4096 * 0.9, len(projection)
        named = set(requests[-1]["ExpressionAttributeNames"].values())
        assert named == {"pk", *attributes}
