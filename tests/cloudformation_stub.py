"""A stubbed CloudFormation for `tally_dev.ops` (botocore's Stubber checks requests and
responses against the service model): the unit and integration tests of `--stack`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tally_dev import ops

STACK_ARN = "arn:aws:cloudformation:eu-west-3:123456789012:stack/tally/0a1b2c3d"
OUTPUTS = {
    "EventsTableName": "tally-EventsTable-1X",
    "CountersTableName": "tally-CountersTable-2Y",
    "KeysTableName": "tally-KeysTable-3Z",
    "QuarantineTableName": "tally-QuarantineTable-4W",
}


def describe_stacks_response(outputs: dict[str, str], region: str = "eu-west-3") -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackName": "tally",
                "StackId": STACK_ARN.replace(":eu-west-3:", f":{region}:"),
                "CreationTime": datetime(2026, 6, 1, tzinfo=UTC),
                "StackStatus": "CREATE_COMPLETE",
                "Outputs": [{"OutputKey": k, "OutputValue": v} for k, v in outputs.items()],
            }
        ]
    }


@pytest.fixture
def cloudformation(monkeypatch: pytest.MonkeyPatch):
    """A stubbed CloudFormation client; `regions` records the region each client was for."""
    client = boto3.client(
        "cloudformation",
        region_name="eu-west-3",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stubber = Stubber(client)
    regions: list[str | None] = []

    def make(region: str | None) -> Any:
        regions.append(region)
        return client

    monkeypatch.setattr(ops, "_cloudformation", make)
    with stubber:
        yield stubber, regions
        stubber.assert_no_pending_responses()
