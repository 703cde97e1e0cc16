"""A stream batch spread over worker processes (tally.fanout) counts exactly as one process
does, and its redeliveries are exact: the watermarks do not care which process wrote.

The workers are other processes, so the tables live where they reach them: DynamoDB Local,
or moto's server (the `served_aws` fixture)."""

from __future__ import annotations

from typing import Any

import pytest

from tally import counters, fanout, storage
from tally.config import reset_settings
from tally.keys import bootstrap_key
from tests.conftest import Stream, events_stream
from tests.integration.test_exactly_once import fail_after, post_busy_month, updates_of
from tests.support import counter_items, expected_counters, install_faulty_client


@pytest.fixture
def spread(served_aws: None, monkeypatch: pytest.MonkeyPatch) -> Stream:
    """Three processes, and a worker's share from 50 counter items (the busy month's ~250
    items make three shares)."""
    monkeypatch.setenv("TALLY_COUNTER_PROCESSES", "3")
    monkeypatch.setattr(counters, "_ITEMS_PER_PROCESS", 50)
    reset_settings()
    keys = {
        account: bootstrap_key(account, ["events:write"], "writer").secret
        for account in ("acme", "globex")
    }
    post_busy_month(keys)
    return events_stream()


def test_a_batch_over_three_processes_counts_exactly(spread, monkeypatch):
    records = spread.read_all()
    faulty = install_faulty_client(monkeypatch)
    result = spread.apply(records)
    expected = expected_counters()
    assert result["items_written"] == len(expected)
    # This process wrote a third; the workers wrote the rest.
    assert 0 < updates_of(faulty) < len(expected) // 2
    assert len(fanout.worker_pids()) == 2
    assert counter_items() == expected


def test_the_same_batch_again_is_skipped_in_every_process(spread):
    records = spread.read_all()
    first = spread.apply(records)
    after_first = counter_items(raw=True)
    second = spread.apply(records)
    assert second["items_written"] == 0
    assert second["items_skipped"] == first["items_written"]
    assert counter_items(raw=True) == after_first


@pytest.mark.parametrize("redelivery", ["identical", "split"])
def test_a_share_that_fails_part_way_fails_the_batch_and_the_retry_is_exact(
    spread, monkeypatch, redelivery
):
    records = spread.read_all()
    faulty = install_faulty_client(monkeypatch)
    # This process's share throttles after 10 writes; the workers' shares complete.
    fail_after(faulty, 10)
    with pytest.raises(storage.ClientError):
        spread.apply(records)
    faulty.clear()
    written = counter_items(raw=True)
    assert 10 < len(written) < len(expected_counters())
    batches: list[list[dict[str, Any]]] = (
        [records] if redelivery == "identical" else [records[:40], records[40:]]
    )
    for batch in batches:
        spread.apply(batch)
    assert counter_items() == expected_counters()
