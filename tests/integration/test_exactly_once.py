"""Exactly once, whatever the bounds of the batch a record comes back in.

Lambda delivers a shard's records at least once: the identical batch again after an
error, or other bounds after the mapping restarts from its checkpoint (a poller's
lease moved, BatchSize changed): more records behind them, fewer, split. Each test
fails a delivery part-way (some counter items written, others not), redelivers the
records in one of those shapes, and compares the whole counters table with a
recount of the raw events. Faults are injected at the DynamoDB client, above
botocore's retries; every test runs on moto and on DynamoDB Local.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from tally import counters, storage
from tests.support import (
    client_error,
    counter_items,
    expected_counters,
    install_faulty_client,
    message,
    post_events,
    read_timeout,
)


def post_busy_month(keys: dict[str, str]) -> None:
    """Two accounts, messages on 26 days (receipts included): ~250 counter items, several
    events-table partition keys (sources) writing to the same counter items."""
    for account in ("acme", "globex"):
        sent = [
            message(f"{account}-{day}", f"2026-04-{day:02d}T10:{day:02d}:00Z", status="sent")
            for day in range(1, 27)
        ]
        post_events(keys[account], sent)
        receipts = [{**event, "status": "delivered"} for event in sent[::3]]
        post_events(keys[account], receipts)


def updates_of(faulty: Any) -> int:
    return faulty.calls.get("update_item", 0)


def fail_after(faulty: Any, writes: int, error: Any = None) -> None:
    """Every counter update after the first `writes` fails (a crash part-way through)."""
    seen = [0]

    def past_budget(_: dict[str, Any]) -> bool:
        seen[0] += 1
        return seen[0] > writes

    faulty.inject(
        "update_item",
        error or (lambda: client_error("InternalServerError", "UpdateItem")),
        match=past_budget,
    )


def test_the_same_batch_twice_changes_nothing(keys, stream):
    post_busy_month(keys)
    records = stream.read_all()
    first = stream.apply(records)
    assert first["items_written"] > 100
    after_first = counter_items(raw=True)
    second = stream.apply(records)
    assert second["items_written"] == 0
    assert second["items_skipped"] == first["items_written"]
    assert counter_items(raw=True) == after_first
    assert counter_items() == expected_counters()


@pytest.mark.parametrize("shape", ["identical", "larger", "split", "smaller-then-rest"])
def test_a_partial_failure_then_a_redelivery_of_any_shape(keys, stream, monkeypatch, shape):
    post_busy_month(keys)
    records = stream.read_all()
    cut = len(records) * 2 // 3
    batch, behind = records[:cut], records[cut:]
    faulty = install_faulty_client(monkeypatch)
    fail_after(faulty, 40)
    with pytest.raises(storage.ClientError):
        stream.apply(batch)
    faulty.clear()
    partial = counter_items()
    assert partial, "some items were written before the failure"
    assert partial != expected_counters()

    if shape == "identical":
        stream.apply(batch)
        stream.apply(behind)
    elif shape == "larger":
        # The mapping restarted from its checkpoint and read more records behind the batch.
        stream.apply(records)
    elif shape == "split":
        for offset in range(0, len(records), 7):
            stream.apply(records[offset : offset + 7])
    else:
        stream.apply(batch[: cut // 3])
        stream.apply(records[cut // 3 :])
    assert counter_items() == expected_counters()


def test_a_lost_response_after_a_committed_update_is_not_applied_twice(keys, stream, monkeypatch):
    """The update reached DynamoDB, its response did not (a read timeout): the retry of a
    smaller batch finds the watermark and skips it."""
    post_busy_month(keys)
    records = stream.read_all()
    faulty = install_faulty_client(monkeypatch)
    faulty.inject("update_item", read_timeout, times=3, after_call=True)
    with pytest.raises(Exception, match="Read timeout"):
        stream.apply(records)
    faulty.clear()
    for offset in range(0, len(records), 50):
        stream.apply(records[offset : offset + 50])
    assert counter_items() == expected_counters()


def test_throttling_fails_the_batch_and_the_retry_is_exact(keys, stream, monkeypatch):
    post_busy_month(keys)
    records = stream.read_all()
    faulty = install_faulty_client(monkeypatch)
    faulty.inject(
        "update_item",
        lambda: client_error("ProvisionedThroughputExceededException", "UpdateItem"),
        times=5,
    )
    with pytest.raises(storage.ClientError):
        stream.apply(records)
    faulty.clear()
    stream.apply(records)
    assert counter_items() == expected_counters()


def test_a_batch_writes_each_item_once_concurrently_and_no_transactions(keys, stream, monkeypatch):
    post_busy_month(keys)
    records = stream.read_all()
    faulty = install_faulty_client(monkeypatch)
    result = stream.apply(records)
    expected = expected_counters()
    assert result["items_written"] == len(expected)
    assert updates_of(faulty) == len(expected)
    assert "transact_write_items" not in faulty.calls
    assert counter_items() == expected


def test_lambda_like_redelivery_chaos_never_loses_or_doubles(keys, stream, monkeypatch):
    """Random batch sizes, random crashes part-way, restarts from the checkpoint with new
    bounds (as after a lease move), until every record is through."""
    post_busy_month(keys)
    records = stream.read_all()
    faulty = install_faulty_client(monkeypatch)
    rng = random.Random(20261206)
    checkpoint = deliveries = failures = 0
    while checkpoint < len(records):
        size = rng.choice((1, 3, 8, 20))
        batch = records[checkpoint : checkpoint + size]
        faulty.clear()
        if rng.random() < 0.5:
            fail_after(faulty, rng.randrange(0, 8))
        deliveries += 1
        try:
            stream.apply(batch)
        except storage.ClientError:
            failures += 1
            continue
        checkpoint += len(batch)
    faulty.clear()
    assert failures >= 5, "the run must exercise redeliveries"
    assert counter_items() == expected_counters()
    assert deliveries > failures


def test_watermark_positions_sort_like_sequence_numbers():
    numbers = ["1", "9", "10", "61", "62", "100000000000000000000001", "9" * 40]
    positions = [counters.position(number) for number in numbers]
    assert positions == sorted(positions)
    assert {len(position) for position in positions} == {counters.POSITION_WIDTH}
    with pytest.raises(ValueError, match="sequence number"):
        counters.position("12a")
