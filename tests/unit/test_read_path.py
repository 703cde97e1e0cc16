"""The read path's fast paths agree with what they replace: the calendar by date ordinals
with timezone-aware datetimes, the storage codecs with boto3's, and the shared thread pool
with a pool per call."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from hypothesis import given, settings
from hypothesis import strategies as st

from tally import storage
from tally.counters import Counts
from tally.timeutil import Resolution, cover, signed_cover


def calendar_floor(resolution: Resolution, epoch: int) -> int:
    moment = datetime.fromtimestamp(epoch, UTC)
    month = 1 if resolution is Resolution.YEAR else moment.month
    return int(datetime(moment.year, month, 1, tzinfo=UTC).timestamp())


def calendar_next(resolution: Resolution, start: int) -> int:
    moment = datetime.fromtimestamp(start, UTC)
    if resolution is Resolution.YEAR or moment.month == 12:
        return int(datetime(moment.year + 1, 1, 1, tzinfo=UTC).timestamp())
    return int(datetime(moment.year, moment.month + 1, 1, tzinfo=UTC).timestamp())


@settings(max_examples=500, deadline=None)
@given(
    epoch=st.integers(-(10**9), 4 * 10**9),
    resolution=st.sampled_from([Resolution.MONTH, Resolution.YEAR]),
)
def test_months_and_years_match_the_datetime_calendar(epoch: int, resolution: Resolution) -> None:
    start = resolution.floor(epoch)
    assert start == calendar_floor(resolution, epoch)
    assert resolution.next(start) == calendar_next(resolution, start)


def test_resolutions_key_dicts_by_identity() -> None:
    sizes = {resolution: resolution.seconds for resolution in Resolution}
    assert sizes[Resolution.DAY] == 86400
    assert sizes[Resolution("M")] is None
    assert len({*Resolution, *Resolution}) == len(Resolution)


def test_a_long_range_is_tiled_by_years_months_and_days() -> None:
    start = int(datetime(2000, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(2026, 6, 10, tzinfo=UTC).timestamp())
    buckets = cover(start, end)
    resolutions = [bucket.resolution for bucket in buckets]
    assert resolutions == [Resolution.YEAR] * 26 + [Resolution.MONTH] * 5 + [Resolution.DAY] * 9
    assert [(sign, bucket) for sign, bucket in signed_cover(start, end)] == [
        (1, bucket) for bucket in buckets
    ]


ITEM = {
    "pk": "acme#d#1780531200",
    "msg:sms:total": Decimal("12"),
    "amt:sms:EUR": Decimal("0.0400"),
    "huge": Decimal("9E+125"),
    "~w#3": "000000000000000000A1b2C",
    "flags": {"a", "b"},
    "nested": {"list": [Decimal(1), "x", True, None], "binary": b"\x00"},
}


def test_codecs_match_boto3() -> None:
    wire = storage.serialize(ITEM)
    assert wire == {name: TypeSerializer().serialize(value) for name, value in ITEM.items()}
    assert storage.deserialize(wire) == ITEM
    assert storage.deserialize({"n": {"N": "9E+125"}})["n"] == Decimal("9E+125")
    assert TypeDeserializer().deserialize({"S": "x"}) == storage.deserialize({"s": {"S": "x"}})["s"]


def test_counts_subtract_exactly() -> None:
    counts = Counts()
    counts.add({"pk": "x", "a": Decimal(10**37), "b": Decimal("0.5"), "~w": "mark"})
    counts.add({"a": Decimal(1), "b": Decimal("0.25")}, -1)
    assert counts == {"a": Decimal(10**37 - 1), "b": Decimal("0.25")}
    assert counts.count("missing") == 0


def test_counts_added_from_counts_as_from_a_stored_item() -> None:
    # A Counts skips the stored item's filter (key, TTL, non-numbers): same sums either way.
    big = Decimal(10**37)
    stored = {"pk": "acme#d#1", "expires_at": Decimal(99), "note": "x", "a": big, "b": Decimal(2)}
    from_item, from_counts = Counts({"a": big}), Counts({"a": big})
    from_item.add(stored, -1)
    from_counts.add(Counts({"a": big, "b": Decimal(2)}), -1)
    assert from_item == from_counts == {"a": Decimal(0), "b": Decimal(-2)}
    from_counts.add(Counts({"b": Decimal(3)}))
    assert from_counts == {"a": 0, "b": 1}


def test_parallel_keeps_order_and_waits_for_every_call() -> None:
    finished: list[int] = []
    lock = threading.Lock()

    def work(number: int) -> int:
        if number == 0:
            raise ValueError("first")
        with lock:
            finished.append(number)
        return number * 2

    assert storage.parallel(lambda n: n * 2, list(range(50))) == [n * 2 for n in range(50)]
    with pytest.raises(ValueError, match="first"):
        storage.parallel(work, list(range(20)))
    assert sorted(finished) == list(range(1, 20))


def test_parallel_inside_a_worker_runs_in_turn() -> None:
    def outer(number: int) -> list[str]:
        return storage.parallel(lambda _: threading.current_thread().name, [number, number])

    names = storage.parallel(outer, list(range(2 * storage.WORKERS)))
    # An outer call on a worker ran its inner calls on its own thread: no worker waited on
    # the pool. (The first outer call runs on the calling thread, which may use the pool.)
    on_workers = [pair for pair in names if pair[0].startswith("tally-io")]
    assert len(on_workers) >= len(names) - 1
    assert all(len(set(pair)) == 1 for pair in on_workers)


class _OneBatch:
    """A client answering BatchGetItem once with canned items, then nothing unprocessed."""

    def __init__(self, items: list[dict[str, object]]) -> None:
        self.items = items

    def batch_get_item(self, RequestItems: dict[str, object]) -> dict[str, object]:
        return {"Responses": {"T": self.items}, "UnprocessedKeys": {}}


def test_numbers_are_read_straight_from_the_wire_and_nothing_else(monkeypatch) -> None:
    stored = {
        "pk": "acme#d#1780531200",
        "msg:sms:sent": Decimal("12"),
        "amt:sms:EUR": Decimal("0.240000"),
        "expires_at": 1780531200,
        "~w3": "0000000000000000000000ab",
        "names": {"a", "b"},
    }
    wire = {name: TypeSerializer().serialize(value) for name, value in stored.items()}
    monkeypatch.setattr(storage, "client", lambda: _OneBatch([wire]))
    [(key, numbers)] = storage.batch_get_numbers("T", "pk", ["acme#d#1780531200"])
    assert key == "acme#d#1780531200"
    assert numbers == {
        "msg:sms:sent": Decimal("12"),
        "amt:sms:EUR": Decimal("0.240000"),
        "expires_at": Decimal("1780531200"),
    }
    # The same values as decoding the whole item would give.
    whole = {name: TypeDeserializer().deserialize(value) for name, value in wire.items()}
    assert all(numbers[name] == whole[name] for name in numbers)
