"""The benchmark's counting designs and partition arithmetic (pure: no DynamoDB)."""

from __future__ import annotations

from decimal import Decimal

from bench import dataset, designs, ingest_cost
from bench.meter import item_size
from tally import storage
from tally.timeutil import parse_instant

CLOCK = parse_instant("2026-06-10T12:34:56Z")
STAMP = "2026-06-10T12:34:56.000000Z"


def test_merging_a_batch_writes_each_item_once() -> None:
    busy = dataset.busy_items(0, 1000, CLOCK, STAMP)
    per_event, merged = designs.PerEvent(), designs.MergedPerBatch()
    per_event.batch(busy)
    merged.batch(busy)
    # One account, one minute or two: a few dozen items against ~6 per event.
    assert merged.cost.writes < 50
    assert per_event.cost.writes > 5000
    assert merged.cost.wcu < per_event.cost.wcu
    # Both designs end with the same counters.
    assert per_event.items == merged.items


def test_without_shared_items_merging_saves_nothing() -> None:
    solo = dataset.workload_items("solo", 1000, 1, CLOCK, STAMP)
    per_event, merged = designs.PerEvent(), designs.MergedPerBatch()
    per_event.batch(solo)
    merged.batch(solo)
    assert merged.cost.writes == per_event.cost.writes
    assert merged.cost.wcu == per_event.cost.wcu


def test_writes_are_billed_at_the_item_size_after_them() -> None:
    table = designs.Simulated()
    wide = {f"attribute:{n:04d}": Decimal(n + 1) for n in range(80)}
    table.update("a#d#0", wide, None)
    size = item_size(storage.serialize(table.items["a#d#0"]))
    assert size > 1024
    assert table.cost.wcu == -(-size // 1024)
    table.update("a#d#0", {"attribute:0000": Decimal(1)}, 90)
    assert table.items["a#d#0"]["attribute:0000"] == 2
    assert table.items["a#d#0"]["expires_at"] == 90


def test_zipf_mix_has_a_head_and_a_long_tail() -> None:
    items = dataset.zipf_items(1, CLOCK, STAMP)
    accounts = [item["account"] for item in items]
    top = max(set(accounts), key=accounts.count)
    assert top == "zipf-00000"
    assert 50 < accounts.count(top) < 200
    assert len(set(accounts)) > 400


def test_partition_keys_share_an_accounts_load() -> None:
    load = ingest_cost.key_load(1000, 2, insert_wcu=1, update_wcu=1, index_wcu=1)
    assert load.table_mean == 375
    assert load.index_mean == 125
    assert load.table_mean < load.table_peak < 500
    limit = ingest_cost.max_rate(2, 1, 1, 1)
    assert ingest_cost.key_load(limit, 2, 1, 1, 1).table_peak <= ingest_cost.PARTITION_WCU
    assert ingest_cost.key_load(limit + 100, 2, 1, 1, 1).table_peak > ingest_cost.PARTITION_WCU
