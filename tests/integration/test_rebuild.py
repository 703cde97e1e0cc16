"""`tally rebuild` (tally.rebuild and the CLI in tally_dev.ops) against moto."""

from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from tally import storage
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
)

OLD = "2026-04-01T08:00:00Z"  # more than 35 days before TALLY_NOW: minute bucket expired


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
    assert counter_items(raw=True) == expected_raw()
    assert result.items_written == len(counter_items())
    assert result.expired_skipped == 1

    # A batch applied before the rebuild and redelivered after it is still skipped.
    assert stream.apply(applied)["chunks_skipped"] == 1
    assert counter_items(raw=True) == expected_raw()


def expected_raw() -> dict[str, dict[str, object]]:
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
    put_counter("acme#d#0", **{"msg:sms:total": 7})  # stale: no event produces it
    put_counter("acme#all", **{"msg:sms:total": 99, "msg:sms:failed": 0})
    put_counter("globex#d#0", **{"msg:sms:total": 5})
    put_counter("~batch#abc#0", items=3)
    before = counter_items(raw=True)

    result = rebuild("acme")
    after = counter_items(raw=True)
    assert result.items_deleted == 1
    assert "acme#d#0" not in after
    assert after["acme#all"] == expected_counters()["acme#all"]
    assert {k: v for k, v in after.items() if not k.startswith("acme#")} == {
        k: v for k, v in before.items() if not k.startswith("acme#")
    }
    marker = storage.get_item(get_settings().counters_table, {"pk": "~batch#abc#0"})
    assert marker == {"pk": "~batch#abc#0", "items": 3}


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
    assert "expires_at" not in items["acme#all"]


def test_batch_write_retries_unprocessed_items_then_gives_up(aws, monkeypatch):
    client = storage.client()
    real = client.batch_write_item
    monkeypatch.setattr(storage, "_backoff", lambda attempt: None)
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
    put_counter("acme#all", **{"msg:sms:total": 42})
    code, out, _ = run_cli(capsys, "rebuild", "--account", "acme")
    assert code == 0
    report = json.loads(out)
    assert report["account"] == "acme"
    assert report["events"] == 4  # m1 and the usage events of the fixture's 3 acme keys
    assert counter_items() == expected_counters()
