"""`tally rebuild`: make the counters table hold exactly what the raw events imply.

Used to repair counters after a stream batch went to the on-failure queue (or
after any other drift). Every counter item of the account(s) is recomputed
with `tally.counters.recount` and written whole (a Put, not an `ADD`), and
counter items that the events no longer produce are deleted. Batch markers
(`~batch#...`) are left alone, so a batch applied before the rebuild and
redelivered afterwards is still skipped.

Run it on a quiescent account: a stream batch applied while a rebuild runs
can be counted twice (its change is in the events the rebuild read and is
then `ADD`ed on top of the rewritten item) or lost (the `ADD` lands before the
rebuild's Put overwrites it). docs/operations.md gives the procedure.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from tally import storage
from tally.config import get_settings
from tally.counters import recount
from tally.timeutil import epoch, now

T = TypeVar("T")
MARKER_PREFIX = "~"
# Writes are grouped so a progress bar advances per BatchWriteItem call.
_WRITE_GROUP = storage.BATCH_WRITE_LIMIT


class Progress(Protocol):
    """Wraps an iterable to report progress (tqdm fits); `total` may be unknown."""

    def __call__(self, items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]: ...


def _silent(items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]:
    return items


@dataclass(frozen=True)
class RebuildResult:
    events: int
    items_written: int
    items_deleted: int
    expired_skipped: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def raw_events(account: str | None) -> Iterator[Mapping[str, Any]]:
    """The events of one account (Query) or of every account (Scan); not profile items."""
    table = get_settings().events_table
    items = (
        storage.query(table, "pk = :pk", {":pk": account})
        if account is not None
        else storage.scan(table)
    )
    return (item for item in items if not str(item["sk"]).startswith(MARKER_PREFIX))


def stored_counter_keys(account: str | None) -> set[str]:
    """Keys of the counter items of `account` (or of every account), markers excluded."""
    prefix = f"{account}#" if account is not None else ""
    keys = (
        str(item["pk"]) for item in storage.scan(get_settings().counters_table, projection="pk")
    )
    return {key for key in keys if key.startswith(prefix) and not key.startswith(MARKER_PREFIX)}


def rebuild(account: str | None = None, *, progress: Progress = _silent) -> RebuildResult:
    """Recompute the counters of `account` (every account when None) from its raw events."""
    table = get_settings().counters_table
    events = 0

    def counted() -> Iterator[Mapping[str, Any]]:
        nonlocal events
        for item in progress(raw_events(account), desc="reading events", total=None):
            events += 1
            yield item

    targets = recount(counted()).nonzero()
    cutoff = epoch(now())
    puts: list[dict[str, Any]] = []
    expired = 0
    for key, values, expires_at in targets:
        if expires_at is not None and expires_at <= cutoff:
            # TTL would delete it anyway; writing it back would resurrect it briefly.
            expired += 1
            continue
        item: dict[str, Any] = {"pk": key, **values}
        if expires_at is not None:
            item["expires_at"] = expires_at
        puts.append(item)
    wanted = {item["pk"] for item in puts}
    deletes = [{"pk": key} for key in sorted(stored_counter_keys(account) - wanted)]
    requests: list[tuple[str, dict[str, Any]]] = [("put", item) for item in puts]
    requests += [("delete", key) for key in deletes]
    groups = list(storage.chunked(requests, _WRITE_GROUP))
    for group in progress(groups, desc="writing counters", total=len(groups)):
        storage.batch_write(
            table,
            [body for kind, body in group if kind == "put"],
            [body for kind, body in group if kind == "delete"],
        )
    return RebuildResult(
        events=events, items_written=len(puts), items_deleted=len(deletes), expired_skipped=expired
    )
