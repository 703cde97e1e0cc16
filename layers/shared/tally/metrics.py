"""Names of the counter attributes kept by the counters pipeline and read by every API.

One counter item holds many of these attributes, so one event touches one item
per resolution, not one per metric.
"""

from __future__ import annotations

CHANNELS = ("sms", "mms", "whatsapp", "chat")
MESSAGE_STATES = ("total", "sent", "delivered", "failed")

MARKETING_MESSAGES = "msg:marketing"
CREDITS_USED = "credits:used"
CREDITS_ADDED = "credits:added"
OTP_TOTAL = "otp:total"
CAMPAIGNS_TOTAL = "cmp:total"
CONTACTS_TOTAL = "contacts:total"
CONTACTS_TEXTABLE = "contacts:textable"
CONTACTS_OPTED_OUT = "contacts:opted_out"

OPERATOR_PREFIX = "op:"
USAGE_PREFIX = "use:"
DIALOG_PREFIX = "dlg:"
AMOUNT_PREFIX = "amt:"


def message(channel: str, state: str) -> str:
    """Outbound, non-test messages of `channel` in `state` (total, sent, delivered, failed)."""
    return f"msg:{channel}:{state}"


def campaign_message(state: str) -> str:
    """On a per-campaign item: the campaign's messages in `state`."""
    return f"msg:{state}"


def amount(channel: str, currency: str) -> str:
    return f"{AMOUNT_PREFIX}{channel}:{currency}"


def operator(name: str) -> str:
    return f"{OPERATOR_PREFIX}{name}"


def otp(status: str) -> str:
    return f"otp:{status}"


def campaign(status: str) -> str:
    return f"cmp:{status}"


def dialog(dialog_type: int) -> str:
    return f"{DIALOG_PREFIX}{dialog_type}"


def usage(name: str) -> str:
    return f"{USAGE_PREFIX}{name}"


def with_prefix(values: dict[str, int], prefix: str) -> dict[str, int]:
    """The attributes starting with `prefix`, keyed by the rest of their name."""
    return {name[len(prefix) :]: count for name, count in values.items() if name.startswith(prefix)}
