"""Names of the counter attributes kept by the counters pipeline and read by every API.

One counter item holds many of these attributes, so one event touches one item
per resolution, not one per metric. Every name that an event can choose
(operator, currency, usage name) is bounded per account at ingest
(`tally.dimensions`), which bounds the attributes of any item and of any update.
"""

from __future__ import annotations

CHANNELS = ("sms", "mms", "whatsapp", "chat")
MESSAGE_STATES = ("total", "sent", "delivered", "failed")
# The message states best-send-times reports per UTC hour of day and day of week.
SEND_TIME_STATES = ("total", "delivered")

# The dialog types the chat seed knows, each counted under `dialog(type)`.
DIALOG_TYPES = range(1, 5)

MARKETING_MESSAGES = "msg:marketing"
CREDITS_USED = "credits:used"
# Only on year items: credits are only ever read as an all-time balance.
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
# The usage seed's twelve usage names, in the seed's order: every usage document lists them.
USAGE_SEED_NAMES = (
    "api_key_added",
    "api_key_updated",
    "api_key_deleted",
    "queue_added",
    "queue_updated",
    "queue_deleted",
    "listener_added",
    "listener_updated",
    "listener_deleted",
    "message_added",
    "message_published_ok",
    "message_published_not_ok",
)
# Watermarks of the counters pipeline (strings: `Counts` ignores them).
WATERMARK_PREFIX = "~w"


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


def send_hour(hour: int, state: str) -> str:
    """Messages sent in UTC hour of day `hour` (0-23), `state` total or delivered.

    Kept on every time item, so best-send-times sums a cover of its range (a few
    dozen items) instead of reading one item per hour of the range."""
    return f"hod:{hour:02d}:{state[0]}"


def send_weekday(day: int, state: str) -> str:
    """Messages sent on UTC day of week `day` (0 = Sunday), `state` total or delivered."""
    return f"dow:{day}:{state[0]}"


def watermark(source_suffix: str) -> str:
    """The attribute holding the last stream position applied from one events-table partition."""
    return f"{WATERMARK_PREFIX}{source_suffix}"
