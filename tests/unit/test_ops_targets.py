"""Where `tally keys create` and `tally rebuild` write: a stack's outputs, flags, the
environment, or the local runtime's logical names, and never a guessed name on AWS.
CloudFormation is stubbed (botocore's Stubber checks requests and responses against
the service model, tests/cloudformation_stub.py); tests/integration/test_keys_cli.py
writes a real key through it."""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator

import pytest

from tally_dev import cli, ops
from tests.cloudformation_stub import (
    OUTPUTS,
    STACK_ARN,
    cloudformation,
    describe_stacks_response,
)

__all__ = ["cloudformation"]  # a fixture


@pytest.fixture
def clean_env() -> Iterator[None]:
    """No table or endpoint in the environment; every variable restored afterwards, including
    those configure() sets (monkeypatch.delenv records nothing for an absent variable)."""
    saved = dict(os.environ)
    for name in [
        name for name in os.environ if name.startswith("TALLY_") and name.endswith("_TABLE")
    ]:
        del os.environ[name]
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB"):
        os.environ.pop(name, None)
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    yield
    os.environ.clear()
    os.environ.update(saved)


def _args(*argv: str) -> argparse.Namespace:
    return cli.build_parser().parse_args(["keys", "create", "--account", "a", "--scopes", *argv])


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_without_a_stack_or_names_keys_create_refuses_to_guess(clean_env, capsys) -> None:
    code, out, err = run(capsys, "keys", "create", "--account", "platform", "--scopes", "admin")
    assert (code, out) == (2, "")
    assert err.startswith("tally keys create: which keys table? Pass --stack NAME")
    assert "--keys-table" in err
    assert "$TALLY_KEYS_TABLE" in err


def test_rebuild_needs_names_too(clean_env, capsys) -> None:
    code, _, err = run(capsys, "rebuild")
    assert code == 2
    assert "which events table? Pass --stack NAME" in err


def test_names_come_from_a_flag_then_the_stack_then_the_environment() -> None:
    args = _args("admin", "--keys-table", "FromFlag")
    environ = {"TALLY_KEYS_TABLE": "FromEnv", "TALLY_EVENTS_TABLE": "EventsFromEnv"}
    assert ops.table_names(args, OUTPUTS, environ) == {
        "keys_table": "FromFlag",
        "events_table": "tally-EventsTable-1X",
    }
    assert ops.table_names(_args("admin"), {}, environ) == {
        "keys_table": "FromEnv",
        "events_table": "EventsFromEnv",
    }


@pytest.mark.parametrize(
    "local",
    [
        ("--endpoint-url", "http://127.0.0.1:3001"),
        ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:8000"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:8000"),
    ],
)
def test_the_logical_names_are_used_only_against_a_local_endpoint(local) -> None:
    name, value = local
    args = _args("admin", name, value) if name.startswith("--") else _args("admin")
    environ = {} if name.startswith("--") else {name: value}
    assert ops.table_names(args, {}, environ) == {
        "keys_table": "KeysTable",
        "events_table": "EventsTable",
    }


def test_the_stack_region_comes_from_its_arn() -> None:
    assert ops.stack_region(STACK_ARN) == "eu-west-3"
    assert ops.stack_region("tally") is None


def test_a_stack_arn_names_the_region_of_every_call(clean_env, cloudformation, capsys) -> None:
    stubber, regions = cloudformation
    stubber.add_response(
        "describe_stacks", describe_stacks_response(OUTPUTS), {"StackName": STACK_ARN}
    )
    args = cli.build_parser().parse_args(["rebuild", "--stack", STACK_ARN])
    assert ops.configure(args) == {
        "events_table": "tally-EventsTable-1X",
        "counters_table": "tally-CountersTable-2Y",
        "quarantine_table": "tally-QuarantineTable-4W",
    }
    assert regions == ["eu-west-3"]
    assert os.environ["AWS_DEFAULT_REGION"] == "eu-west-3"
    assert os.environ["TALLY_COUNTERS_TABLE"] == "tally-CountersTable-2Y"


def test_a_stack_without_the_outputs_is_reported(clean_env, cloudformation, capsys) -> None:
    stubber, _ = cloudformation
    stubber.add_response(
        "describe_stacks",
        describe_stacks_response({"ApiUrl": "https://x"}),
        {"StackName": "other"},
    )
    code, _, err = run(
        capsys, "keys", "create", "--stack", "other", "--account", "a", "--scopes", "admin"
    )
    assert code == 2
    assert "stack other has no output KeysTableName: is it a Tally stack?" in err


def test_an_unknown_stack_is_reported(clean_env, cloudformation, capsys) -> None:
    stubber, regions = cloudformation
    stubber.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id tally does not exist",
        expected_params={"StackName": "tally"},
    )
    code, out, err = run(
        capsys,
        "keys", "create", "--stack", "tally", "--region", "eu-west-3",
        "--account", "platform", "--scopes", "admin",
    )  # fmt: skip
    assert (code, out) == (2, "")
    assert err == "tally keys create: stack tally: Stack with id tally does not exist\n"
    assert regions == ["eu-west-3"]
