"""Operational subcommands of the `tally` CLI: `tally keys create`, `tally rebuild`,
`tally quarantine list|replay`.

Both work against any DynamoDB (AWS, `tally serve`'s embedded one, DynamoDB
Local): tables come from `TALLY_*_TABLE` or the flags, the endpoint from
`--endpoint-url` (or the usual AWS environment).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable
from typing import TypeVar

from pydantic import ValidationError
from tqdm import tqdm

T = TypeVar("T")

_TABLE_FLAGS = {
    "events_table": "TALLY_EVENTS_TABLE",
    "counters_table": "TALLY_COUNTERS_TABLE",
    "keys_table": "TALLY_KEYS_TABLE",
    "quarantine_table": "TALLY_QUARANTINE_TABLE",
}


def _add_connection_flags(parser: argparse.ArgumentParser, tables: Iterable[str]) -> None:
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint (default: AWS)")
    parser.add_argument("--region", help="AWS region (default: the AWS environment's)")
    for table in tables:
        flag = "--" + table.replace("_", "-")
        parser.add_argument(flag, dest=table, help=f"table name (default: ${_TABLE_FLAGS[table]})")


def configure(args: argparse.Namespace) -> None:
    """Point the `tally` layer at the tables and endpoint the flags name."""
    from tally import storage
    from tally.config import reset_settings

    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = args.endpoint_url
    if args.region:
        os.environ["AWS_DEFAULT_REGION"] = args.region
    for table, variable in _TABLE_FLAGS.items():
        name = getattr(args, table, None)
        if name:
            os.environ[variable] = name
    reset_settings()
    storage.reset_client()


def keys_create(args: argparse.Namespace) -> int:
    from tally.keys import bootstrap_key

    configure(args)
    scopes = [scope.strip() for scope in args.scopes.split(",") if scope.strip()]
    try:
        created = bootstrap_key(args.account, scopes, args.name)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"tally keys create: {problems}", file=sys.stderr)
        return 2
    print(created.model_dump_json(indent=2))
    return 0


def _bar(items: Iterable[T], *, desc: str, total: int | None) -> Iterable[T]:
    return tqdm(items, desc=desc, total=total, unit="item", file=sys.stderr, leave=False)


def rebuild(args: argparse.Namespace) -> int:
    from tally.rebuild import rebuild as run

    configure(args)
    result = run(args.account, progress=_bar)
    print(json.dumps({"account": args.account, **result.as_dict()}))
    return 0


def quarantine_list(args: argparse.Namespace) -> int:
    from tally import quarantine

    configure(args)
    for entry in quarantine.entries(args.account):
        summary = {name: entry.get(name) for name in ("entry", "event", "item", "reason")}
        print(json.dumps({**summary, "quarantined_at": entry.get("quarantined_at")}))
    return 0


def quarantine_replay(args: argparse.Namespace) -> int:
    """Apply entries (all of an account, or the ones named) exactly once; non-zero exit
    when some are still refused."""
    from tally import counters, quarantine

    configure(args)
    if args.entry:
        chosen = [entry for name in args.entry if (entry := quarantine.get(name)) is not None]
    else:
        chosen = list(quarantine.entries(args.account))
    refused = 0
    for entry in chosen:
        outcome = counters.replay(entry)
        refused += outcome.startswith("still refused")
        print(json.dumps({"entry": entry["entry"], "outcome": outcome}))
    return 1 if refused else 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `keys create`, `rebuild` and `quarantine` to the `tally` CLI's subcommands."""
    keys = subparsers.add_parser("keys", help="manage API keys directly in the keys table")
    actions = keys.add_subparsers(dest="keys_command", required=True)
    create = actions.add_parser(
        "create",
        help="create an API key and print it (with its secret, shown once) as JSON",
        description="Bootstrap an account: no existing key is needed.",
    )
    create.add_argument("--account", required=True)
    create.add_argument(
        "--scopes",
        required=True,
        help="comma-separated: events:write,stats:read,billing:read,keys:manage,admin",
    )
    create.add_argument("--name", default="")
    _add_connection_flags(create, ("keys_table", "events_table"))
    create.set_defaults(run=keys_create)

    rebuild_parser = subparsers.add_parser(
        "rebuild",
        help="recompute counters from the raw events (pause the stream mapping first)",
        description=(
            "Rewrite the counters of one account (or all) from the raw events and delete "
            "counter items they no longer produce. Run it while the account's writes are "
            "paused and the stream is drained (docs/operations.md): a stream batch applied "
            "during a rebuild can be counted twice or lost."
        ),
    )
    rebuild_parser.add_argument("--account", help="only this account (default: every account)")
    _add_connection_flags(rebuild_parser, ("events_table", "counters_table"))
    rebuild_parser.set_defaults(run=rebuild)

    quarantine = subparsers.add_parser(
        "quarantine",
        help="stream records the counters function set aside (DynamoDB refused them)",
        description=(
            "List the records the counters function could not apply, or replay them: each "
            "entry's deltas are applied and the entry deleted in one transaction (exactly once)."
        ),
    )
    quarantine_actions = quarantine.add_subparsers(dest="quarantine_command", required=True)
    listing = quarantine_actions.add_parser("list", help="print every entry as a JSON line")
    listing.add_argument("--account", help="only this account's entries")
    _add_connection_flags(listing, ("quarantine_table",))
    listing.set_defaults(run=quarantine_list)
    replay = quarantine_actions.add_parser("replay", help="apply entries and delete them")
    replay.add_argument("--account", help="only this account's entries (default: all)")
    replay.add_argument("--entry", action="append", help="only this entry (repeatable)")
    _add_connection_flags(replay, ("quarantine_table", "counters_table"))
    replay.set_defaults(run=quarantine_replay)
