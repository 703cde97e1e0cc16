"""Operational subcommands of the `tally` CLI: `tally keys create`, `tally rebuild`.

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


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `keys create` and `rebuild` to the `tally` CLI's subcommands."""
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
