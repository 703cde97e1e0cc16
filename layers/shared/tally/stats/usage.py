"""API usage events (`GET /v1/stats/messages`): the usage seed's document.

Three windows ending now (DESIGN: ranges in whole minutes, end ceiled, so the
current minute counts): the rolling last 24 hours, the rolling last hour and
the UTC day so far. All three are read in one batched counters read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from tally import counters, metrics, payload, timeutil
from tally.apimodel import ApiModel
from tally.contributions import USAGE
from tally.errors import FieldError, TallyError
from tally.timeutil import Unit, get_zone, local_floor

# The seed's twelve counters, always present and in this order.
SEED_NAMES = metrics.USAGE_SEED_NAMES
_JSON_TYPES = ("application/json", "application/*", "*/*")


class UsageWindows(ApiModel):
    """Counts per usage name: the seed's twelve first, then any other name recorded."""

    last_24_hours: dict[str, int]
    last_1_hours: dict[str, int]
    today_so_far: dict[str, int]


class Href(ApiModel):
    href: str


class Links(ApiModel):
    self_link: Href = Field(alias="self")


class UsageDocument(ApiModel):
    """The response (documents it; the body is rendered as plain data for `pretty`)."""

    aggregated_api_usage_events: UsageWindows
    links: Links = Field(alias="_links")


def windows(now: datetime) -> dict[str, tuple[datetime, datetime]]:
    return {
        "last_24_hours": (now - timedelta(hours=24), now),
        "last_1_hours": (now - timedelta(hours=1), now),
        "today_so_far": (local_floor(now, Unit.DAY, get_zone("UTC")), now),
    }


def window_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """The seed's names (0 when absent) first, then any other recorded name, sorted."""
    result = {name: counts.get(name, 0) for name in SEED_NAMES}
    result.update(
        (name, count) for name, count in sorted(counts.items()) if name not in result and count
    )
    return result


def usage_document(account: str, self_href: str, now: datetime | None = None) -> dict[str, Any]:
    spans = windows(now or timeutil.now())
    read = counters.read_ranges(account, list(spans.values()), USAGE)
    return {
        "aggregated_api_usage_events": {
            name: window_counts(counts.with_prefix(metrics.USAGE_PREFIX))
            for name, counts in zip(spans, read, strict=True)
        },
        "_links": {"self": {"href": self_href}},
    }


def render(document: Mapping[str, Any], pretty: bool) -> str:
    return json.dumps(document, indent=2) if pretty else json.dumps(document)


def _media_ranges(accept: str) -> list[tuple[str, float]]:
    ranges = []
    for part in accept.split(","):
        media, *params = (piece.strip() for piece in part.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media:
            ranges.append((media.lower(), quality))
    return ranges


def accepts_json(accept: str | None) -> bool:
    """Whether an `Accept` header admits JSON (absent or empty admits anything)."""
    if not accept or not accept.strip():
        return True
    return any(
        quality > 0 and (media in _JSON_TYPES or media.endswith("+json"))
        for media, quality in _media_ranges(accept)
    )


def check_negotiation(accept: str | None, content_type: str | None, body: str | None) -> None:
    """406 when the client refuses JSON; 415 when it sends a body that is not JSON."""
    if not accepts_json(accept):
        raise TallyError(
            406,
            "Accept: this endpoint only produces application/json",
            [FieldError("Accept", "must admit application/json")],
        )
    if body:
        payload.require_json(content_type)
