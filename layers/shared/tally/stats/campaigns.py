"""An account's campaigns as stored (their raw campaign events), for per-campaign reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from tally import events
from tally.timeutil import format_instant, parse_instant, resolve_range


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    status: str
    created_at: datetime
    audience: int | None
    completed_at: datetime | None


def created_between(account: str, start: datetime, end: datetime) -> list[Campaign]:
    """Campaigns created in `[start, end)`, oldest first.

    The range is resolved to whole minutes exactly as counter reads resolve it,
    so these are the campaigns the `cmp:*` counters of the same range count.
    One query over the account's campaign items: it grows with the number of
    campaigns, never with the number of messages.
    """
    low, high = (format_instant(datetime.fromtimestamp(b, UTC)) for b in resolve_range(start, end))
    items = events.campaigns_created(account, low, high)
    found = [
        Campaign(
            id=str(item["event_id"]),
            name=str(item["name"]),
            status=str(item["status"]),
            created_at=parse_instant(str(item["occurred_at"])),
            audience=None if item.get("audience") is None else int(item["audience"]),
            completed_at=(
                parse_instant(str(item["completed_at"])) if item.get("completed_at") else None
            ),
        )
        for item in items
    ]
    return sorted(found, key=lambda campaign: (campaign.created_at, campaign.id))
