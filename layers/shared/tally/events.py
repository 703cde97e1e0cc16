"""The events table's layout: where raw events, the billing profile and the dimension
registry live, and every query that reads them back.

  pk                 sk                  what
  `{account}#{n}`    `{kind}#{id}`       message, otp, dialog, contact, usage and credit events;
                                         n = crc32(`{kind}#{id}`) mod EVENT_SHARDS
  `{account}`        `{kind}#{id}`       campaign and billing events (a few per account and day:
                                         one Query lists an account's campaigns)
  `{account}`        `~profile#billing`  the billing profile (the latest billing event)
  `{account}`        `~dims`             the account's registered dimension values (tally.dimensions)

Why the high-rate kinds are spread over EVENT_SHARDS partition keys: one partition
key takes at most 1,000 WCU/s (and so does one key of an index). An event item is
written with 1 WCU (items stay under 1 KB) plus 1 for its index entry, and each
status update with another 1 (measured: bench/ingest_cost.py), so an account at
1,000 events/s would saturate a single key; over 8 keys a message with two status
updates costs 375 WCU/s per key at that rate, and the README's stated maximum of
2,000 events/s per account keeps the busiest key's peak second under 1,000 WCU/s
on the table and on the index (docs/benchmark.md has the arithmetic).

Index `recent-activity` (keys only): `activity_pk` = the item's own pk,
`activity_sk` = `{occurred_at}#{kind}#{id}`, set on counted messages, OTP sessions
and campaigns. Keys only: a status change rewrites no index entry (the status is
read from the table for the ten items the dashboard shows), so the index costs one
small write per new event and nothing per delivery receipt.
"""

from __future__ import annotations

import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from tally import storage
from tally.config import get_settings

EVENT_SHARDS = 8
# Low-rate kinds kept in the account's own partition.
ACCOUNT_KINDS = frozenset({"campaign", "billing"})
ACTIVITY_KINDS = frozenset({"message", "otp", "campaign"})
RECENT_ACTIVITY_INDEX = "recent-activity"
PROFILE_SK = "~profile#billing"
DIMS_SK = "~dims"
# Sort keys of items that are not events start with this (never a kind's first letter).
RESERVED_PREFIX = "~"


def partition(account: str, kind: str, event_id: str) -> str:
    """The partition key of an event (stable: the same event always lands on the same key)."""
    if kind in ACCOUNT_KINDS:
        return account
    shard = zlib.crc32(f"{kind}#{event_id}".encode()) % EVENT_SHARDS
    return f"{account}#{shard}"


# What each of an account's partition keys adds to the account id (see `source_suffix`).
SOURCE_SUFFIXES = ("", *(f"#{shard}" for shard in range(EVENT_SHARDS)))


def partitions(account: str) -> list[str]:
    """Every partition key that holds items of `account`."""
    return [account + suffix for suffix in SOURCE_SUFFIXES]


def source_suffix(pk: str) -> str:
    """What a partition key adds to its account (`""` or `"#n"`): names the key's watermark
    on counter items (account ids never contain `#`)."""
    _, separator, shard = pk.partition("#")
    return separator + shard


def event_key(account: str, kind: str, event_id: str) -> dict[str, str]:
    return {"pk": partition(account, kind, event_id), "sk": f"{kind}#{event_id}"}


def with_keys(account: str, item: dict[str, Any], *, in_activity: bool) -> dict[str, Any]:
    """`item` with its table keys, and its recent-activity index keys when `in_activity`."""
    kind, event_id = str(item["kind"]), str(item["event_id"])
    item.update(event_key(account, kind, event_id))
    if in_activity and kind in ACTIVITY_KINDS:
        item["activity_pk"] = item["pk"]
        item["activity_sk"] = f"{item['occurred_at']}#{kind}#{event_id}"
    else:
        item.pop("activity_pk", None)
        item.pop("activity_sk", None)
    return item


def is_event(item: Mapping[str, Any]) -> bool:
    return not str(item.get("sk", "")).startswith(RESERVED_PREFIX)


def get_many(
    keys: Sequence[Mapping[str, Any]],
    *,
    consistent: bool = False,
    names: Collection[str] | None = None,
) -> list[storage.Item]:
    return storage.batch_get(get_settings().events_table, keys, consistent=consistent, names=names)


# --- The billing profile -------------------------------------------------------------


def billing_profile(account: str) -> dict[str, Any] | None:
    """The account's current billing profile (its billing event with the latest occurred_at)."""
    return storage.get_item(get_settings().events_table, {"pk": account, "sk": PROFILE_SK})


def billing_profile_and_registry(
    account: str,
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The billing profile and the dimension registry (`tally.dimensions`), in one read."""
    keys = [{"pk": account, "sk": PROFILE_SK}, {"pk": account, "sk": DIMS_SK}]
    found = {str(item["sk"]): item for item in get_many(keys)}
    return found.get(PROFILE_SK), found.get(DIMS_SK)


def profile_item(account: str, billing_item: Mapping[str, Any]) -> dict[str, Any]:
    """The billing profile item a stored billing event makes."""
    skipped = ("pk", "sk", "rev", "activity_pk", "activity_sk")
    profile = {name: value for name, value in billing_item.items() if name not in skipped}
    return {**profile, "pk": account, "sk": PROFILE_SK}


def save_billing_profile(account: str, billing_item: Mapping[str, Any]) -> None:
    """Make a stored billing event the profile unless a later one already is (idempotent)."""
    storage.put_item(
        get_settings().events_table,
        profile_item(account, billing_item),
        condition="attribute_not_exists(pk) OR occurred_at <= :at",
        values={":at": billing_item["occurred_at"]},
    )


# --- Reads over an account's events -----------------------------------------------------


def _newest_activity(pk: str, upper: str, limit: int) -> list[storage.Item]:
    return list(
        storage.query(
            get_settings().events_table,
            "activity_pk = :pk AND activity_sk < :upper",
            {":pk": pk, ":upper": upper},
            index=RECENT_ACTIVITY_INDEX,
            forward=False,
            limit=limit,
        )
    )


def recent_activity(account: str, upper: str, limit: int) -> list[dict[str, Any]]:
    """The newest `limit` messages, OTP sessions and campaigns whose activity key sorts
    below `upper`, newest first, as {kind, event_id, occurred_at, status}: one Query per
    partition key (concurrently), merged, and one read of the chosen items' statuses."""
    found = storage.parallel(lambda pk: _newest_activity(pk, upper, limit), partitions(account))
    entries = sorted(
        (entry for partition in found for entry in partition),
        key=lambda entry: str(entry["activity_sk"]),
        reverse=True,
    )[:limit]
    statuses = {
        (str(item["pk"]), str(item["sk"])): item.get("status")
        for item in get_many(
            [{"pk": entry["pk"], "sk": entry["sk"]} for entry in entries], names=["status"]
        )
    }
    activity = []
    for entry in entries:
        occurred_at, kind, event_id = str(entry["activity_sk"]).split("#", 2)
        activity.append(
            {
                "kind": kind,
                "event_id": event_id,
                "occurred_at": occurred_at,
                "status": statuses.get((str(entry["pk"]), str(entry["sk"]))),
            }
        )
    return activity


_CAMPAIGN_FIELDS = {
    "#id": "event_id",
    "#name": "name",
    "#status": "status",
    "#audience": "audience",
    "#created": "occurred_at",
    "#completed": "completed_at",
}


def campaigns_created(account: str, low: str, high: str) -> list[storage.Item]:
    """Campaign items created in [low, high) (stored occurred_at strings): one Query over the
    account's own partition, filtered on the server; grows with campaigns, not messages."""
    return list(
        storage.query(
            get_settings().events_table,
            "pk = :pk AND begins_with(sk, :prefix)",
            {":pk": account, ":prefix": "campaign#", ":low": low, ":high": high},
            names=_CAMPAIGN_FIELDS,
            filter_expression="#created >= :low AND #created < :high",
            projection=", ".join(_CAMPAIGN_FIELDS),
        )
    )


def raw_events(account: str | None = None) -> Iterator[storage.Item]:
    """The stored events of one account (a Query per partition key) or of every account
    (a Scan); profile and registry items left out."""
    table = get_settings().events_table
    if account is None:
        items: Iterator[storage.Item] = storage.scan(table)
    else:
        items = (
            item
            for pk in partitions(account)
            for item in storage.query(table, "pk = :pk", {":pk": pk})
        )
    return (item for item in items if is_event(item))
