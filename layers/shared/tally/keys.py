"""The keys API: create, list, update and revoke API keys of an account.

`keys:manage` acts on the caller's own account and cannot hand out `admin`;
`admin` acts on any account. Every change is also recorded as a usage event of
the account (`api_key_added`, `api_key_updated`, `api_key_deleted`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from tally import auth, storage
from tally.config import get_settings
from tally.errors import FieldError, TallyError, not_found
from tally.ingest import insert_action
from tally.models import ApiModel, UsageEvent
from tally.timeutil import format_instant, now

Scope = Literal["events:write", "stats:read", "billing:read", "keys:manage", "admin"]
AccountId = Annotated[str, Field(pattern=auth.ACCOUNT_PATTERN.pattern)]
KeyName = Annotated[str, Field(max_length=128)]
# Each scope once is enough; repeats are tolerated up to this bound.
Scopes = Annotated[list[Scope], Field(min_length=1, max_length=2 * len(auth.SCOPES))]


class CreateKeyRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")
    account: AccountId | None = None
    scopes: Scopes
    name: KeyName = ""


class UpdateKeyRequest(ApiModel):
    model_config = ConfigDict(extra="forbid")
    scopes: Scopes | None = None
    name: KeyName | None = None


class KeyInfo(ApiModel):
    key_id: str
    account: str
    scopes: list[str]
    name: str
    created_at: str


class CreatedKey(KeyInfo):
    secret: str


class KeyList(ApiModel):
    keys: list[KeyInfo]


def _check_grant(caller: auth.Principal, scopes: Sequence[str]) -> None:
    if auth.ADMIN in scopes and not caller.is_admin:
        raise TallyError(
            403,
            "only an admin key can create admin keys",
            [FieldError("scopes", "admin not allowed")],
        )


def _write_with_usage(key_item: Mapping[str, Any], condition: str, usage: str) -> None:
    """Write a key and record its change as a usage event of its account, atomically:
    a key never changes without its usage event, nor the other way round."""
    moment = now()
    event = UsageEvent(
        id=f"{usage}.{key_item['key_id']}.{int(moment.timestamp() * 1000)}",
        kind="usage",
        occurred_at=moment,
        name=usage,
    )
    key_put = storage.Put(get_settings().keys_table, key_item, condition=condition)
    try:
        storage.transact_write([key_put, insert_action(str(key_item["account"]), event)])
    except storage.TransactionCancelled as cancelled:
        if cancelled.reasons[:1] == ["ConditionalCheckFailed"]:
            raise not_found(f"key {key_item['key_id']!r} was changed concurrently") from cancelled
        raise
    auth.clear_cache()


def create_key(
    caller: auth.Principal, request: CreateKeyRequest, *, secret: str | None = None
) -> CreatedKey:
    """A new key for `request.account` (default: the caller's account)."""
    account = request.account or caller.account
    if account != caller.account and not caller.is_admin:
        raise TallyError(
            403,
            "keys:manage creates keys for its own account only",
            [FieldError("account", "not the key's account")],
        )
    _check_grant(caller, request.scopes)
    created_at = format_instant(now())
    secret, item = auth.new_key_item(account, request.scopes, request.name, created_at, secret)
    _write_with_usage(item, "attribute_not_exists(key_id)", "api_key_added")
    record = auth.record_from_item(item)
    return CreatedKey(secret=secret, **record.public())


def bootstrap_key(
    account: str, scopes: Sequence[str], name: str, secret: str | None = None
) -> CreatedKey:
    """Install a key without a caller (CLI bootstrap of an account, local runtime)."""
    operator = auth.Principal("bootstrap", account, frozenset({auth.ADMIN}))
    request = CreateKeyRequest(account=account, scopes=list(scopes), name=name)
    # Read the table, not `auth.load_key`: its cache would remember the miss and
    # reject the key just installed for `key_cache_seconds` in this process.
    existing = (
        storage.get_item(get_settings().keys_table, {"key_id": auth.key_id_for(secret)})
        if secret
        else None
    )
    if existing is not None:
        return CreatedKey(secret=secret or "", **auth.record_from_item(existing).public())
    return create_key(operator, request, secret=secret)


def list_keys(caller: auth.Principal) -> KeyList:
    """Active keys of the caller's account (or the account an admin names)."""
    items = storage.query(
        get_settings().keys_table,
        "account = :account",
        {":account": caller.account},
        index="by-account",
    )
    records = [auth.record_from_item(item) for item in items]
    return KeyList(keys=[KeyInfo(**record.public()) for record in records if record.active])


_ACTIVE = "attribute_exists(key_id) AND attribute_not_exists(revoked_at)"


def _owned(caller: auth.Principal, key_id: str) -> tuple[dict[str, Any], auth.KeyRecord]:
    """The active key `key_id` of the caller's account, which the caller may change."""
    missing = not_found(f"no key {key_id[:64]!r} in account {caller.account!r}")
    if not auth.is_key_id(key_id):
        # Names no key; never sent to DynamoDB (which refuses keys over 2,048 bytes).
        raise missing
    item = storage.get_item(get_settings().keys_table, {"key_id": key_id}, consistent=True)
    record = auth.record_from_item(item) if item else None
    if (
        item is None
        or record is None
        or not record.active
        or (record.account != caller.account and not caller.is_admin)
    ):
        raise missing
    if auth.ADMIN in record.scopes and not caller.is_admin:
        raise TallyError(
            403,
            "only an admin key can change or revoke an admin key",
            [FieldError("key_id", "holds admin")],
        )
    return item, record


def update_key(caller: auth.Principal, key_id: str, request: UpdateKeyRequest) -> KeyInfo:
    item, record = _owned(caller, key_id)
    changes: dict[str, Any] = {}
    if request.scopes is not None:
        _check_grant(caller, request.scopes)
        changes["scopes"] = sorted(set(request.scopes))
    if request.name is not None:
        changes["name"] = request.name
    if changes:
        _write_with_usage(item | changes, _ACTIVE, "api_key_updated")
    public = record.public() | changes
    return KeyInfo(**public)


def revoke_key(caller: auth.Principal, key_id: str) -> None:
    item, _ = _owned(caller, key_id)
    _write_with_usage(item | {"revoked_at": format_instant(now())}, _ACTIVE, "api_key_deleted")
