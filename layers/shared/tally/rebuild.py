"""`tally rebuild`: make the counters table hold exactly what the raw events imply.

Used to repair counters after a stream batch went to the on-failure queue (or
after any other drift). Every counter item of the account(s) is recomputed from
the raw events and written whole (a Put, not an `ADD`), keeping the item's
watermarks, and counter items that the events no longer produce are deleted.

It never stops on stored data: an event whose deltas cannot be computed, or whose
deltas would push a counter out of DynamoDB's number range, is set aside into the
quarantine (as the stream path does) and reported; an item DynamoDB still refuses
is reported and the rest is written.

Run it on a quiescent account: a stream batch applied while a rebuild runs can
be counted twice (its change is in the events the rebuild read and is then
`ADD`ed on top of the rewritten item) or lost (the `ADD` lands before the
rebuild's Put overwrites it). docs/operations.md gives the procedure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from tally import events, metrics, quarantine, storage
from tally.config import get_settings
from tally.contributions import EXACT, delta
from tally.counters import target_items
from tally.timeutil import epoch, now

T = TypeVar("T")
# Writes are grouped so a progress bar advances per BatchWriteItem call.
_WRITE_GROUP = storage.BATCH_WRITE_LIMIT
_WATERMARKS = [metrics.watermark(suffix) for suffix in events.SOURCE_SUFFIXES]


class Progress(Protocol):
    """Wraps an iterable to report progress (tqdm fits); `total` may be unknown."""

    def __call__(self, items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]: ...


def _silent(items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]:
    return items


@dataclass
class RebuildResult:
    events: int = 0
    items_written: int = 0
    items_deleted: int = 0
    expired_skipped: int = 0
    quarantined: int = 0
    refused_items: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class _Totals:
    """Counter items being summed, refusing any addition DynamoDB could not store."""

    values: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    expiries: dict[str, int] = field(default_factory=dict)

    def add(self, key: str, deltas: Mapping[str, Decimal], expires_at: int | None) -> bool:
        item = self.values.setdefault(key, {})
        try:
            updated = {
                name: EXACT.add(item.get(name, Decimal(0)), value) for name, value in deltas.items()
            }
        except ArithmeticError:
            return False
        item.update(updated)
        if expires_at is not None:
            self.expiries[key] = expires_at
        return True


def _set_aside(item: Mapping[str, Any], item_key: str | None, reason: str) -> None:
    quarantine.set_aside(
        source=str(item["pk"]),
        sequence=f"rebuild:{item['sk']}",
        old_image=None,
        new_image=item,
        item_key=item_key,
        reason=reason,
    )


def _sum(stored_events: Iterable[Mapping[str, Any]], result: RebuildResult) -> _Totals:
    totals = _Totals()
    for item in stored_events:
        result.events += 1
        try:
            contribution = delta(None, item)
        except (ArithmeticError, KeyError, TypeError, ValueError) as error:
            _set_aside(item, None, f"{type(error).__name__}: {error}")
            result.quarantined += 1
            continue
        for target, deltas in contribution.items():
            for key, expires_at in target_items(target):
                if not totals.add(key, deltas, expires_at):
                    _set_aside(item, key, "the sum leaves DynamoDB's number range (38 digits)")
                    result.quarantined += 1
    return totals


def stored_counter_items(account: str | None) -> dict[str, dict[str, Any]]:
    """Keys and watermarks of the counter items of `account` (or of every account)."""
    prefix = f"{account}#" if account is not None else ""
    names = {f"#w{index}": name for index, name in enumerate(_WATERMARKS)} | {"#pk": "pk"}
    found = storage.scan(get_settings().counters_table, projection=", ".join(names), names=names)
    return {str(item.pop("pk")): item for item in found if str(item["pk"]).startswith(prefix)}


def _write(
    table: str, puts: list[dict[str, Any]], deletes: list[dict[str, Any]], result: RebuildResult
) -> None:
    try:
        storage.batch_write(table, puts, deletes)
    except storage.ClientError as error:
        if not storage.is_invalid_request(error):
            raise
        # One item of the group is refused: write them one by one and report that one.
        for item in puts:
            try:
                storage.put_item(table, item)
            except storage.ClientError as refused:
                if not storage.is_invalid_request(refused):
                    raise
                result.refused_items.append(str(item["pk"]))
                result.items_written -= 1
        storage.batch_write(table, [], deletes)


def rebuild(account: str | None = None, *, progress: Progress = _silent) -> RebuildResult:
    """Recompute the counters of `account` (every account when None) from its raw events."""
    result = RebuildResult()
    table = get_settings().counters_table

    def counted() -> Iterator[Mapping[str, Any]]:
        yield from progress(events.raw_events(account), desc="reading events", total=None)

    totals = _sum(counted(), result)
    stored = stored_counter_items(account)
    cutoff = epoch(now())
    puts: list[dict[str, Any]] = []
    for key in sorted(totals.values):
        values = {name: value for name, value in totals.values[key].items() if value != 0}
        expires_at = totals.expiries.get(key)
        if not values:
            continue
        if expires_at is not None and expires_at <= cutoff:
            # TTL would delete it anyway; writing it back would resurrect it briefly.
            result.expired_skipped += 1
            continue
        item: dict[str, Any] = {**stored.get(key, {}), "pk": key, **values}
        if expires_at is not None:
            item["expires_at"] = expires_at
        puts.append(item)
    wanted = {item["pk"] for item in puts}
    deletes = [{"pk": key} for key in sorted(set(stored) - wanted)]
    result.items_written, result.items_deleted = len(puts), len(deletes)
    requests: list[tuple[str, dict[str, Any]]] = [("put", item) for item in puts]
    requests += [("delete", key) for key in deletes]
    groups = list(storage.chunked(requests, _WRITE_GROUP))
    for group in progress(groups, desc="writing counters", total=len(groups)):
        _write(
            table,
            [body for kind, body in group if kind == "put"],
            [body for kind, body in group if kind == "delete"],
            result,
        )
    return result
