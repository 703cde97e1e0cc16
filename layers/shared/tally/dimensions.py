"""Per-account bounds on the counter attributes an event can name.

Most counter attributes are fixed (`tally.metrics`), but three name values the
client chooses: usage names (`use:{name}`), operators (`op:{operator}`) and
currencies (`amt:{channel}:{currency}`). Unbounded, they would grow one counter
item past 400 KB and one batch's update past DynamoDB's 4 KB expression limit.
So each account registers the values it uses, at most CAPS of each; an event
that would register one more is refused at ingest with a 422, before anything is
written. With the caps, the largest possible update of one counter item stays
well under 4 KB (tests/unit/test_counter_limits.py computes it).

The registry is one item in the events table (`tally.events.DIMS_SK`) holding a
string set per dimension. Sets only grow, so a warm container remembers what it
has seen registered and reads the registry only for values it has not seen.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tally import storage
from tally.config import get_settings
from tally.errors import FieldError, TallyError, unavailable
from tally.events import DIMS_SK

# The usage seed's twelve names (metrics.USAGE_SEED_NAMES) are always allowed on top.
CAPS = {"usage": 200, "operator": 64, "currency": 8}
_ATTEMPTS = 4
_CACHE_ACCOUNTS = 1024


@dataclass(frozen=True)
class Use:
    """One event's use of a dimension value: where to point a 422."""

    dimension: str
    value: str
    index: int
    field: str


class _Known:
    """Registered values per account seen by this container (an LRU of accounts)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: OrderedDict[str, dict[str, set[str]]] = OrderedDict()

    def missing(self, account: str, uses: Iterable[Use]) -> list[Use]:
        with self._lock:
            known = self._accounts.get(account, {})
            return [use for use in uses if use.value not in known.get(use.dimension, ())]

    def add(self, account: str, registered: Mapping[str, Iterable[str]]) -> None:
        with self._lock:
            known = self._accounts.setdefault(account, {})
            self._accounts.move_to_end(account)
            for dimension, values in registered.items():
                known.setdefault(dimension, set()).update(values)
            while len(self._accounts) > _CACHE_ACCOUNTS:
                self._accounts.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._accounts.clear()


_known = _Known()


def clear_cache() -> None:
    _known.clear()


def registered(registry: Mapping[str, Any] | None, dimension: str) -> set[str]:
    """The values of `dimension` in a registry item (`tally.events.billing_profile_and_registry`
    reads it for routes that name every counter they read)."""
    return set((registry or {}).get(dimension) or ())


def _registry(account: str) -> dict[str, set[str]]:
    item = storage.get_item(
        get_settings().events_table, {"pk": account, "sk": DIMS_SK}, consistent=True
    )
    return {dimension: registered(item, dimension) for dimension in CAPS}


def _refuse(over: Mapping[str, Sequence[Use]], registered: Mapping[str, set[str]]) -> TallyError:
    errors = []
    for dimension, uses in over.items():
        cap = CAPS[dimension]
        for use in uses:
            errors.append(
                FieldError(
                    use.field,
                    f"{use.value!r} would be distinct {dimension} value number "
                    f"{len(registered[dimension]) + 1} of this account; at most {cap} are allowed",
                    use.index,
                )
            )
    names = ", ".join(f"{dimension} (at most {CAPS[dimension]})" for dimension in over)
    return TallyError(
        422, f"too many distinct values per account: {names}; nothing was written", errors
    )


def register(account: str, uses: Sequence[Use]) -> None:
    """Register every value `uses` names for `account`, or raise a 422 naming the events
    whose value would pass a cap (nothing registered, nothing written)."""
    missing = _known.missing(account, uses)
    for attempt in range(_ATTEMPTS):
        if not missing:
            return
        registered = _registry(account)
        new: dict[str, set[str]] = {}
        for use in missing:
            if use.value not in registered[use.dimension]:
                new.setdefault(use.dimension, set()).add(use.value)
        over = {
            dimension: [
                use for use in missing if use.dimension == dimension and use.value in values
            ]
            for dimension, values in new.items()
            if len(registered[dimension]) + len(values) > CAPS[dimension]
        }
        if over:
            raise _refuse(over, registered)
        if not new or _add(account, new):
            _known.add(account, registered)
            _known.add(account, new)
            return
        storage.backoff(attempt)
    raise unavailable()


def _add(account: str, new: Mapping[str, set[str]]) -> bool:
    """Add the values in one conditional update; False when a concurrent registration
    left too little room (re-read and decide again)."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds, conditions = [], []
    for index, (dimension, added) in enumerate(sorted(new.items())):
        names[f"#d{index}"] = dimension
        values[f":v{index}"] = added
        values[f":r{index}"] = CAPS[dimension] - len(added)
        adds.append(f"#d{index} :v{index}")
        conditions.append(f"(attribute_not_exists(#d{index}) OR size(#d{index}) <= :r{index})")
    outcome = storage.update_item(
        get_settings().events_table,
        {"pk": account, "sk": DIMS_SK},
        "ADD " + ", ".join(adds),
        names=names,
        values=values,
        condition=" AND ".join(conditions),
    )
    return outcome.written
