"""`tally rebuild` (tally.rebuild and the CLI in tally_dev.ops) against moto."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from botocore.exceptions import ClientError

from tally import events, quarantine, storage
from tally.config import get_settings
from tally.rebuild import rebuild
from tally.timeutil import MINUTE_RETENTION_SECONDS, epoch, now
from tally_dev import cli
from tests.support import (
    counter_items,
    expected_counters,
    invoke,
    message,
    post_events,
    proxy_event,
    stored_events,
)

OLD = "2026-04-01T08:00:00Z"  # more than 35 days before TALLY_NOW: minute bucket expired
YEAR_2026 = 1767225600  # 2026-01-01T00:00:00Z


def put_counter(key: str, **values: int) -> None:
    storage.put_item(get_settings().counters_table, {"pk": key, **values})


def test_rebuild_restores_counters_after_a_lost_batch(keys, stream):
    post_events(keys["acme"], [message("m1", status="sent"), message("m2", OLD, status="sent")])
    stream.drain()
    post_events(keys["acme"], [message("m1", status="failed"), message("m3", channel="mms")])
    lost = stream.read_all()  # the batch that exhausted its retries and went to the queue
    post_events(keys["globex"], [message("g1")])
    applied = stream.read_all()
    stream.apply(applied)
    assert lost
    assert counter_items() != expected_counters()

    result = rebuild()
    assert counter_items() == expected_live()
    assert result.items_written == len(counter_items())
    assert result.expired_skipped == 1
    assert result.quarantined == 0

    # The rewritten items keep their watermarks: a batch applied before the rebuild and
    # redelivered after it is still skipped.
    assert stream.apply(applied)["items_written"] == 0
    assert counter_items() == expected_live()


def expected_live() -> dict[str, dict[str, object]]:
    """What a rebuild writes: the recount without zero counters or expired minute buckets."""
    cutoff = epoch(now())
    return {
        key: values
        for key, values in expected_counters().items()
        if values.get("expires_at", cutoff + 1) > cutoff
    }


def test_account_rebuild_touches_only_that_account(keys, stream):
    post_events(keys["acme"], [message("m1", status="sent")])
    post_events(keys["globex"], [message("g1", status="sent")])
    stream.drain()
    year = f"acme#Y#{YEAR_2026}"
    watermarks = {k: v for k, v in counter_items(raw=True)[year].items() if k.startswith("~w")}
    assert watermarks
    put_counter("acme#d#0", **{"msg:sms:total": 7})  # stale: no event produces it
    storage.update_item(
        get_settings().counters_table,
        {"pk": year},
        "SET #t = :wrong",
        names={"#t": "msg:sms:total"},
        values={":wrong": 99},
    )
    put_counter("globex#d#0", **{"msg:sms:total": 5})
    before = counter_items(raw=True)

    result = rebuild("acme")
    after = counter_items(raw=True)
    assert result.items_deleted == 1
    assert "acme#d#0" not in after
    assert counter_items()[year] == expected_counters()[year]
    assert {k: v for k, v in after[year].items() if k.startswith("~w")} == watermarks
    assert {k: v for k, v in after.items() if not k.startswith("acme#")} == {
        k: v for k, v in before.items() if not k.startswith("acme#")
    }


def test_rebuild_keeps_minute_ttls(keys):
    post_events(keys["acme"], [message("m1", "2026-06-10T12:00:30Z")])
    rebuild("acme")
    items = counter_items(raw=True)
    minute = 1781092800  # 2026-06-10T12:00:00Z
    assert items[f"acme#m#{minute}"]["expires_at"] == minute + MINUTE_RETENTION_SECONDS
    assert all(
        "expires_at" not in items[f"acme#{res}#{start}"]
        for res, start in (("q", minute), ("h", minute), ("d", minute - 12 * 3600))
    )
    assert "expires_at" not in items[f"acme#Y#{YEAR_2026}"]


def test_rebuild_sets_aside_what_it_cannot_store_and_never_stops(keys):
    """Stored data that predates the ingest bounds: a price whose sum leaves DynamoDB's
    number range, an event the counting rules cannot read. Rebuild writes everything
    else, quarantines those, and reports them."""
    post_events(keys["acme"], [message("ok", status="sent")])
    table = get_settings().events_table
    base = next(item for item in stored_events("acme") if item["kind"] == "message")
    for number in (1, 2):
        storage.put_item(
            table,
            {
                **base,
                **events.event_key("acme", "message", f"huge{number}"),
                "event_id": f"huge{number}",
                "price": {"amount": Decimal("9E+125"), "currency": "EUR"},
            },
        )
    storage.put_item(
        table,
        {
            **base,
            **events.event_key("acme", "message", "bad"),
            "event_id": "bad",
            "occurred_at": "yesterday",
        },
    )
    result = rebuild("acme")
    entries = list(quarantine.entries("acme"))
    # The second huge price overflows each of its 6 time items; `bad` cannot be read at all.
    assert result.quarantined == len(entries) == 7
    assert result.refused_items == []
    assert {(entry["event"], entry["item"] == quarantine.WHOLE_RECORD) for entry in entries} == {
        ("message#bad", True),
        (f"message#huge{2 if huge_first(1) else 1}", False),
    }
    year = counter_items()[f"acme#Y#{YEAR_2026}"]
    assert year["msg:sms:total"] == 2  # ok and the huge price that fits
    assert year["amt:sms:EUR"] == Decimal("9E+125")


def huge_first(number: int) -> bool:
    """Whether rebuild reads huge{number} before the other (it reads partition by partition)."""
    order = [item["event_id"] for item in events.raw_events("acme")]
    return order.index(f"huge{number}") < order.index(f"huge{3 - number}")


def test_batch_write_retries_unprocessed_items_then_gives_up(aws, monkeypatch):
    client = storage.client()
    real = client.batch_write_item
    monkeypatch.setattr(storage, "backoff", lambda attempt: None)
    calls: list[int] = []

    table = get_settings().counters_table

    def stingy(RequestItems):
        calls.append(len(RequestItems[table]))
        first, *rest = RequestItems[table]
        real(RequestItems={table: [first]})
        return {"UnprocessedItems": {table: rest} if rest else {}}

    monkeypatch.setattr(client, "batch_write_item", stingy)
    storage.batch_write(table, [{"pk": f"k{n}", "v": n} for n in range(5)], [])
    assert calls == [5, 4, 3, 2, 1]
    assert len(counter_items(raw=True)) == 5

    monkeypatch.setattr(
        client, "batch_write_item", lambda RequestItems: {"UnprocessedItems": RequestItems}
    )
    with pytest.raises(ClientError, match="UnprocessedItems"):
        storage.batch_write(table, [], [{"pk": "k1"}])


def test_batch_write_chunks_by_25(aws, monkeypatch):
    client = storage.client()
    real = client.batch_write_item
    sizes: list[int] = []
    table = get_settings().counters_table

    def counting(RequestItems):
        sizes.append(len(RequestItems[table]))
        return real(RequestItems=RequestItems)

    monkeypatch.setattr(client, "batch_write_item", counting)
    storage.batch_write(table, [{"pk": f"k{n}"} for n in range(60)], [{"pk": "gone"}])
    assert sizes == [25, 25, 11]


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()  # drop what the handlers printed before
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_keys_create_prints_a_working_key(aws, capsys, monkeypatch):
    # Flags name the tables; the variables are set (to the same names) so the test restores them.
    keys_table, events_table = get_settings().keys_table, get_settings().events_table
    monkeypatch.setenv("TALLY_KEYS_TABLE", keys_table)
    monkeypatch.setenv("TALLY_EVENTS_TABLE", events_table)
    code, out, _ = run_cli(
        capsys,
        "keys", "create", "--account", "acme", "--scopes", "events:write, stats:read",
        "--name", "ops", "--keys-table", keys_table, "--events-table", events_table,
        "--region", "us-east-1",
    )  # fmt: skip
    assert code == 0
    created = json.loads(out)
    assert created["account"] == "acme"
    assert created["scopes"] == ["events:write", "stats:read"]
    assert created["name"] == "ops"
    assert created["secret"].startswith("tk_")
    response = invoke(
        "ingest",
        proxy_event("POST", "/v1/events", key=created["secret"], body={"events": [message("m1")]}),
    )
    assert response["statusCode"] == 200


def test_cli_keys_create_rejects_unknown_scopes(aws, capsys):
    code, out, err = run_cli(capsys, "keys", "create", "--account", "acme", "--scopes", "root")
    assert code == 2
    assert out == ""
    assert "scopes" in err


def test_cli_rebuild_reports_and_repairs(keys, stream, capsys):
    post_events(keys["acme"], [message("m1", status="sent")])
    stream.drain()
    put_counter(f"acme#Y#{YEAR_2026}", **{"msg:sms:total": 42})
    code, out, _ = run_cli(capsys, "rebuild", "--account", "acme")
    assert code == 0
    report = json.loads(out)
    assert report["account"] == "acme"
    assert report["events"] == 4  # m1 and the usage events of the fixture's 3 acme keys
    assert counter_items() == expected_counters()
