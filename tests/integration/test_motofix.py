"""The embedded moto engine's fixes (tally_dev.motofix) answer what moto itself answers.

Item reads are JSON-encoded directly instead of by moto's response serializer:
every read shape, over every attribute type, must parse to the same answer
both ways (botocore also checks each body's CRC32).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from tally_dev import engine as engines
from tally_dev import motofix

pytestmark = pytest.mark.skipif(
    os.environ.get("TALLY_TEST_ENGINE", "moto") != "moto", reason="the moto engine's own fixes"
)
TABLE = "motofix"
EVERY_TYPE = {
    "s": {"S": "héllo ✓"},
    "empty": {"S": ""},
    "n": {"N": "-12.500"},
    "big": {"N": "99999999999999999999999999999999999999"},
    "b": {"B": b"\x00\xffbytes"},
    "ss": {"SS": ["a", "b"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"\x01", b"\x02"]},
    "m": {"M": {"inner": {"L": [{"B": b"\x03"}, {"NULL": True}, {"BOOL": False}]}}},
    "l": {"L": [{"M": {"deep": {"N": "7"}}}, {"S": "x"}]},
    "null": {"NULL": True},
    "bool": {"BOOL": True},
}


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            patch.delenv(name, raising=False)
        running = engines.start("moto")
        client = boto3.client("dynamodb", endpoint_url=running.endpoint_url)
        client.create_table(
            TableName=TABLE,
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        for pk in ("a", "b"):
            for sk in range(5):
                item = {"pk": {"S": pk}, "sk": {"N": str(sk)}, **EVERY_TYPE}
                client.put_item(TableName=TABLE, Item=item)
        yield client
        running.stop()


# Every read shape: (operation, its parameters besides TableName).
READS: dict[str, tuple[str, dict[str, Any]]] = {
    "get": ("get_item", {"Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}}),
    "get-missing": ("get_item", {"Key": {"pk": {"S": "zz"}, "sk": {"N": "1"}}}),
    "get-projected": (
        "get_item",
        {
            "Key": {"pk": {"S": "a"}, "sk": {"N": "2"}},
            "ProjectionExpression": "b, m.inner, #n",
            "ExpressionAttributeNames": {"#n": "null"},
            "ReturnConsumedCapacity": "TOTAL",
        },
    ),
    "query-page": (
        "query",
        {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "a"}},
            "Limit": 2,
            "ScanIndexForward": False,
        },
    ),
    "query-count": (
        "query",
        {
            "KeyConditionExpression": "pk = :pk AND sk > :low",
            "ExpressionAttributeValues": {":pk": {"S": "b"}, ":low": {"N": "1"}},
            "Select": "COUNT",
        },
    ),
    "scan-filtered": (
        "scan",
        {"FilterExpression": "sk >= :two", "ExpressionAttributeValues": {":two": {"N": "2"}}},
    ),
    "scan-projected": ("scan", {"ProjectionExpression": "pk, sk, bs, ns", "Limit": 7}),
}
BATCH_GET = {
    "RequestItems": {
        TABLE: {
            "Keys": [
                {"pk": {"S": "a"}, "sk": {"N": "0"}},
                {"pk": {"S": "b"}, "sk": {"N": "4"}},
                {"pk": {"S": "nope"}, "sk": {"N": "0"}},
            ]
        }
    },
    "ReturnConsumedCapacity": "INDEXES",
}


def read(client: Any, name: str) -> Any:
    if name == "batch-get":
        return client.batch_get_item(**BATCH_GET)
    operation, parameters = READS[name]
    return getattr(client, operation)(TableName=TABLE, **parameters)


@pytest.mark.parametrize("name", [*READS, "batch-get"])
def test_item_reads_parse_the_same_as_through_motos_serializer(
    client: Any, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = read(client, name)
    assert fast["ResponseMetadata"]["HTTPStatusCode"] == 200
    monkeypatch.setattr(motofix, "item_read_body", lambda operation, result: None)
    serialized = read(client, name)
    for answer in (fast, serialized):
        answer.pop("ResponseMetadata")
    assert fast == serialized


def test_the_fast_path_takes_only_item_reads() -> None:
    assert motofix.item_read_body("Query", {"Items": [], "Count": 0}) is not None
    assert motofix.item_read_body("DescribeTable", {"Table": {}}) is None
    assert motofix.item_read_body("Query", {"Items": [], "Unexpected": 1}) is None


def test_an_item_over_the_size_limit_is_still_refused(client: Any) -> None:
    big = {"pk": {"S": "big"}, "sk": {"N": "0"}, "blob": {"S": "x" * 410_000}}
    with pytest.raises(client.exceptions.ClientError, match="maximum allowed size"):
        client.put_item(TableName=TABLE, Item=big)
