"""Content negotiation of the usage endpoint (pure: no AWS)."""

import pytest

from tally.errors import TallyError
from tally.stats.usage import accepts_json, check_negotiation, window_counts


@pytest.mark.parametrize(
    "accept",
    [None, "", "*/*", "application/json", "application/*", "text/html, */*;q=0.1",
     "application/problem+json", "APPLICATION/JSON; charset=utf-8"],
)  # fmt: skip
def test_json_is_acceptable(accept):
    assert accepts_json(accept)


@pytest.mark.parametrize(
    "accept", ["text/html", "application/xml", "application/json;q=0", "*/*;q=0, text/csv"]
)
def test_json_is_refused(accept):
    assert not accepts_json(accept)
    with pytest.raises(TallyError) as raised:
        check_negotiation(accept, None, None)
    assert raised.value.status == 406


def test_a_body_must_be_json():
    check_negotiation(None, "application/json; charset=utf-8", "{}")
    check_negotiation(None, None, None)
    with pytest.raises(TallyError) as raised:
        check_negotiation(None, "text/plain", "hello")
    assert raised.value.status == 415


def test_seed_names_first_then_recorded_ones():
    counts = window_counts({"zeta": 2, "queue_added": 1, "alpha": 3, "gone": 0})
    assert list(counts)[:3] == ["api_key_added", "api_key_updated", "api_key_deleted"]
    assert list(counts)[-2:] == ["alpha", "zeta"]
    assert counts["queue_added"] == 1
    assert "gone" not in counts
    assert len(counts) == 14
