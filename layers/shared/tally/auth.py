"""API keys: generation, hashing, lookup with a short per-container cache, scopes.

A key's secret is shown once. The keys table stores only its SHA-256 digest,
under a key id derived from the digest, so a presented secret is looked up by
id with one GetItem and checked with a constant-time compare. Secrets carry at
least 128 bits of entropy, so a fast hash is enough (no password stretching).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tally import storage
from tally.config import get_settings
from tally.errors import bad_request, forbidden, unauthorized

SCOPES = ("events:write", "stats:read", "billing:read", "keys:manage", "admin")
ADMIN = "admin"
SECRET_PREFIX = "tk_"  # noqa: S105 - a public prefix, not a secret
ACCOUNT_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
KEY_ID_PATTERN = re.compile(r"^key_[0-9a-f]{20}$")
_KEY_HEADERS = ("x-api-key", "cb-administration-api-key")


@dataclass(frozen=True)
class KeyRecord:
    key_id: str
    account: str
    scopes: frozenset[str]
    digest: str
    name: str = ""
    created_at: str = ""
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, Any]:
        """The key as listed by the keys API: never the secret or its digest."""
        return {
            "key_id": self.key_id,
            "account": self.account,
            "scopes": sorted(self.scopes),
            "name": self.name,
            "created_at": self.created_at,
        }


@dataclass(frozen=True)
class Principal:
    """An authenticated caller, acting on `account`."""

    key_id: str
    account: str
    scopes: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.scopes


def generate_secret() -> str:
    """A new key secret: `tk_` and 256 random bits."""
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def key_id_for(secret: str) -> str:
    """The public id of a secret: a prefix of its digest (reveals nothing usable)."""
    return "key_" + digest(secret)[:20]


def is_key_id(text: str) -> bool:
    """Whether `text` has the shape of a key id (anything else names no key)."""
    return KEY_ID_PATTERN.fullmatch(text) is not None


def record_from_item(item: Mapping[str, Any]) -> KeyRecord:
    return KeyRecord(
        key_id=str(item["key_id"]),
        account=str(item["account"]),
        scopes=frozenset(item.get("scopes", ())),
        digest=str(item["digest"]),
        name=str(item.get("name", "")),
        created_at=str(item.get("created_at", "")),
        revoked_at=item.get("revoked_at"),
    )


class _KeyCache:
    """Bounded LRU of key records with a freshness limit (revocations reach warm containers)."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, KeyRecord | None]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_id: str, max_age: float) -> tuple[bool, KeyRecord | None]:
        with self._lock:
            entry = self._entries.get(key_id)
            if entry is None or time.monotonic() - entry[0] > max_age:
                return False, None
            self._entries.move_to_end(key_id)
            return True, entry[1]

    def put(self, key_id: str, record: KeyRecord | None, size: int) -> None:
        with self._lock:
            self._entries[key_id] = (time.monotonic(), record)
            self._entries.move_to_end(key_id)
            while len(self._entries) > size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_cache = _KeyCache()


def clear_cache() -> None:
    _cache.clear()


def load_key(key_id: str) -> KeyRecord | None:
    """The key record for `key_id`, from the container cache when fresh enough."""
    settings = get_settings()
    hit, record = _cache.get(key_id, settings.key_cache_seconds)
    if hit:
        return record
    item = storage.get_item(settings.keys_table, {"key_id": key_id})
    record = record_from_item(item) if item else None
    _cache.put(key_id, record, settings.key_cache_size)
    return record


def presented_secret(headers: Mapping[str, str]) -> str | None:
    """The key from `Authorization: Bearer`, `X-API-KEY` or `CB-Administration-API-Key`."""
    lowered = {name.lower(): value for name, value in headers.items() if value is not None}
    authorization = lowered.get("authorization", "").strip()
    if authorization:
        scheme, _, credentials = authorization.partition(" ")
        if scheme.lower() == "bearer" and credentials.strip():
            return credentials.strip()
    for name in _KEY_HEADERS:
        value = lowered.get(name, "").strip()
        if value:
            return value
    return None


def authenticate(headers: Mapping[str, str], scope: str) -> Principal:
    """The caller behind the request's key, allowed `scope`; TallyError 401/403 otherwise."""
    secret = presented_secret(headers)
    if not secret:
        raise unauthorized("missing API key: send Authorization: Bearer <key> or X-API-KEY")
    record = load_key(key_id_for(secret))
    if record is None or not hmac.compare_digest(record.digest, digest(secret)):
        raise unauthorized("unknown API key")
    if not record.active:
        raise unauthorized("the API key was revoked")
    requested = {name.lower(): value for name, value in headers.items()}.get("x-account-id")
    account = record.account
    if requested is not None and requested != record.account:
        if not ACCOUNT_PATTERN.fullmatch(requested):
            raise bad_request("x-account-id", "must be 1-64 characters of A-Za-z0-9._-")
        if ADMIN not in record.scopes:
            raise unauthorized("x-account-id does not match the API key's account")
        account = requested
    if scope not in record.scopes and ADMIN not in record.scopes:
        raise forbidden(scope)
    return Principal(record.key_id, account, record.scopes)


def new_key_item(
    account: str, scopes: Iterable[str], name: str, created_at: str, secret: str | None = None
) -> tuple[str, dict[str, Any]]:
    """(secret, keys-table item) of a new key; pass `secret` to install a known one."""
    secret = secret or generate_secret()
    item = {
        "key_id": key_id_for(secret),
        "account": account,
        "scopes": sorted(set(scopes)),
        "digest": digest(secret),
        "name": name,
        "created_at": created_at,
    }
    return secret, item
