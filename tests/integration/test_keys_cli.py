"""The operator's first admin key in one command: `tally keys create --stack NAME --account
platform --scopes admin` reads the table names from the stack's outputs (CloudFormation
stubbed, tests/unit/test_ops_targets.py) and writes a key that works, on both engines."""

from __future__ import annotations

import json

from tally.config import get_settings
from tally_dev import cli
from tests.cloudformation_stub import cloudformation, describe_stacks_response
from tests.support import invoke, proxy_event

__all__ = ["cloudformation"]  # a fixture


def test_the_operators_admin_key_from_the_stack_outputs(keys, cloudformation, monkeypatch, capsys):
    stubber, _ = cloudformation
    settings = get_settings()
    stubber.add_response(
        "describe_stacks",
        describe_stacks_response(
            {
                "EventsTableName": settings.events_table,
                "CountersTableName": settings.counters_table,
                "KeysTableName": settings.keys_table,
            },
            region="us-east-1",
        ),
        {"StackName": "tally"},
    )
    # The stack's outputs win over the environment; monkeypatch restores what configure sets.
    monkeypatch.setenv("TALLY_KEYS_TABLE", "not-this-one")
    monkeypatch.setenv("TALLY_EVENTS_TABLE", "nor-this-one")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    capsys.readouterr()
    code = cli.main(
        ["keys", "create", "--stack", "tally", "--account", "platform", "--scopes", "admin"]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    created = json.loads(out)
    assert (created["account"], created["scopes"]) == ("platform", ["admin"])
    assert created["secret"].startswith("tk_")

    # The operator's key acts on any account by naming it.
    listed = invoke(
        "keys",
        proxy_event("GET", "/v1/keys", key=created["secret"], headers={"x-account-id": "acme"}),
    )
    assert listed["statusCode"] == 200, listed["body"]
    assert {key["account"] for key in listed["json"]["keys"]} == {"acme"}
