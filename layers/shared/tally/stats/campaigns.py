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
    found = []
    for item in events.campaigns_created(account, low, high):
        created_at = _instant(item.get("occurred_at"))
        if created_at is None:
            continue  # unreadable stored data (from before the ingest bounds): not in any range
        found.append(
            Campaign(
                id=str(item["event_id"]),
                name=str(item.get("name", "")),
                status=str(item.get("status", "")),
                created_at=created_at,
                audience=None if item.get("audience") is None else int(item["audience"]),
                completed_at=_instant(item.get("completed_at")),
            )
        )
    return sorted(found, key=lambda campaign: (campaign.created_at, campaign.id))


def _instant(stored: object) -> datetime | None:
    """A stored instant, or None when absent or unreadable: a report never fails on one."""
    if not stored:
        return None
    try:
        return parse_instant(str(stored))
    except (ValueError, OverflowError):
        return None
