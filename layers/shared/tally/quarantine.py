"""The quarantine: stream records the counters could not apply, kept for an operator.

An entry is a record set aside for one counter item (DynamoDB refused the
update on its own, e.g. a number out of DynamoDB's range), or a whole record
whose deltas could not even be computed (stored data the counting rules cannot
read). An item-level entry is written in one transaction with the watermark that
marks the record as handled for that item, so each record is applied or set
aside exactly once, whatever the deliveries. Entries keep the record's images, so
`tally quarantine replay` recomputes and applies their deltas (and deletes the
entry) in one transaction: exactly once, when DynamoDB accepts them.

Table (template.yaml `QuarantineTable`): hash key `entry` =
`{account}|{counter item or *}|{source partition key}|{sequence number}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from tally import storage
from tally.config import get_settings
from tally.timeutil import format_instant, now

WHOLE_RECORD = "*"
_REASON_LIMIT = 1000


def entry_id(source: str, sequence: str, item_key: str | None) -> str:
    account = source.partition("#")[0]
    return f"{account}|{item_key or WHOLE_RECORD}|{source}|{sequence}"


def set_aside(
    *,
    source: str,
    sequence: str,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
    item_key: str | None,
    reason: str,
    watermark: storage.Update | None = None,
) -> bool:
    """Record a refused record (for `item_key`, or whole). With `watermark`, the entry and
    the watermark move are one transaction; False when the watermark's condition no longer
    holds (the record was handled meanwhile) and nothing was written."""
    image = new_image or old_image or {}
    entry: dict[str, Any] = {
        "entry": entry_id(source, sequence, item_key),
        "account": source.partition("#")[0],
        "item": item_key or WHOLE_RECORD,
        "source": source,
        "sequence": sequence,
        "event": str(image.get("sk", "")),
        "reason": reason[:_REASON_LIMIT],
        "quarantined_at": format_instant(now()),
    }
    if old_image:
        entry["old_image"] = dict(old_image)
    if new_image:
        entry["new_image"] = dict(new_image)
    table = get_settings().quarantine_table
    if watermark is None:
        storage.put_item(table, entry)
        return True
    try:
        storage.transact_write([storage.Put(table, entry), watermark])
    except storage.TransactionCancelled as cancelled:
        if "ConditionalCheckFailed" in cancelled.reasons:
            return False
        raise
    return True


def entries(account: str | None = None) -> Iterator[storage.Item]:
    """Every entry (of one account), oldest stream position first within a source."""
    found = storage.scan(get_settings().quarantine_table)
    selected = (item for item in found if account is None or item.get("account") == account)
    return iter(sorted(selected, key=lambda item: str(item["entry"])))


def get(entry: str) -> storage.Item | None:
    return storage.get_item(get_settings().quarantine_table, {"entry": entry}, consistent=True)


def removal(entry: str) -> storage.Delete:
    """The delete of an entry, for the transaction that applies it (only if still there)."""
    return storage.Delete(
        get_settings().quarantine_table,
        {"entry": entry},
        condition="attribute_exists(#e)",
        names={"#e": "entry"},
    )
