"""Chat admin parameters: query string and form body, integers, clamping, errors per field."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tally.errors import TallyError
from tally.stats.chat import ChatStatsQuery, parse_query, window

NOW = datetime(2026, 6, 10, 12, 34, 56, tzinfo=UTC)
FORM = "application/x-www-form-urlencoded"


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALLY_NOW", "2026-06-10T12:34:56Z")


def error_fields(query=None, body=None, content_type=FORM) -> tuple[int, list[str]]:
    with pytest.raises(TallyError) as raised:
        parse_query(query, body, content_type)
    return raised.value.status, [error.field for error in raised.value.errors]


def test_defaults():
    assert parse_query(None, None, None) == ChatStatsQuery(limit=100, offset=0)


def test_the_seed_form_body_and_a_query_string_agree():
    body = "start_date=1676894057&end_date=16768967671&types[]=2&types[]=3"
    from_body = parse_query(None, body, FORM)
    from_query = parse_query(
        {"start_date": ["1676894057"], "end_date": ["16768967671"], "types[]": ["2", "3"]},
        None,
        None,
    )
    assert from_body == from_query
    assert from_body.types == [2, 3]
    assert from_body.end_date == 16768967671


def test_types_repeat_across_sources_and_spellings():
    query = parse_query(
        {"types[]": ["1"], "types": ["4"]}, "types%5B%5D=2", f"{FORM}; charset=utf-8"
    )
    assert sorted(query.types or []) == [1, 2, 4]


@pytest.mark.parametrize(
    ("query", "body", "field"),
    [
        ({"start_date": ["abc"]}, None, "start_date"),
        ({"end_date": ["1.5"]}, None, "end_date"),
        ({"end_date": ["1e9"]}, None, "end_date"),
        ({"limit": ["1001"]}, None, "limit"),
        ({"limit": ["0"]}, None, "limit"),
        ({"offset": ["-1"]}, None, "offset"),
        (None, "types[]=2&types[]=x", "types[][1]"),
        ({"start_date": ["1"]}, "start_date=1", "start_date"),
        ({"limit": ["9" * 40]}, None, "limit"),
    ],
)
def test_bad_values_name_the_field(query, body, field):
    assert error_fields(query, body) == (400, [field])


def test_a_non_form_body_is_415():
    assert error_fields(None, '{"start_date": 1}', "application/json") == (415, ["Content-Type"])


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_window_defaults_and_clamping():
    now = int(NOW.timestamp())
    assert window(ChatStatsQuery()) == (datetime(2000, 1, 1, tzinfo=UTC), NOW)
    assert window(ChatStatsQuery(start_date=100, end_date=16768967370)) == (
        datetime(2000, 1, 1, tzinfo=UTC),
        NOW,
    )
    assert window(ChatStatsQuery(start_date=now - 60)) == (at(now - 60), NOW)
    # Both in the future: a valid but empty range, not an error.
    assert window(ChatStatsQuery(start_date=now + 10, end_date=now + 20)) == (NOW, NOW)
    assert window(ChatStatsQuery(start_date=-(10**18), end_date=10**18))[1] == NOW


@pytest.mark.parametrize(("start", "end"), [(200, 100), (int(NOW.timestamp()) + 1, None)])
def test_start_after_end_is_400(start, end):
    with pytest.raises(TallyError) as raised:
        window(ChatStatsQuery(start_date=start, end_date=end))
    assert raised.value.status == 400
    assert [error.field for error in raised.value.errors] == ["start_date"]
