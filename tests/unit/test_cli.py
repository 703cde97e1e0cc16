"""`tally` misuse: one clear line and a non-zero exit, never a traceback; light imports."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tally_dev import UsageError, cli
from tests.support import ROOT


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tally_dev.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env=env,
        check=False,
    )


def test_an_unknown_serve_option_prints_serves_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli.main(["serve", "--bogus"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert error.startswith("usage: tally serve ")
    assert "--demo" in error
    assert "unrecognized arguments: --bogus" in error


def test_keys_create_without_a_region_is_one_line() -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and not name.startswith("TALLY_")
    }
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    tables = ("--keys-table", "Keys", "--events-table", "Events")
    result = run_cli(
        "keys", "create", "--account", "acme", "--scopes", "stats:read", *tables, env=env
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "tally keys: no AWS region: pass --region or set AWS_REGION"
    ]


def test_the_cli_imports_no_local_runtime() -> None:
    """`tally keys create` must work where moto and PyYAML are not installed."""
    probe = (
        "import sys, tally_dev.cli; "
        "print(sorted(m for m in ('moto', 'yaml', 'werkzeug') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.strip() == "[]"


def test_misuse_is_explained_and_bugs_are_not() -> None:
    missing = ClientError(
        {"Error": {"Code": "ResourceNotFoundException", "Message": "Requested resource not found"}},
        "PutItem",
    )
    line = cli.explain(missing)
    assert line is not None
    assert line.startswith("DynamoDB: Requested resource not found (tables used:")
    assert cli.explain(UsageError("port 3000 is in use")) == "port 3000 is in use"
    assert cli.explain(KeyError("a bug")) is None
