"""The billing API (seed 004): billing status with credits, and the credit balance."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from tally import counters, events
from tally.apimodel import ApiModel
from tally.models import CreditProduct, PortalUrls, Subscription
from tally.stats.shared import account_credit_balance, credit_balance


class Credits(ApiModel):
    available: int
    included: int
    total: int


class BillingStatus(ApiModel):
    """`GET /api/billing/status` (documents the response; the body is built as plain data)."""

    organization_id: str
    brand: str | None
    billing_status: str | None
    pricing_model: str | None
    subscription: Subscription | None
    credits: Credits
    portal_urls: PortalUrls
    available_credit_products: list[CreditProduct]


class CreditBalance(ApiModel):
    balance: int


def _plain(value: Any) -> Any:
    """A stored value as JSON: DynamoDB numbers back to int (or float for fractions)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, Mapping):
        return {name: _plain(field) for name, field in value.items()}
    if isinstance(value, list):
        return [_plain(field) for field in value]
    return value


def _ordered(value: Mapping[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """A stored map in the seed's field order (the event model's): DynamoDB maps keep none."""
    return {name: _plain(value.get(name)) for name in model.model_fields}


def status(account: str) -> dict[str, Any]:
    """The billing profile (latest billing event) in the seed's field order, plus credits.

    Without a profile (or a field of it): brand, billing_status, pricing_model
    and subscription are null, portal_urls has both URLs null,
    available_credit_products is empty and no credits are included.
    """
    profile = events.billing_profile(account) or {}
    available = credit_balance(counters.read_all_time(account), profile)
    included = int(profile.get("included_credits") or 0)
    subscription = profile.get("subscription")
    return {
        "organization_id": account,
        "brand": profile.get("brand"),
        "billing_status": profile.get("billing_status"),
        "pricing_model": profile.get("pricing_model"),
        "subscription": _ordered(subscription, Subscription) if subscription else None,
        "credits": {"available": available, "included": included, "total": available + included},
        "portal_urls": _ordered(profile.get("portal_urls") or {}, PortalUrls),
        "available_credit_products": [
            _ordered(product, CreditProduct)
            for product in profile.get("available_credit_products") or []
        ],
    }


def balance(account: str) -> dict[str, int]:
    """`{"balance": n}`: the same number as `credits.available` and the dashboard's balance."""
    return {"balance": account_credit_balance(account)}
