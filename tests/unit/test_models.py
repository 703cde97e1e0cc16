"""Event validation: every invalid field of every kind is named, with the event's index."""

from __future__ import annotations

import pytest

from tally.errors import TallyError
from tally.ingest import parse_body, validate_events
from tests.event_cases import VALID, cases


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch):
    monkeypatch.setenv("TALLY_NOW", "2026-06-10T12:34:56Z")


def test_every_valid_event_passes():
    assert len(validate_events(list(VALID.values()))) == len(VALID)


@pytest.mark.parametrize(("kind", "field", "event"), cases(), ids=lambda value: str(value)[:40])
def test_invalid_field_is_named_with_its_index(kind, field, event):
    with pytest.raises(TallyError) as raised:
        validate_events([VALID["otp"], event, VALID["dialog"]])
    error = raised.value
    assert error.status == 422
    assert {(e.index, e.field) for e in error.errors} >= {(1, field)} or any(
        e.index == 1 and e.field.startswith(field + ".") for e in error.errors
    ), error.errors
    assert {e.index for e in error.errors} == {1}


def test_one_error_per_bad_event_and_unknown_kind():
    bad = [dict(VALID["usage"], name="X"), {"id": "k", "kind": "fax", "occurred_at": "x"}]
    with pytest.raises(TallyError) as raised:
        validate_events([VALID["otp"], *bad])
    assert [(e.index, e.field) for e in raised.value.errors] == [(1, "name"), (2, "kind")]


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        ('{"events": []}', "application/json", 422),
        ('{"events": {}}', "application/json", 422),
        ('{"events": [], "extra": 1}', "application/json", 422),
        ("[]", "application/json", 422),
        ("not json", None, 415),
        ("{}", "text/plain", 415),
        ("{", "application/json", 400),
        ('{"events": [' + ",".join(["{}"] * 501) + "]}", "application/json", 413),
    ],
)
def test_body_level_errors(body, content_type, status):
    with pytest.raises(TallyError) as raised:
        parse_body(body, content_type)
    assert raised.value.status == status
