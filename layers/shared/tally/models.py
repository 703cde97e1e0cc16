"""Request models: the events accepted by `POST /v1/events`, one pydantic model per kind.

Models are strict (no silent coercion of "1" to 1) and reject unknown fields.
Every number, string and list has a bound (docs/reliability.md, "Bounds"):
no sum over an account's whole life can leave DynamoDB's 38 significant
digits, and no event item nears DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, TypeAdapter

from tally import metrics
from tally.apimodel import ApiModel
from tally.timeutil import EARLIEST, FUTURE_SLACK, now, parse_instant

Channel = Literal["sms", "mms", "whatsapp", "chat"]
MessageStatus = Literal["queued", "sent", "delivered", "failed"]
OtpStatus = Literal["pending", "verified", "failed", "expired"]
CampaignStatus = Literal["draft", "scheduled", "sending", "completed", "failed"]

# Bounds: 10,000 events/s for 100 years is 3.2e13 events; 3.2e13 times the largest
# amount (1e6, 6 decimals) or credit (1e12) needs at most 26 significant digits.
MAX_AMOUNT = Decimal(1_000_000)
AMOUNT_DECIMALS = 6
MAX_CREDITS = 10**12
MAX_AUDIENCE = 10**9
MAX_LENGTH = 1_000_000
MAX_CREDIT_PRODUCTS = 50

EVENT_ID_PATTERN = r"^[A-Za-z0-9._:-]{1,128}$"
EventId = Annotated[str, Field(pattern=EVENT_ID_PATTERN)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]

# Forward-only status order: a status is replaced only by one of higher rank;
# rank-2 (resp. final) states never change again.
STATUS_RANKS: dict[str, dict[str, int]] = {
    "message": {"queued": 0, "sent": 1, "delivered": 2, "failed": 2},
    "otp": {"pending": 0, "verified": 1, "failed": 1, "expired": 1},
    "campaign": {"draft": 0, "scheduled": 1, "sending": 2, "completed": 3, "failed": 3},
}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError('must be a decimal number such as "0.02"')
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError('must be a decimal number such as "0.02"') from exc
    if not number.is_finite() or not 0 <= number <= MAX_AMOUNT:
        raise ValueError(f"must be from 0 to {MAX_AMOUNT:,}")
    if number.as_tuple().exponent < -AMOUNT_DECIMALS:  # type: ignore[operator]
        raise ValueError(f"at most {AMOUNT_DECIMALS} decimal places")
    # "-0" and "0E+5" are zero; stored as plain 0.
    return number if number else Decimal(0)


def _event_time(value: Any) -> datetime:
    """An instant of an event: an ISO 8601 date-time with `Z` or an offset, from 2000
    on (bounds every "since the beginning" read) and not more than a day ahead of the
    clock (a client with a wrong clock or unit), whatever the offset."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = parse_instant(value)
        except ValueError as exc:
            raise ValueError(f"must be an ISO 8601 date-time with Z or an offset ({exc})") from exc
    else:
        raise ValueError("must be an ISO 8601 string such as 2026-06-04T10:00:00Z")
    if moment < EARLIEST:
        raise ValueError("must be 2000-01-01T00:00:00Z or later")
    if moment > now() + FUTURE_SLACK:
        raise ValueError("must not be more than 24 hours in the future")
    return moment


EventTime = Annotated[datetime, BeforeValidator(_event_time)]
Amount = Annotated[Decimal, BeforeValidator(_decimal)]
Credits = Annotated[int, Field(ge=0, le=MAX_CREDITS)]


class _Strict(ApiModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Price(_Strict):
    amount: Amount
    currency: Currency


class _Event(_Strict):
    id: EventId
    occurred_at: EventTime


class MessageEvent(_Event):
    kind: Literal["message"]
    channel: Channel
    status: MessageStatus = "queued"
    purpose: Literal["transactional", "otp", "marketing"] = "transactional"
    direction: Literal["outbound", "inbound"] = "outbound"
    to: Annotated[str, Field(pattern=r"^\+[1-9][0-9]{6,14}$")] | None = None
    operator: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_.-]{0,63}$")] | None = None
    campaign_id: EventId | None = None
    dialog_id: EventId | None = None
    length: Annotated[int, Field(ge=0, le=MAX_LENGTH)] | None = None
    price: Price | None = None
    test: bool = False


class OtpEvent(_Event):
    kind: Literal["otp"]
    status: OtpStatus = "pending"
    channel: Channel | None = None


class CampaignEvent(_Event):
    kind: Literal["campaign"]
    name: ShortText
    status: CampaignStatus
    audience: Annotated[int, Field(ge=0, le=MAX_AUDIENCE)] | None = None
    completed_at: EventTime | None = None


class DialogEvent(_Event):
    kind: Literal["dialog"]
    type: Annotated[int, Field(ge=metrics.DIALOG_TYPES[0], le=metrics.DIALOG_TYPES[-1])]


class ContactEvent(_Event):
    kind: Literal["contact"]
    textable: bool
    opted_in: bool


class UsageEvent(_Event):
    kind: Literal["usage"]
    name: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,64}$")]


class CreditEvent(_Event):
    kind: Literal["credit"]
    amount: Annotated[int, Field(ge=-MAX_CREDITS, le=MAX_CREDITS)]
    reason: Literal["purchase", "grant", "adjustment"]


class Subscription(_Strict):
    id: ShortText | None = None
    plan_type: ShortText | None = None
    billing_interval: ShortText | None = None
    status: ShortText | None = None
    paid_through: ShortText | None = None
    current_period_end: ShortText | None = None
    next_billing_date: ShortText | None = None
    provider: ShortText | None = None


class PortalUrls(_Strict):
    customer_portal: Annotated[str, Field(max_length=2048)] | None = None
    subscription_management: Annotated[str, Field(max_length=2048)] | None = None


class CreditProduct(_Strict):
    id: ShortText
    name: ShortText
    credits_amount: Credits
    price_cents: Credits


class BillingEvent(_Event):
    kind: Literal["billing"]
    brand: ShortText | None = None
    billing_status: (
        Literal["active", "past_due", "suspended", "overage_warning", "archived"] | None
    ) = None
    pricing_model: Literal["unlimited", "per_message", "full_service"] | None = None
    currency: Currency = "EUR"
    subscription: Subscription | None = None
    included_credits: Credits | None = None
    portal_urls: PortalUrls | None = None
    available_credit_products: (
        Annotated[list[CreditProduct], Field(max_length=MAX_CREDIT_PRODUCTS)] | None
    ) = None


Event = Annotated[
    MessageEvent
    | OtpEvent
    | CampaignEvent
    | DialogEvent
    | ContactEvent
    | UsageEvent
    | CreditEvent
    | BillingEvent,
    Field(discriminator="kind"),
]


@cache
def event_adapter() -> TypeAdapter[Event]:
    """The validator of any event kind, built on first use (it costs ~30 ms)."""
    return TypeAdapter(Event)


class IngestRequest(ApiModel):
    """`POST /v1/events` body (documents the OpenAPI schema; validation is per event)."""

    model_config = ConfigDict(extra="forbid")
    events: Annotated[list[Event], Field(min_length=1, max_length=500)]


class IngestResponse(ApiModel):
    accepted: int
    unchanged: int
