"""DynamoDB billing arithmetic of the benchmark's meter (pure)."""

from __future__ import annotations

from bench.meter import item_size, read_units, value_size, write_units


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
