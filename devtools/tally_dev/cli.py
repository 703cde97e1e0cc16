"""The `tally` command line: `tally serve`, plus the operational commands of `tally_dev.ops`.

The local runtime (moto, PyYAML, tqdm) is imported inside `serve` only: the
operational commands work where the package is installed without it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from tally_dev import UsageError
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
    parser.set_defaults(run=_run_serve, parser=parser)


def _run_serve(args: argparse.Namespace) -> int:
    from tally_dev.server import Options, serve

    options = Options(
        host=args.host,
        port=args.port,
        engine=args.engine,
        endpoint_url=args.endpoint_url,
        admin_key=args.admin_key,
        demo=args.demo,
        failure_log=args.failure_log,
    )
    if args.batch_window is not None:
        options.batch_window = args.batch_window
    code = serve(options)
    # Everything has stopped; what is left is the embedded DynamoDB's data, which the
    # interpreter would free object by object at exit (seconds, for the demo: Ctrl-C must
    # end `tally serve` within 5 s). Flush and leave at once.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def build_parser() -> argparse.ArgumentParser:
    from tally_dev import openapi, ops

    parser = argparse.ArgumentParser(prog="tally", description="Tally developer tooling")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_serve_parser(subparsers)
    ops.register(subparsers)
    openapi.register(subparsers)
    return parser


def _table_names() -> str:
    names = [f"{name}={value}" for name, value in os.environ.items() if name.startswith("TALLY_")]
    names = [name for name in names if name.split("=", 1)[0].endswith("_TABLE")]
    return ", ".join(sorted(names)) or "the defaults"


def explain(error: Exception) -> str | None:
    """One line for an error the user can fix (a misuse, not a bug); None for a bug."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
    )

    if isinstance(error, UsageError):
        return str(error)
    if isinstance(error, NoRegionError):
        return "no AWS region: pass --region or set AWS_REGION"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach DynamoDB: {error}"
    if isinstance(error, ClientError):
        code = error.response.get("Error", {}).get("Code", "")
        message = error.response.get("Error", {}).get("Message", str(error))
        if code == "ResourceNotFoundException":
            return f"DynamoDB: {message} (tables used: {_table_names()}; check the table flags)"
        return f"DynamoDB refused the request: {code}: {message}"
    return None


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except KeyboardInterrupt:
        # Ctrl-C before a command set its own handler (while importing): no traceback.
        return 130


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # The subcommand's own usage, not the top-level one.
        getattr(args, "parser", parser).error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("werkzeug", "botocore", "urllib3", "boto3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result: int = args.run(args)
    except Exception as error:
        line = explain(error)
        if line is None:
            raise
        print(f"tally {args.command}: {line}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
