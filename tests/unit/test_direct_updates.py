"""storage.DirectUpdates: UpdateItem on a path of its own, signed, retried and reported
exactly as botocore would, against a scripted DynamoDB over real HTTP."""

from __future__ import annotations

import json
import os
import threading
import time
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.auth
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError, HTTPClientError
from hypothesis import given, settings
from hypothesis import strategies as st

from tally import storage
from tally_dev.lambda_kit import DynamoDBCalls

_TYPE = "com.amazonaws.dynamodb.v20120810#"
_REQUEST = {
    "TableName": "counters",
    "Key": {"pk": {"S": "acct#sms"}, "sk": {"S": "d#2026-12-01"}},
    "UpdateExpression": "ADD #n :n",
    "ExpressionAttributeNames": {"#n": "sent"},
    "ExpressionAttributeValues": {":n": {"N": "1"}},
}


class Reply:
    """One scripted answer: status and JSON body, or a connection dropped mid-reply."""

    def __init__(
        self, status: int = 200, body: Any = None, *, crc: int | None = None, close: bool = False
    ) -> None:
        self.status = status
        self.close = close
        self.data = json.dumps({} if body is None else body).encode()
        self.crc = zlib.crc32(self.data) if crc is None else crc


DROP = Reply(status=0)


class Scripted:
    """DynamoDB over HTTP that answers from a script and keeps every request it got."""

    def __init__(self) -> None:
        self.script: list[Reply] = []
        self.received: list[tuple[dict[str, str], bytes]] = []
        scripted = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                scripted.received.append((dict(self.headers), body))
                reply = scripted.script.pop(0) if scripted.script else Reply()
                if reply is DROP:
                    self.close_connection = True
                    self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{")
                    return
                self.send_response(reply.status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("x-amzn-RequestId", f"request-{len(scripted.received)}")
                self.send_header("x-amz-crc32", str(reply.crc))
                self.send_header("Content-Length", str(len(reply.data)))
                self.end_headers()
                self.wfile.write(reply.data)
                self.close_connection = reply.close

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Scripted]:
    monkeypatch.setattr(storage, "backoff", lambda attempt: None)
    scripted = Scripted()
    yield scripted
    scripted.server.shutdown()
    scripted.server.server_close()


_TOKEN = "session-token"


def direct(url: str, token: str | None = _TOKEN, region: str = "eu-west-1") -> Any:
    sdk = botocore.session.get_session().create_client(
        "dynamodb",
        region_name=region,
        endpoint_url=url,
        aws_access_key_id="AKIDEXAMPLE",
        aws_secret_access_key="secret",
    )
    return storage.DirectUpdates(sdk, Credentials("AKIDEXAMPLE", "secret", token), None)


def botocore_authorization(
    url: str, region: str, token: str | None, body: bytes, at: datetime
) -> str:
    request = AWSRequest(
        "POST",
        f"{url}/",
        data=body,
        headers={
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": "DynamoDB_20120810.UpdateItem",
        },
    )
    signer = botocore.auth.SigV4Auth(
        Credentials("AKIDEXAMPLE", "secret", token), "dynamodb", region
    )
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: at
    try:
        signer.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original
    return str(request.headers["Authorization"])


@settings(max_examples=60, deadline=None)
@given(
    url=st.sampled_from(
        [
            "https://dynamodb.eu-west-1.amazonaws.com",
            "https://dynamodb.eu-west-1.amazonaws.com:443",
            "http://localhost:8000",
            "http://127.0.0.1:80",
            "https://vpce-1a2b.dynamodb.eu-west-1.vpce.amazonaws.com:8443",
        ]
    ),
    region=st.sampled_from(["eu-west-1", "us-east-1", "ap-south-2"]),
    token=st.none() | st.text("abcdefXYZ0123456789+/= ", min_size=1, max_size=40),
    body=st.binary(max_size=300),
    at=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
)
def test_the_signature_is_the_one_botocore_computes(url, region, token, body, at):
    at = at.replace(microsecond=0, tzinfo=UTC)
    client = direct(url, token, region)
    headers = client.signed_headers("UpdateItem", body, at.timetuple())
    assert headers["Authorization"] == botocore_authorization(url, region, token, body, at)
    assert headers["Host"] == botocore.auth._host_from_url(url)


def test_an_update_sends_the_request_as_json_and_returns_the_reply(dynamodb):
    dynamodb.script = [Reply(body={"Attributes": {"sent": {"N": "3"}}})]
    result = direct(dynamodb.url).update_item(**_REQUEST)
    assert result["Attributes"] == {"sent": {"N": "3"}}
    assert result["ResponseMetadata"]["RequestId"] == "request-1"
    headers, body = dynamodb.received[0]
    assert json.loads(body) == _REQUEST
    assert headers["X-Amz-Target"] == "DynamoDB_20120810.UpdateItem"
    assert headers["X-Amz-Security-Token"] == _TOKEN


def test_throttling_and_server_errors_are_retried_until_an_answer(dynamodb):
    dynamodb.script = [
        Reply(400, {"__type": _TYPE + "ProvisionedThroughputExceededException"}),
        Reply(500, {"__type": "com.amazon.coral.service#InternalFailure"}),
        Reply(503, {"__type": _TYPE + "ServiceUnavailable"}),
        Reply(400, {"__type": _TYPE + "RequestTimeoutException"}),
        Reply(),
    ]
    direct(dynamodb.url).update_item(**_REQUEST)
    assert len(dynamodb.received) == 5
    assert len({body for _, body in dynamodb.received}) == 1


def test_throttling_that_never_ends_is_raised_as_botocore_raises_it(dynamodb):
    dynamodb.script = [
        Reply(400, {"__type": _TYPE + "ThrottlingException", "message": "slow down"})
    ] * 20
    with pytest.raises(ClientError) as raised:
        direct(dynamodb.url).update_item(**_REQUEST)
    assert storage.is_throttling(raised.value)
    assert raised.value.response["Error"]["Message"] == "slow down"
    assert len(dynamodb.received) == storage._MAX_ATTEMPTS


def test_a_failed_condition_is_not_retried_and_carries_the_item_as_it_was(dynamodb):
    old = {"pk": {"S": "acct#sms"}, "sk": {"S": "d#2026-12-01"}, "sent": {"N": "7"}}
    dynamodb.script = [
        Reply(
            400,
            {
                "__type": _TYPE + "ConditionalCheckFailedException",
                "message": "The conditional request failed",
                "Item": old,
            },
        )
    ]
    with pytest.raises(ClientError) as raised:
        direct(dynamodb.url).update_item(**_REQUEST, ConditionExpression="attribute_not_exists(x)")
    assert storage.error_code(raised.value) == "ConditionalCheckFailedException"
    assert raised.value.response["Item"] == old
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert len(dynamodb.received) == 1


def test_a_refused_request_is_not_retried(dynamodb):
    dynamodb.script = [Reply(400, {"__type": _TYPE + "ValidationException", "Message": "too big"})]
    with pytest.raises(ClientError) as raised:
        direct(dynamodb.url).update_item(**_REQUEST)
    assert storage.is_invalid_request(raised.value)
    assert raised.value.response["Error"]["Message"] == "too big"
    assert len(dynamodb.received) == 1


def test_a_damaged_or_cut_reply_is_retried(dynamodb):
    dynamodb.script = [Reply(crc=12345), DROP, Reply(body={"Attributes": {}})]
    assert direct(dynamodb.url).update_item(**_REQUEST)["Attributes"] == {}
    assert len(dynamodb.received) == 3


def test_a_keep_alive_connection_the_server_closed_is_replaced_before_it_is_used(
    dynamodb, monkeypatch
):
    retries = []
    monkeypatch.setattr(storage, "backoff", retries.append)
    dynamodb.script = [Reply(close=True), Reply(close=True), Reply()]
    client = direct(dynamodb.url)
    for _ in range(3):
        client.update_item(**_REQUEST)
        time.sleep(0.05)  # the server's close reaches this side
    assert len(dynamodb.received) == 3
    assert retries == []


def test_a_connection_that_never_works_fails_as_a_transport_error(monkeypatch):
    monkeypatch.setattr(storage, "backoff", lambda attempt: None)
    with pytest.raises(HTTPClientError):
        direct("http://127.0.0.1:9").update_item(**_REQUEST)


def test_the_client_events_fire_and_a_before_send_answer_replaces_the_network(dynamodb):
    client = direct(dynamodb.url)
    sent = []

    def answer(request: Any, **_: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        sent.append(request)

        class Raw:
            def stream(self, **_: Any) -> Iterator[bytes]:
                yield b'{"Attributes": {"sent": {"N": "1"}}}'

        return AWSResponse(request.url, 200, {}, Raw())

    client.meta.events.register("before-send.dynamodb.UpdateItem", answer)
    with DynamoDBCalls(client) as calls:
        client.update_item(**_REQUEST)
    assert dynamodb.received == []
    assert json.loads(sent[0].body) == _REQUEST
    [call] = calls.of("UpdateItem")
    assert call.params == _REQUEST
    assert call.response is not None
    assert call.response["Attributes"] == {"sent": {"N": "1"}}


def test_every_other_operation_is_botocores(dynamodb):
    client = direct(dynamodb.url)
    assert client.get_item == client._sdk.get_item
    assert client.meta is client._sdk.meta


@pytest.mark.parametrize(
    ("variable", "value"),
    [("HTTPS_PROXY", "http://proxy.internal:3128"), ("AWS_ENDPOINT_URL", "http://gw.internal/ddb")],
)
def test_with_a_proxy_or_an_endpoint_path_the_client_is_botocores_alone(
    monkeypatch, variable, value
):
    for name in [name for name in os.environ if name.lower().endswith("_proxy")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv(variable, value)
    storage.reset_client()
    try:
        assert not isinstance(storage.client(), storage.DirectUpdates)
    finally:
        storage.reset_client()
    monkeypatch.delenv(variable)
    assert isinstance(storage.client(), storage.DirectUpdates)
    storage.reset_client()


def test_signing_keys_are_derived_once_a_day(dynamodb):
    client = direct(dynamodb.url)
    day = time.gmtime(0)
    first = client.signed_headers("UpdateItem", b"{}", day)
    assert client.signed_headers("UpdateItem", b"{}", day) == first
    assert list(client._signing_keys) == [("secret", "19700101")]
