"""The keys API: create, list, update and revoke API keys of an account.

`keys:manage` acts on the caller's own account and cannot hand out `admin`;
`admin` acts on any account. Every change is also recorded as a usage event of
the account (`api_key_added`, `api_key_updated`, `api_key_deleted`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from tally import auth, storage
from tally.config import get_settings
from tally.errors import FieldError, TallyError, not_found
from tally.ingest import store_events
from tally.models import UsageEvent
from tally.timeutil import format_instant, now

Scope = Literal["events:write", "stats:read", "billing:read", "keys:manage", "admin"]
AccountId = Annotated[str, Field(pattern=auth.ACCOUNT_PATTERN.pattern)]
KeyName = Annotated[str, Field(max_length=128)]


class CreateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: AccountId | None = None
    scopes: Annotated[list[Scope], Field(min_length=1)]
    name: KeyName = ""


class UpdateKeyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    scopes: Annotated[list[Scope], Field(min_length=1)] | None = None
    name: KeyName | None = None


class KeyInfo(BaseModel):
    key_id: str
    account: str
    scopes: list[str]
    name: str
    created_at: str


class CreatedKey(KeyInfo):
    secret: str


class KeyList(BaseModel):
    keys: list[KeyInfo]


def _check_grant(caller: auth.Principal, scopes: Sequence[str]) -> None:
    if auth.ADMIN in scopes and not caller.is_admin:
        raise TallyError(
            403,
            "only an admin key can create admin keys",
            [FieldError("scopes", "admin not allowed")],
        )


def _record_usage(account: str, name: str, key_id: str) -> None:
    moment = now()
    event = UsageEvent(
        id=f"{name}.{key_id}.{int(moment.timestamp() * 1000)}",
        kind="usage",
        occurred_at=moment,
        name=name,
    )
    store_events(account, [event])


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
    storage.put_item(get_settings().keys_table, item, condition="attribute_not_exists(key_id)")
    _record_usage(account, "api_key_added", item["key_id"])
    record = auth.record_from_item(item)
    return CreatedKey(secret=secret, **record.public())


def bootstrap_key(
    account: str, scopes: Sequence[str], name: str, secret: str | None = None
) -> CreatedKey:
    """Install a key without a caller (CLI bootstrap of an account, local runtime)."""
    operator = auth.Principal("bootstrap", account, account, frozenset({auth.ADMIN}))
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


def _owned(caller: auth.Principal, key_id: str) -> auth.KeyRecord:
    item = storage.get_item(get_settings().keys_table, {"key_id": key_id}, consistent=True)
    record = auth.record_from_item(item) if item else None
    if (
        record is None
        or not record.active
        or (record.account != caller.account and not caller.is_admin)
    ):
        raise not_found(f"no key {key_id!r} in account {caller.account!r}")
    return record


def update_key(caller: auth.Principal, key_id: str, request: UpdateKeyRequest) -> KeyInfo:
    record = _owned(caller, key_id)
    changes: dict[str, Any] = {}
    if request.scopes is not None:
        _check_grant(caller, request.scopes)
        changes["scopes"] = sorted(set(request.scopes))
    if request.name is not None:
        changes["name"] = request.name
    if changes:
        names = {f"#f{index}": name for index, name in enumerate(changes)}
        values = {f":f{index}": value for index, value in enumerate(changes.values())}
        assignments = ", ".join(f"#f{index} = :f{index}" for index in range(len(changes)))
        storage.update_item(
            get_settings().keys_table,
            {"key_id": key_id},
            f"SET {assignments}",
            names=names,
            values=values,
            condition="attribute_exists(key_id)",
        )
        auth.clear_cache()
        _record_usage(record.account, "api_key_updated", key_id)
    public = record.public() | changes
    return KeyInfo(**public)


def revoke_key(caller: auth.Principal, key_id: str) -> None:
    record = _owned(caller, key_id)
    storage.update_item(
        get_settings().keys_table,
        {"key_id": key_id},
        "SET revoked_at = :at",
        values={":at": format_instant(now())},
        condition="attribute_exists(key_id) AND attribute_not_exists(revoked_at)",
    )
    auth.clear_cache()
    _record_usage(record.account, "api_key_deleted", key_id)
