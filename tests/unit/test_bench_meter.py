"""DynamoDB billing arithmetic of the benchmark's meter (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bench.meter import Layout, Meter, item_size, read_units, value_size, write_units


def test_value_sizes_follow_dynamodb_rules() -> None:
    assert value_size({"S": "héllo"}) == 6  # UTF-8 bytes
    assert value_size({"N": "1000"}) == 2  # one significant digit: 1 + 1
    assert value_size({"N": "123.45"}) == 4  # five digits: 3 + 1
    assert value_size({"N": "-0.0020"}) == 2
    assert value_size({"BOOL": True}) == 1
    assert value_size({"NULL": True}) == 1
    # Maps and lists: 3 bytes, plus 1 per element.
    assert value_size({"M": {"ab": {"S": "xyz"}}}) == 3 + 2 + 3 + 1
    assert value_size({"L": [{"S": "a"}, {"N": "7"}]}) == 3 + (1 + 1) + (2 + 1)


def test_item_size_counts_names() -> None:
    assert item_size({"pk": {"S": "acme#all"}, "msg:sms:total": {"N": "12"}}) == 2 + 8 + 13 + 2


def test_capacity_units_round_up() -> None:
    assert read_units(0, consistent=False) == 0.5
    assert read_units(4096, consistent=False) == 0.5
    assert read_units(4097, consistent=True) == 2
    assert write_units(1024, transactional=False) == 1
    assert write_units(1025, transactional=True) == 4


def test_a_projected_batch_get_is_billed_for_whole_items() -> None:
    big = {"pk": {"S": "acme#d#0"}, **{f"n{i:04d}": {"N": "1"} for i in range(1200)}}
    stored = {"acme#d#0": big}

    def fetch(table: str, keys: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        return [stored[key["pk"]["S"]] for key in keys if key["pk"]["S"] in stored]

    meter = Meter(fetch, {"counters": Layout(keys=("pk",))})
    request = {
        "Keys": [{"pk": {"S": "acme#d#0"}}, {"pk": {"S": "acme#d#60"}}],
        "ProjectionExpression": "#0, #1",
        "ExpressionAttributeNames": {"#0": "pk", "#1": "n0001"},
    }
    projected = {"pk": {"S": "acme#d#0"}, "n0001": {"N": "1"}}
    meter._count_response(
        "BatchGetItem",
        {"RequestItems": {"counters": request}},
        {"Responses": {"counters": [projected]}},
    )
    assert item_size(big) > 2 * 4096 > item_size(projected)
    # The found item at its whole size (over 8 KB: 1.5 RCU), the missing key at the minimum.
    assert meter.usage.rcu == read_units(item_size(big), consistent=False) + 0.5 == 2.0
    assert meter.usage.items_read == 2
