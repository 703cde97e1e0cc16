"""`POST /v1/events`: validate a batch all-or-nothing, then upsert it idempotently.

Each event becomes one events-table item (pk = account, sk = "kind#id"). An
event already stored is merged into the stored item: its first `occurred_at`
is kept, its status only moves forward, fields it leaves out keep their value.
Items are written with a condition on the revision that was read, so two
concurrent requests about the same event cannot overwrite each other.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from tally import payload, storage
from tally.config import get_settings
from tally.contributions import is_counted_message
from tally.errors import (
    FieldError,
    TallyError,
    field_errors,
    invalid,
    unavailable,
    unprocessable,
)
from tally.models import STATUS_RANKS, event_adapter
from tally.timeutil import format_instant, now

MAX_EVENTS = 500
_WRITE_ATTEMPTS = 6
ACTIVITY_KINDS = frozenset({"message", "otp", "campaign"})
PROFILE_SK = "~profile#billing"
_KEY_FIELDS = frozenset({"id", "kind"})


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "unchanged": self.unchanged}


def event_key(account: str, kind: str, event_id: str) -> dict[str, str]:
    return {"pk": account, "sk": f"{kind}#{event_id}"}


def _stored(value: Any) -> Any:
    """A model value as DynamoDB stores it (instants as fixed-width UTC strings)."""
    if isinstance(value, datetime):
        return format_instant(value)
    if isinstance(value, BaseModel):
        return {name: _stored(field) for name, field in value.model_dump().items()}
    if isinstance(value, dict):
        return {name: _stored(field) for name, field in value.items()}
    if isinstance(value, list):
        return [_stored(field) for field in value]
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def derive_operator(to: str, prefixes: Mapping[str, str]) -> str | None:
    """The operator of an E.164 number by the longest matching prefix."""
    matches = [prefix for prefix in prefixes if to.startswith(prefix)]
    return prefixes[max(matches, key=len)] if matches else None


def parse_body(body: str | None, content_type: str | None) -> list[Any]:
    """The raw events of a request body, or 400/413/415/422 for the body as a whole."""
    document = payload.parse_json(body, content_type)
    if not isinstance(document, dict) or not isinstance(document.get("events"), list):
        raise unprocessable("events", 'required: the body must be {"events": [...]}')
    extra = sorted(set(document) - {"events"})
    if extra:
        raise invalid(422, [FieldError(name, "unknown field") for name in extra])
    events = document["events"]
    if len(events) > MAX_EVENTS:
        raise TallyError(413, f"at most {MAX_EVENTS} events per request, got {len(events)}")
    if not events:
        raise unprocessable("events", f"must hold 1 to {MAX_EVENTS} events")
    return events


def validate_events(raw_events: Sequence[Any]) -> list[BaseModel]:
    """Every event validated; 422 with one error per bad field of every bad event."""
    valid: list[BaseModel] = []
    errors: list[FieldError] = []
    for index, raw in enumerate(raw_events):
        try:
            valid.append(event_adapter().validate_python(_floats_as_strings(raw)))
        except ValidationError as exc:
            # The first location part is the union's tag (the kind), not a field.
            errors.extend(field_errors(exc.errors(), skip=1, index=index, default="kind"))
    if errors:
        bad = len({error.index for error in errors})
        raise TallyError(
            422, f"{bad} of {len(raw_events)} events are invalid; nothing was written", errors
        )
    return valid


def _floats_as_strings(raw: Any) -> Any:
    """JSON numbers with a fraction arrive as Decimal; integers stay int for strict models."""
    if isinstance(raw, dict):
        return {name: _floats_as_strings(value) for name, value in raw.items()}
    if isinstance(raw, list):
        return [_floats_as_strings(value) for value in raw]
    if isinstance(raw, Decimal):
        return str(raw)
    return raw


def new_item(account: str, event: BaseModel) -> dict[str, Any]:
    """The stored item of an event seen for the first time."""
    fields = {
        name: _stored(value) for name, value in event.model_dump().items() if value is not None
    }
    return _finish(
        account, {"pk": account, "account": account, "event_id": fields.pop("id"), **fields}
    )


def merge(account: str, existing: Mapping[str, Any], event: BaseModel) -> dict[str, Any]:
    """The stored item after `event` is applied to an existing one."""
    item = dict(existing)
    provided = event.model_fields_set - _KEY_FIELDS - {"occurred_at"}
    dumped = event.model_dump()
    for name in provided:
        value = _stored(dumped[name])
        if name == "status" and not _moves_forward(str(item["kind"]), item.get("status"), value):
            continue
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return _finish(account, item)


def _moves_forward(kind: str, old: Any, new: Any) -> bool:
    ranks = STATUS_RANKS.get(kind)
    if ranks is None or old is None:
        return True
    if old == new:
        return False
    final = max(ranks.values())
    return ranks[str(old)] < final and ranks[str(new)] > ranks[str(old)]


def _finish(account: str, item: dict[str, Any]) -> dict[str, Any]:
    """Derived attributes: the sort key, the operator, the recent-activity index keys."""
    kind = str(item["kind"])
    item["sk"] = f"{kind}#{item['event_id']}"
    if kind == "message" and "operator" not in item and item.get("to"):
        operator = derive_operator(str(item["to"]), get_settings().operator_prefixes)
        if operator:
            item["operator"] = operator
    counted = kind in ACTIVITY_KINDS and (kind != "message" or is_counted_message(item))
    if counted:
        item["activity_pk"] = account
        item["activity_sk"] = f"{item['occurred_at']}#{kind}#{item['event_id']}"
    else:
        item.pop("activity_pk", None)
        item.pop("activity_sk", None)
    return item


_BOOKKEEPING = frozenset({"rev", "updated_at"})


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = lambda item: {k: v for k, v in item.items() if k not in _BOOKKEEPING}  # noqa: E731
    return strip(a) == strip(b)


def ingest(account: str, body: str | None, content_type: str | None) -> IngestResult:
    """Validate and store a request's events for `account`."""
    events = validate_events(parse_body(body, content_type))
    return store_events(account, events)


def _identity(event: BaseModel) -> tuple[str, str]:
    return str(getattr(event, "kind")), str(getattr(event, "id"))  # noqa: B009 - union of models


def store_events(account: str, events: Sequence[BaseModel]) -> IngestResult:
    """Upsert validated events; events that lost a race with another writer are re-read and retried."""
    table = get_settings().events_table
    pending = list(events)
    accepted = unchanged = 0
    for attempt in range(_WRITE_ATTEMPTS):
        stored = {
            (str(item["kind"]), str(item["event_id"])): item
            for item in storage.batch_get(
                table,
                [event_key(account, *identity) for identity in {_identity(e) for e in pending}],
                consistent=True,
            )
        }
        writes: dict[tuple[str, str], dict[str, Any]] = {}
        changed: list[tuple[tuple[str, str], bool]] = []
        for event in pending:
            identity = _identity(event)
            base = writes.get(identity) or stored.get(identity)
            item = merge(account, base, event) if base else new_item(account, event)
            is_change = base is None or not _same(base, item)
            if is_change:
                writes[identity] = item
            changed.append((identity, is_change))
        conflicted = _write(table, writes, stored)
        for identity, is_change in changed:
            if identity not in conflicted:
                accepted += is_change
                unchanged += not is_change
        # Unchanged events count too: when the profile write failed after its event was
        # stored, the client's retry finds the event unchanged and must still repair the
        # profile (the conditional Put is idempotent).
        settled = {
            identity: writes.get(identity) or stored[identity]
            for identity, _ in changed
            if identity not in conflicted
        }
        _update_billing_profiles(table, account, list(settled.values()))
        pending = [event for event in pending if _identity(event) in conflicted]
        if not pending:
            return IngestResult(accepted=accepted, unchanged=unchanged)
        time.sleep(0.02 * 2**attempt)
    raise unavailable("too many concurrent updates of the same events; retry")


_RETRY_REASONS = frozenset(
    {
        "ConditionalCheckFailed",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)


def _write(
    table: str,
    writes: Mapping[tuple[str, str], dict[str, Any]],
    stored: Mapping[tuple[str, str], Mapping[str, Any]],
) -> set[tuple[str, str]]:
    """Write items in transactions of 100, each conditional on the revision read.

    Returns the identities of the items not written because their transaction
    was cancelled by a concurrent change, a conflict or throttling (to retry).
    """
    stamp = format_instant(now())
    conflicted: set[tuple[str, str]] = set()
    for chunk in storage.chunked(sorted(writes), storage.TRANSACT_LIMIT):
        actions = [
            _write_action(table, writes[identity], stored.get(identity), stamp)
            for identity in chunk
        ]
        try:
            storage.transact_write(actions)
        except storage.TransactionCancelled as cancelled:
            if not set(cancelled.reasons) <= _RETRY_REASONS | {"None"}:
                raise
            conflicted.update(chunk)
    return conflicted


def _write_action(
    table: str, item: Mapping[str, Any], previous: Mapping[str, Any] | None, stamp: str
) -> storage.Put:
    """The put of one event item, conditional on the revision it was merged from."""
    revision = int(previous.get("rev", 0)) if previous else 0
    item = {**item, "rev": revision + 1, "updated_at": stamp}
    if previous is None:
        return storage.Put(table, item, condition="attribute_not_exists(pk)")
    return storage.Put(table, item, condition="rev = :rev", values={":rev": revision})


def insert_action(account: str, event: BaseModel) -> storage.Put:
    """The put of an event seen for the first time, for a caller's own transaction
    (the keys API writes a key change and its usage event together)."""
    stamp = format_instant(now())
    return _write_action(get_settings().events_table, new_item(account, event), None, stamp)


def _update_billing_profiles(table: str, account: str, items: Sequence[Mapping[str, Any]]) -> None:
    """The account's billing profile is its billing event with the latest `occurred_at`."""
    for item in sorted(
        (item for item in items if item["kind"] == "billing"), key=lambda item: item["occurred_at"]
    ):
        profile = {
            name: value
            for name, value in item.items()
            if name not in ("sk", "rev", "activity_pk", "activity_sk")
        }
        storage.put_item(
            table,
            {**profile, "sk": PROFILE_SK},
            condition="attribute_not_exists(pk) OR occurred_at <= :at",
            values={":at": item["occurred_at"]},
        )


def billing_profile(account: str) -> dict[str, Any] | None:
    """The account's current billing profile (latest billing event), if any."""
    return storage.get_item(get_settings().events_table, {"pk": account, "sk": PROFILE_SK})
