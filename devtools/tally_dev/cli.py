"""The `tally` command line: `tally serve`, plus the operational commands of `tally_dev.ops`."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from tally_dev import openapi, ops
from tally_dev.engine import ENGINES


def _add_serve_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the API, its DynamoDB and the counters stream locally (no Docker, no AWS)",
        description="Serve every route of template.yaml on loopback, backed by a local DynamoDB.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3000, help="0 picks a free port")
    parser.add_argument("--engine", choices=ENGINES, default="moto")
    parser.add_argument("--endpoint-url", help="use this DynamoDB endpoint instead of starting one")
    parser.add_argument(
        "--admin-key", help="install this secret as the admin key of account platform"
    )
    parser.add_argument(
        "--demo", action="store_true", help="load a synthetic dataset and print a key"
    )
    parser.add_argument(
        "--batch-window",
        type=float,
        help="cap on the stream batching window in seconds (default 0.5; the template's if lower)",
    )
    parser.add_argument(
        "--failure-log", type=Path, help="JSONL file for stream batches that exhausted retries"
    )
    parser.set_defaults(run=_run_serve)


def _run_serve(args: argparse.Namespace) -> int:
    # The local runtime needs the `local` extra (moto, PyYAML); `tally keys create` does not.
    from tally_dev.server import DEFAULT_LOCAL_BATCH_WINDOW, Options, serve

    return serve(
        Options(
            host=args.host,
            port=args.port,
            engine=args.engine,
            endpoint_url=args.endpoint_url,
            admin_key=args.admin_key,
            demo=args.demo,
            batch_window=(
                DEFAULT_LOCAL_BATCH_WINDOW if args.batch_window is None else args.batch_window
            ),
            failure_log=args.failure_log,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tally", description="Tally developer tooling")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_serve_parser(subparsers)
    ops.register(subparsers)
    openapi.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
