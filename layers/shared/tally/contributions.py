"""What one stored event contributes to the counters.

The counters function applies contribution(new image) - contribution(old image)
for every stream record, so inserts, status changes, no-op rewrites and deletes
are all exact without reading the counters first.

Each kind is written only at the resolutions some API reads it at: messages,
OTP sessions, campaigns and dialogs at every resolution (read over any range);
usage events at minute, quarter and hour (only ever read over the last day);
credit events only in the year bucket (only ever read as an all-time balance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Context, Decimal, Inexact, InvalidOperation, Overflow
from typing import Any

from tally import metrics
from tally.timeutil import LADDER, MINUTE, Ladder, Resolution, parse_instant

Deltas = dict[str, Decimal]

SMS_SEGMENT_CHARS = 480
MMS_CREDITS = 2
SENT_STATES = frozenset({"sent", "delivered"})
# DynamoDB's numbers: 38 significant digits, magnitudes up to 1e126. Sums are done in this
# context so that a value DynamoDB could not store raises here instead of being rounded
# (Inexact: digits were lost; dropping trailing zeros, which only Rounded flags, is exact).
EXACT = Context(prec=38, Emax=125, Emin=-130, traps=[InvalidOperation, Overflow, Inexact])


@dataclass(frozen=True)
class Series:
    """A family of time-bucket counter items (`code` goes into their keys) and the
    resolutions it keeps."""

    code: str
    ladder: Ladder


EVENTS = Series("", LADDER)
USAGE = Series("u", (Resolution.MINUTE, Resolution.QUARTER, Resolution.HOUR))


@dataclass(frozen=True)
class TimeTarget:
    """Counted in the `resolutions` buckets of `series` containing `minute` (UTC epoch)."""

    account: str
    minute: int
    series: Series = EVENTS
    resolutions: Ladder = LADDER


@dataclass(frozen=True)
class CampaignTarget:
    account: str
    campaign_id: str


@dataclass(frozen=True)
class GaugeTarget:
    """Current totals, not a time series (contacts)."""

    account: str


Target = TimeTarget | CampaignTarget | GaugeTarget
Contribution = dict[Target, Deltas]

ONE = Decimal(1)


def message_credits(channel: str, length: int | None) -> int:
    """Credits a message consumes once sent (the billing seed's rules): an SMS costs
    ceil(length / 480), so an empty one costs nothing, and 1 when its length is unknown."""
    if channel == "sms":
        return 1 if length is None else -(-length // SMS_SEGMENT_CHARS)
    if channel == "mms":
        return MMS_CREDITS
    return 0


def is_counted_message(item: Mapping[str, Any]) -> bool:
    """Messages are counted when outbound and not test sends."""
    return (
        item.get("kind") == "message"
        and item.get("direction", "outbound") == "outbound"
        and not item.get("test", False)
    )


def contribution(item: Mapping[str, Any] | None) -> Contribution:
    """The counter deltas of one events-table item (empty for non-event items)."""
    if not item or "kind" not in item or "occurred_at" not in item or "account" not in item:
        return {}
    account = str(item["account"])
    occurred = int(parse_instant(str(item["occurred_at"])).timestamp())
    at = TimeTarget(account, occurred - occurred % MINUTE)
    kind = item["kind"]
    if kind == "message":
        return _message(item, at)
    if kind == "otp":
        status = str(item.get("status", "pending"))
        return {at: {metrics.OTP_TOTAL: ONE, metrics.otp(status): ONE}}
    if kind == "campaign":
        status = str(item["status"])
        return {at: {metrics.CAMPAIGNS_TOTAL: ONE, metrics.campaign(status): ONE}}
    if kind == "dialog":
        return {at: {metrics.dialog(int(item["type"])): ONE}}
    if kind == "usage":
        usage_at = TimeTarget(account, at.minute, USAGE, USAGE.ladder)
        return {usage_at: {metrics.usage(str(item["name"])): ONE}}
    if kind == "credit":
        year = TimeTarget(account, at.minute, EVENTS, (Resolution.YEAR,))
        return {year: {metrics.CREDITS_ADDED: Decimal(item["amount"])}}
    if kind == "contact":
        return {
            GaugeTarget(account): {
                metrics.CONTACTS_TOTAL: ONE,
                metrics.CONTACTS_TEXTABLE: ONE if item.get("textable") else Decimal(0),
                metrics.CONTACTS_OPTED_OUT: Decimal(0) if item.get("opted_in") else ONE,
            }
        }
    return {}


def _message(item: Mapping[str, Any], at: TimeTarget) -> Contribution:
    if not is_counted_message(item):
        return {}
    channel = str(item["channel"])
    status = str(item.get("status", "queued"))
    sent = status in SENT_STATES
    states = ["total"]
    if sent:
        states.append("sent")
    if status in ("delivered", "failed"):
        states.append(status)
    deltas: Deltas = {metrics.message(channel, state): ONE for state in states}
    moment = datetime.fromtimestamp(at.minute, UTC)
    for state in metrics.SEND_TIME_STATES:
        if state in states:
            deltas[metrics.send_hour(moment.hour, state)] = ONE
            # isoweekday() is 1 (Monday) .. 7 (Sunday); the analytics seed counts from Sunday = 0.
            deltas[metrics.send_weekday(moment.isoweekday() % 7, state)] = ONE
    if item.get("purpose") == "marketing":
        deltas[metrics.MARKETING_MESSAGES] = ONE
    if item.get("operator"):
        deltas[metrics.operator(str(item["operator"]))] = ONE
    if sent:
        length = item.get("length")
        credits = message_credits(channel, None if length is None else int(length))
        if credits:
            deltas[metrics.CREDITS_USED] = Decimal(credits)
        price = item.get("price")
        if price:
            deltas[metrics.amount(channel, str(price["currency"]))] = Decimal(str(price["amount"]))
    result: Contribution = {at: deltas}
    campaign_id = item.get("campaign_id")
    if campaign_id:
        result[CampaignTarget(at.account, str(campaign_id))] = {
            metrics.campaign_message(state): ONE for state in states
        }
    return result


def delta(old: Mapping[str, Any] | None, new: Mapping[str, Any] | None) -> Contribution:
    """contribution(new) - contribution(old), without zero entries."""
    result: Contribution = {}
    for sign, image in ((1, new), (-1, old)):
        for target, deltas in contribution(image).items():
            merged = result.setdefault(target, {})
            for name, value in deltas.items():
                change = value if sign > 0 else EXACT.minus(value)
                merged[name] = EXACT.add(merged.get(name, Decimal(0)), change)
    return {
        target: nonzero
        for target, deltas in result.items()
        if (nonzero := {name: value for name, value in deltas.items() if value != 0})
    }
