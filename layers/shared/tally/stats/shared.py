"""Numbers that several APIs report, defined once so every API agrees."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from functools import cache
from typing import Any

from tally import counters, events, metrics
from tally.counters import Counts


def percent(numerator: int, denominator: int) -> float:
    """A percentage rounded half-up to 2 decimals; 0 when the denominator is 0."""
    if not denominator:
        return 0.0
    value = Decimal(numerator) * 100 / Decimal(denominator)
    return float(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@cache
def _message_names(channels: tuple[str, ...]) -> dict[str, tuple[str, ...]]:
    return {
        state: tuple(metrics.message(channel, state) for channel in channels)
        for state in metrics.MESSAGE_STATES
    }


def message_names(
    channels: Iterable[str] = metrics.CHANNELS, states: Iterable[str] = metrics.MESSAGE_STATES
) -> tuple[str, ...]:
    """The counters `messages` sums for `states` (for reads that name the counters they need)."""
    found = _message_names(tuple(channels))
    return tuple(name for state in states for name in found[state])


def message_count(counts: Counts, state: str = "total") -> int:
    """One state of `messages` over every channel (without summing the other three)."""
    return sum(map(counts.count, _message_names(metrics.CHANNELS)[state]))


def messages(counts: Counts, channels: Iterable[str] = metrics.CHANNELS) -> dict[str, int]:
    """total/sent/delivered/failed of outbound, non-test messages over `channels`."""
    return {
        state: sum(counts.count(name) for name in names)
        for state, names in _message_names(tuple(channels)).items()
    }


def amount(counts: Counts, channel: str, currency: str) -> Decimal:
    """Sum of the prices (in `currency`) of `channel` messages that reached sent."""
    return counts.amount(metrics.amount(channel, currency))


def currency(profile: Mapping[str, Any] | None) -> str:
    return str((profile or {}).get("currency") or "EUR")


def credit_balance(all_time: Counts, profile: Mapping[str, Any] | None) -> int:
    """Credits added minus credits consumed; nothing is consumed on `pricing_model: unlimited`."""
    used = (
        0
        if (profile or {}).get("pricing_model") == "unlimited"
        else all_time.count(metrics.CREDITS_USED)
    )
    return all_time.count(metrics.CREDITS_ADDED) - used


def account_credit_balance(account: str) -> int:
    """The account's current credit balance (dashboard and billing report this same number)."""
    return credit_balance(counters.read_all_time(account), events.billing_profile(account))
