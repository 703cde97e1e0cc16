"""Bounds (docs/reliability.md): every number, instant, string and list an event carries,
and the inputs that used to raise inside the service (pure: no AWS)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tally import payload
from tally.errors import TallyError
from tally.ingest import parse_body, validate_events
from tally.models import MAX_CREDIT_PRODUCTS
from tally.stats.channel import entry
from tally.timeutil import format_instant, format_millis, parse_instant
from tests.event_cases import VALID, with_field


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_NOW", "2026-06-10T12:34:56Z")


def refused(event: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, reason) of every error of a one-event batch; [] when it is accepted."""
    try:
        validate_events([event])
    except TallyError as error:
        return [(e.field, e.reason) for e in error.errors if error.status == 422]
    return []


# (kind, field, largest accepted, smallest refused, words the reason must hold)
EDGES = [
    ("message", "price.amount", "1000000", "1000000.000001", "1,000,000"),
    ("message", "price.amount", "0", "-0.000001", "from 0"),
    ("message", "price.amount", "0.000001", "0.0000001", "6 decimal"),
    ("message", "length", 1_000_000, 1_000_001, "1000000"),
    ("message", "length", 0, -1, "0"),
    ("credit", "amount", 10**12, 10**12 + 1, "1000000000000"),
    ("credit", "amount", -(10**12), -(10**12) - 1, "-1000000000000"),
    ("campaign", "audience", 10**9, 10**9 + 1, "1000000000"),
    ("billing", "included_credits", 10**12, 10**12 + 1, "1000000000000"),
    (
        "billing",
        "available_credit_products",
        [{"id": "p", "name": "n", "credits_amount": 1, "price_cents": 1}] * MAX_CREDIT_PRODUCTS,
        [{"id": "p", "name": "n", "credits_amount": 1, "price_cents": 1}]
        * (MAX_CREDIT_PRODUCTS + 1),
        "50",
    ),
]


@pytest.mark.parametrize(("kind", "field", "accepted", "over", "bound"), EDGES)
def test_each_bound_accepts_its_edge_and_names_field_and_bound_past_it(
    kind: str, field: str, accepted: Any, over: Any, bound: str
) -> None:
    assert refused(with_field(kind, field, accepted)) == []
    errors = refused(with_field(kind, field, over))
    assert [name for name, _ in errors] == [field]
    assert bound in errors[0][1]


@pytest.mark.parametrize("field", ["credits_amount", "price_cents"])
def test_credit_product_numbers_are_bounded(field: str) -> None:
    product = {"id": "p", "name": "n", "credits_amount": 1, "price_cents": 1}
    ok = with_field("billing", "available_credit_products", [{**product, field: 10**12}])
    over = with_field("billing", "available_credit_products", [{**product, field: 10**12 + 1}])
    assert refused(ok) == []
    assert [name for name, _ in refused(over)] == [f"available_credit_products[0].{field}"]


def test_huge_numbers_from_the_issue_are_refused_naming_the_field() -> None:
    assert [f for f, _ in refused(with_field("message", "price.amount", "9E+125"))] == [
        "price.amount"
    ]
    assert [f for f, _ in refused(with_field("credit", "amount", 10**38))] == ["amount"]


@pytest.mark.parametrize("field", ["occurred_at", "completed_at"])
@pytest.mark.parametrize(
    ("value", "accepted"),
    [
        ("2000-01-01T00:00:00Z", True),
        ("2000-01-01T01:00:00+01:00", True),  # 2000-01-01T00:00Z exactly
        ("2000-01-01T00:59:59+01:00", False),  # 1999 in UTC
        ("2026-06-11T12:34:56Z", True),  # now + 24 h
        ("2026-06-11T14:34:57+02:00", False),  # now + 24 h + 1 s, with an offset
        ("0001-01-01T00:00:00+14:00", False),  # the offset leaves datetime's range
        ("9999-12-31T23:59:59-12:00", False),
        ("0001-01-01T00:00:00Z", False),
    ],
)
def test_every_instant_lies_in_the_window_whatever_its_offset(
    field: str, value: str, accepted: bool
) -> None:
    errors = refused(with_field("campaign", field, value))
    assert (errors == []) is accepted, errors
    if not accepted:
        assert [name for name, _ in errors] == [field]


def test_years_are_zero_padded_and_stored_short_years_still_parse() -> None:
    early = datetime(1, 1, 1, tzinfo=UTC)
    assert format_instant(early) == "0001-01-01T00:00:00.000000Z"
    assert format_millis(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000Z"
    # What an older version stored for year 1 (strftime's %Y does not pad).
    assert parse_instant("1-01-01T00:00:00.000000Z") == early
    assert format_instant(parse_instant(format_instant(early))) == format_instant(early)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ("[" * 1000 + "]" * 1000, 400, "deeper"),
        ('{"events": ' + "[" * 40 + "]" * 40 + "}", 400, "deeper"),
        ('{"events": [{"id": "\\ud800"}]}', 400, "Unicode"),
        ('{"events": [NaN]}', 400, "not valid JSON"),
        ('{"events": [Infinity]}', 400, "not valid JSON"),
        ("{not json", 400, "not valid JSON"),
    ],
)
def test_bodies_that_used_to_raise_are_400(body: str, status: int, reason: str) -> None:
    with pytest.raises(TallyError) as raised:
        parse_body(body, "application/json")
    assert raised.value.status == status
    assert raised.value.errors[0].field == "body"
    assert reason in raised.value.errors[0].reason


@pytest.mark.parametrize(
    ("number", "field"),
    [
        ("1" * 5000, "length"),  # over Python's 4,300-digit int() limit
        ("1e400", "length"),
        ("-1e400", "length"),
    ],
)
def test_numbers_past_python_limits_are_refused_naming_the_field(number: str, field: str) -> None:
    event = json.dumps(with_field("message", field, 0)).replace(
        '"length": 0', f'"length": {number}'
    )
    raw = parse_body('{"events": [' + event + "]}", "application/json")
    with pytest.raises(TallyError) as raised:
        validate_events(raw)
    assert [error.field for error in raised.value.errors] == [field]


def test_a_huge_price_in_json_number_form_is_refused() -> None:
    event = json.dumps(VALID["message"]).replace('"amount": "0.02"', '"amount": 1e400')
    raw = parse_body('{"events": [' + event + "]}", "application/json")
    with pytest.raises(TallyError) as raised:
        validate_events(raw)
    assert [error.field for error in raised.value.errors] == ["price.amount"]


@pytest.mark.parametrize("text", ["\u0663", "\uff11", "1_000", "1.0", "", "+", "9" * 20])
def test_only_ascii_digits_are_integers(text: str) -> None:
    """Arabic-Indic three and full-width one are digits to int(), not to this service."""
    with pytest.raises(ValueError, match="integer"):
        payload.integer(text)


@pytest.mark.parametrize(("text", "value"), [("7", 7), (" -3 ", -3), ("+12", 12)])
def test_ascii_integers(text: str, value: int) -> None:
    assert payload.integer(text) == value


class _Counts:
    """The two readings `entry` takes from a counters read."""

    def __init__(self, amount: Decimal) -> None:
        self._amount = amount

    def count(self, name: str) -> int:
        return 1

    def amount(self, name: str) -> Decimal:
        return self._amount


@pytest.mark.parametrize("stored", ["1E+30", "9E+125", "123456789012345678901234567.125"])
def test_channel_amounts_round_any_sum_dynamodb_can_hold(stored: str) -> None:
    interval = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC))
    result = entry(_Counts(Decimal(stored)), "sms", "EUR", interval, ZoneInfo("UTC"))  # type: ignore[arg-type]
    assert result["total_amount"] == pytest.approx(float(Decimal(stored)))
