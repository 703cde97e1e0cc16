"""One bad record never stalls the stream or costs another account its counts.

Records that DynamoDB refuses (a counter pushed out of its number range) or that the
counting rules cannot read are set aside into the quarantine, the same way on every
delivery, and everything else of the batch is counted exactly once. The bad data is
written straight into the events table, as data from before the ingest bounds would be.
DynamoDB Local refuses out-of-range numbers itself; moto stores them, so on moto the
client check below plays DynamoDB's part.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from tally import counters, events, quarantine, storage
from tally.config import get_settings
from tally_dev import cli
from tests.conftest import ENGINE
from tests.support import (
    client_error,
    counter_items,
    expected_counters,
    install_faulty_client,
    invoke,
    message,
    post_events,
    proxy_event,
)

HUGE = Decimal("9E+125")  # DynamoDB's largest magnitude is just under 1E+126
YEAR = "acme#Y#1767225600"


@pytest.fixture
def number_range(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """On moto, refuse an ADD that leaves DynamoDB's number range, as DynamoDB does."""
    if ENGINE != "moto":
        yield
        return
    faulty = install_faulty_client(monkeypatch)
    table = get_settings().counters_table

    def overflows(kwargs: dict[str, Any]) -> bool:
        if kwargs.get("TableName") != table or "ADD" not in kwargs.get("UpdateExpression", ""):
            return False
        current = storage.get_item(table, storage.deserialize(kwargs["Key"])) or {}
        names = kwargs.get("ExpressionAttributeNames", {})
        values = storage.deserialize(kwargs.get("ExpressionAttributeValues", {}))
        for placeholder, value in values.items():
            name = names.get("#" + placeholder[1:])
            if (
                isinstance(value, Decimal)
                and name is not None
                and abs(Decimal(current.get(name, 0)) + value) >= Decimal("1E+126")
            ):
                return True
        return False

    faulty.inject(
        "update_item",
        lambda: client_error("ValidationException", "UpdateItem"),
        match=overflows,
    )
    yield


def put_raw(account: str, event_id: str, **fields: Any) -> None:
    """A message item written without ingest's bounds (data from before they existed)."""
    item = {
        "account": account,
        "kind": "message",
        "event_id": event_id,
        "occurred_at": "2026-06-10T12:00:00.000000Z",
        "channel": "sms",
        "status": "sent",
        "rev": 1,
        **fields,
    }
    storage.put_item(get_settings().events_table, events.with_keys(account, item, in_activity=True))


def counts_of(account: str) -> dict[str, dict[str, Any]]:
    return {key: item for key, item in counter_items().items() if key.startswith(f"{account}#")}


def recount_of(account: str) -> dict[str, dict[str, Any]]:
    """The oracle for one account (the whole table's would overflow on the bad data)."""
    return {
        key: {**values, **({"expires_at": expires} if expires else {})}
        for key, values, expires in counters.recount(events.raw_events(account)).nonzero()
    }


def test_a_refused_record_costs_no_other_account_anything_and_is_set_aside_once(
    keys, stream, number_range
):
    post_events(keys["globex"], [message(f"g{n}", status="delivered") for n in range(5)])
    for number in (1, 2):
        put_raw("acme", f"huge{number}", price={"amount": HUGE, "currency": "EUR"})
    post_events(keys["acme"], [message("fine", status="sent")])
    records = stream.read_all()
    result = stream.apply(records)
    # The second huge price does not fit any of its six time items: six pieces set aside.
    assert result["records_quarantined"] == 6
    assert counts_of("globex") == recount_of("globex")
    entries = list(quarantine.entries("acme"))
    assert len(entries) == 6
    (refused,) = {entry["event"] for entry in entries}
    assert counter_items()[YEAR]["msg:sms:total"] == 2  # fine, and the huge price that fit
    assert counter_items()[YEAR]["amt:sms:EUR"] == HUGE

    # Every redelivery shape sets aside nothing more and counts nothing twice.
    before = counter_items()
    stream.apply(records)
    for offset in range(0, len(records), 3):
        stream.apply(records[offset : offset + 3])
    assert counter_items() == before
    assert len(list(quarantine.entries("acme"))) == 6

    # The operator removes the other huge event; its removal flows through the stream, and
    # the quarantined pieces now fit: replayed once, the counters equal the recount.
    kept = next(f"huge{n}" for n in (1, 2) if f"message#huge{n}" != refused)
    storage.client().delete_item(
        TableName=get_settings().events_table,
        Key=storage.serialize(events.event_key("acme", "message", kept)),
    )
    stream.drain()
    code, out = run_cli("quarantine", "replay", "--account", "acme")
    assert code == 0, out
    assert list(quarantine.entries("acme")) == []
    assert counter_items() == expected_counters()
    assert run_cli("quarantine", "list")[1] == ""


def test_an_unreadable_record_is_set_aside_whole_and_the_rest_is_counted(keys, stream):
    put_raw("acme", "no-time", occurred_at="yesterday at noon")
    post_events(keys["acme"], [message("m1", status="sent")])
    records = stream.read_all()
    assert stream.apply(records)["records_quarantined"] == 1
    stream.apply(records)
    (entry,) = quarantine.entries("acme")
    assert (entry["event"], entry["item"]) == ("message#no-time", quarantine.WHOLE_RECORD)
    assert "occurred_at" in entry["new_image"]
    assert counter_items()[YEAR]["msg:sms:total"] == 1
    code, out = run_cli("quarantine", "list", "--account", "acme")
    assert code == 0
    assert json.loads(out)["event"] == "message#no-time"
    # Still unreadable: replay reports it and keeps the entry.
    code, out = run_cli("quarantine", "replay")
    assert code == 1
    assert "still refused" in out
    assert len(list(quarantine.entries())) == 1


def run_cli(*argv: str) -> tuple[int, str]:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(list(argv))
    return code, out.getvalue()


def test_stored_campaigns_that_cannot_be_read_never_break_the_reports(keys, stream):
    """Campaign items from before the bounds: an unreadable completion time, an unreadable
    creation time. The reports answer; the first shows without a completion time."""
    base = {"account": "acme", "kind": "campaign", "status": "completed", "rev": 1, "name": "Old"}
    for event_id, fields in (
        ("bad-done", {"occurred_at": "2026-06-01T10:00:00.000000Z", "completed_at": "soon"}),
        ("bad-made", {"occurred_at": "2026-06-01T1"}),
    ):
        item = events.with_keys("acme", {**base, "event_id": event_id, **fields}, in_activity=False)
        storage.put_item(get_settings().events_table, item)
    for route in ("top-campaigns", "export"):
        response = invoke(
            "analytics",
            proxy_event(
                "GET",
                f"/api/analytics/{route}",
                key=keys["acme"],
                query={"startDate": "2026-05-01", "endDate": "2026-06-10"},
            ),
        )
        assert response["statusCode"] == 200, response["body"]
    assert "Old" in response["body"]
