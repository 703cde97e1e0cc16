"""`POST /v1/events`: validate a batch all-or-nothing, then upsert it idempotently.

Each event becomes one events-table item (layout: `tally.events`). An event
already stored is merged into the stored item: its first `occurred_at` is kept,
its status only moves forward, fields it leaves out keep their value.

Cost per event: one eventually consistent read (0.5 RRU, batched) and one
conditional PutItem (about 1 WCU). Events are independent, so no transaction is
needed: each put is conditional on the revision that was read, so a stale read or
a concurrent writer cannot overwrite a newer item; the refused put hands back the
current item, which is merged and put again. A request that fails half-way
(throttling) is answered 503 and is safe to resend whole: what was stored comes
back as `unchanged`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from pydantic import BaseModel, ValidationError

from tally import dimensions, events, metrics, payload, storage
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
_KEY_FIELDS = frozenset({"id", "kind"})
Identity = tuple[str, str]


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    unchanged: int

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "unchanged": self.unchanged}


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
    raw_events = document["events"]
    if len(raw_events) > MAX_EVENTS:
        raise TallyError(413, f"at most {MAX_EVENTS} events per request, got {len(raw_events)}")
    if not raw_events:
        raise unprocessable("events", f"must hold 1 to {MAX_EVENTS} events")
    return raw_events


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
    return _finish(account, {"account": account, "event_id": fields.pop("id"), **fields})


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
    """Derived attributes: the operator, the table and recent-activity index keys."""
    if item["kind"] == "message" and "operator" not in item and item.get("to"):
        operator = derive_operator(str(item["to"]), get_settings().operator_prefixes)
        if operator:
            item["operator"] = operator
    counted = item["kind"] != "message" or is_counted_message(item)
    return events.with_keys(account, item, in_activity=counted)


_BOOKKEEPING = frozenset({"rev", "updated_at"})


def _same(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    strip = lambda item: {k: v for k, v in item.items() if k not in _BOOKKEEPING}  # noqa: E731
    return strip(a) == strip(b)


def ingest(account: str, body: str | None, content_type: str | None) -> IngestResult:
    """Validate and store a request's events for `account`."""
    events_ = validate_events(parse_body(body, content_type))
    return store_events(account, events_)


def _identity(event: BaseModel) -> Identity:
    return str(getattr(event, "kind")), str(getattr(event, "id"))  # noqa: B009 - union of models


def dimension_uses(events_: Sequence[BaseModel]) -> list[dimensions.Use]:
    """The usage names, operators and currencies the events name (tally.dimensions)."""
    prefixes = get_settings().operator_prefixes
    uses = []
    for index, event in enumerate(events_):
        name = getattr(event, "name", None)
        if event.kind == "usage" and name not in metrics.USAGE_SEED_NAMES:  # type: ignore[attr-defined]
            uses.append(dimensions.Use("usage", str(name), index, "name"))
        if event.kind != "message":  # type: ignore[attr-defined]
            continue
        operator = getattr(event, "operator", None)
        to = getattr(event, "to", None)
        if operator is None and to is not None:
            operator = derive_operator(str(to), prefixes)
        if operator is not None:
            uses.append(dimensions.Use("operator", str(operator), index, "operator"))
        price = getattr(event, "price", None)
        if price is not None:
            uses.append(dimensions.Use("currency", str(price.currency), index, "price.currency"))
    return uses


def store_events(account: str, events_: Sequence[BaseModel]) -> IngestResult:
    """Upsert validated events; events that lost a race with another writer are merged
    into the item that won and put again."""
    dimensions.register(account, dimension_uses(events_))
    table = get_settings().events_table
    identities = list(dict.fromkeys(_identity(event) for event in events_))
    known: dict[Identity, dict[str, Any] | None] = dict.fromkeys(identities)
    for item in events.get_many([events.event_key(account, *identity) for identity in identities]):
        known[(str(item["kind"]), str(item["event_id"]))] = item
    pending = list(events_)
    accepted = unchanged = 0
    for attempt in range(_WRITE_ATTEMPTS):
        writes: dict[Identity, dict[str, Any]] = {}
        changed: list[tuple[Identity, bool]] = []
        for event in pending:
            identity = _identity(event)
            base = writes.get(identity) or known[identity]
            item = merge(account, base, event) if base else new_item(account, event)
            is_change = base is None or not _same(base, item)
            if is_change:
                writes[identity] = item
            changed.append((identity, is_change))
        order = sorted(writes)
        jobs = [(writes[identity], known[identity]) for identity in order]
        outcomes = storage.parallel(partial(_put, table, format_instant(now())), jobs)
        conflicted = set()
        for identity, outcome in zip(order, outcomes, strict=True):
            known[identity] = outcome.current
            if not outcome.written:
                conflicted.add(identity)
        for identity, is_change in changed:
            if identity not in conflicted:
                accepted += is_change
                unchanged += not is_change
        # Unchanged billing events count too: when the profile write failed after its event
        # was stored, the client's retry finds the event unchanged and must still repair the
        # profile (the conditional put is idempotent).
        settled = {
            identity: known[identity] for identity, _ in changed if identity not in conflicted
        }
        _update_billing_profiles(account, [item for item in settled.values() if item])
        pending = [event for event in pending if _identity(event) in conflicted]
        if not pending:
            return IngestResult(accepted=accepted, unchanged=unchanged)
        storage.backoff(attempt)
    raise unavailable()


def _versioned(
    item: Mapping[str, Any], previous: Mapping[str, Any] | None, stamp: str
) -> tuple[dict[str, Any], str, dict[str, Any] | None]:
    """(item with its next revision, condition, values): the put only lands on the
    revision it was merged from."""
    revision = int(previous.get("rev", 0)) if previous else 0
    versioned = {**item, "rev": revision + 1, "updated_at": stamp}
    if previous is None:
        return versioned, "attribute_not_exists(pk)", None
    return versioned, "rev = :rev", {":rev": revision}


def _put(
    table: str, stamp: str, job: tuple[Mapping[str, Any], Mapping[str, Any] | None]
) -> storage.Outcome:
    """Put one event item (merged from `previous`); a written outcome carries the item
    as stored, a refused one the item that is there instead."""
    item, previous = job
    versioned, condition, values = _versioned(item, previous, stamp)
    outcome = storage.put_item(table, versioned, condition=condition, values=values)
    return storage.Outcome(True, versioned) if outcome.written else outcome


def insert_action(account: str, event: BaseModel) -> storage.Put:
    """The put of an event seen for the first time, for a caller's own transaction
    (the keys API writes a key change and its usage event together)."""
    versioned, condition, _ = _versioned(new_item(account, event), None, format_instant(now()))
    return storage.Put(get_settings().events_table, versioned, condition=condition)


def _update_billing_profiles(account: str, items: Sequence[Mapping[str, Any]]) -> None:
    """The account's billing profile is its billing event with the latest `occurred_at`."""
    billing = sorted(
        (item for item in items if item["kind"] == "billing"), key=lambda item: item["occurred_at"]
    )
    for item in billing:
        events.save_billing_profile(account, item)
