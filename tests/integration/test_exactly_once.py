"""Fault injection on the counters pipeline: redelivery, partial failure, throttling."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tally import counters, storage
from tests.support import counter_items, expected_counters, message, post_events


def post_many(keys) -> None:
    """Sent messages on 26 different days: 106 distinct counter items, two transactions."""
    post_events(
        keys["acme"],
        [message(f"m{d}", f"2026-04-{d:02d}T10:{d:02d}:00Z", status="sent") for d in range(1, 27)],
    )


def chunks_of(records: list[dict[str, Any]]) -> int:
    changes = [
        counters.StreamChange(
            r["dynamodb"]["SequenceNumber"],
            storage.deserialize(r["dynamodb"].get("OldImage", {})),
            storage.deserialize(r["dynamodb"].get("NewImage", {})),
        )
        for r in records
    ]
    items = counters.merge_changes(changes).nonzero()
    return -(-len(items) // counters.CHUNK_UPDATES)


def flaky(fails: Callable[[int], bool], error: Callable[[], Exception]) -> Callable[..., None]:
    """storage.transact_write raising `error()` on the calls (1-based) where `fails` holds."""
    real = storage.transact_write
    calls = [0]

    def transact_write(actions):
        calls[0] += 1
        if fails(calls[0]):
            raise error()
        real(actions)

    return transact_write


def server_error() -> ClientError:
    return ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")


def throttled() -> storage.TransactionCancelled:
    return storage.TransactionCancelled(["None", "ThrottlingError", "None"])


def test_same_batch_twice_changes_nothing(keys, stream):
    post_events(keys["acme"], [message("m1", status="sent"), message("m2", channel="mms")])
    records = stream.read_all()
    first = stream.apply(records)
    assert first["chunks_applied"] == 1
    after_first = counter_items(raw=True)
    second = stream.apply(records)
    assert second["chunks_skipped"] == 1
    assert second["chunks_applied"] == 0
    assert second["items_written"] == 0
    assert counter_items(raw=True) == after_first
    assert counter_items() == expected_counters()


def test_failure_after_some_chunks_then_identical_retry(keys, stream, monkeypatch):
    post_many(keys)
    records = stream.read_all()
    total = chunks_of(records)
    assert total >= 2, "the batch must span several transactions"
    with monkeypatch.context() as patch:
        patch.setattr(storage, "transact_write", flaky(lambda call: call > 1, server_error))
        with pytest.raises(ClientError):
            stream.apply(records)
    partial = counter_items()
    assert partial
    assert partial != expected_counters()

    retry = stream.apply(records)
    assert retry["chunks_skipped"] == 1
    assert retry["chunks_applied"] == total - 1
    assert counter_items() == expected_counters()
    assert stream.apply(records)["chunks_skipped"] == total


def test_transient_throttling_is_retried_within_the_batch(keys, stream, monkeypatch):
    post_many(keys)
    monkeypatch.setattr(storage, "transact_write", flaky(lambda call: call in (1, 3), throttled))
    result = stream.drain()
    assert result is not None
    assert result["chunks_skipped"] == 0
    assert counter_items() == expected_counters()


def test_persistent_throttling_raises_and_the_retry_is_exact(keys, stream, monkeypatch):
    post_many(keys)
    records = stream.read_all()
    with monkeypatch.context() as patch:
        patch.setattr(storage, "transact_write", flaky(lambda call: True, throttled))
        with pytest.raises(storage.TransactionCancelled):
            stream.apply(records)
    assert counter_items() == {}, "a cancelled chunk leaves no trace"
    stream.apply(records)
    assert counter_items() == expected_counters()


def test_other_cancellation_reasons_are_not_retried(keys, stream, monkeypatch):
    post_events(keys["acme"], [message("m1")])
    records = stream.read_all()
    calls: list[int] = []

    def invalid(actions):
        calls.append(1)
        raise storage.TransactionCancelled(["None", "ValidationError"])

    monkeypatch.setattr(storage, "transact_write", invalid)
    with pytest.raises(storage.TransactionCancelled):
        stream.apply(records)
    assert len(calls) == 1


def test_wire_level_cancellation_is_translated_and_retried(keys, stream, monkeypatch):
    """A TransactionCanceledException from the SDK, as DynamoDB sends it under contention."""
    post_many(keys)
    client = storage.client()
    real = client.transact_write_items
    calls = [0]

    def transact_write_items(**request):
        calls[0] += 1
        if calls[0] <= 2:
            reasons = [{"Code": "None"}] * (len(request["TransactItems"]) - 1)
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
                    "CancellationReasons": [{"Code": "TransactionConflict"}, *reasons],
                },
                "TransactWriteItems",
            )
        return real(**request)

    monkeypatch.setattr(client, "transact_write_items", transact_write_items)
    result = stream.drain()
    assert result is not None
    assert calls[0] > 2
    assert counter_items() == expected_counters()
