"""The local gateway as a front end, over real sockets: request framing, smuggling, limits.

A template of two tiny functions (no DynamoDB): `POST /echo` answers the body it
got; `GET /secret` records that it ran, so a request smuggled inside a body
would show.
"""

from __future__ import annotations

import json
import socket
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally_dev import template as tpl
from tally_dev.gateway import BODY_LIMIT, Gateway, GatewayServer

LIMIT = 1024
TOO_LARGE = '{"title": "Content Too Large", "status": 413}'
NO_ROUTE = '{"title": "Not Found", "status": 404}'
TEMPLATE = f"""
Resources:
  Api:
    Type: AWS::Serverless::Api
    Properties:
      StageName: prod
      GatewayResponses:
        MISSING_AUTHENTICATION_TOKEN:
          StatusCode: "404"
          ResponseParameters:
            Headers:
              Content-Type: "'application/json'"
          ResponseTemplates:
            application/json: '{NO_ROUTE}'
        REQUEST_TOO_LARGE:
          StatusCode: "413"
          ResponseParameters:
            Headers:
              Content-Type: "'application/json'"
          ResponseTemplates:
            application/json: '{TOO_LARGE}'
  EchoFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/echo/
      Handler: app.lambda_handler
      Events:
        Echo:
          Type: Api
          Properties: {{Path: /echo, Method: post}}
        Secret:
          Type: Api
          Properties: {{Path: /secret, Method: get}}
"""
HANDLER = """
import json

CALLS = []


def lambda_handler(event, context):
    CALLS.append(event["path"])
    body = {"path": event["path"], "body": event["body"], "headers": event["headers"]}
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
            "body": json.dumps(body)}
"""


@pytest.fixture
def gateway(tmp_path: Path) -> Gateway:
    (tmp_path / "functions" / "echo").mkdir(parents=True)
    (tmp_path / "functions" / "echo" / "app.py").write_text(textwrap.dedent(HANDLER))
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    return Gateway(tpl.load(tmp_path / "template.yaml"))


@pytest.fixture
def address(gateway: Gateway) -> Iterator[tuple[str, int]]:
    server = GatewayServer(gateway, "127.0.0.1", 0, body_limit=LIMIT)
    server.server_activate()
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[:2]
    server.shutdown()
    server.server_close()


def calls(gateway: Gateway) -> list[str]:
    """Paths the function ran for (its module's CALLS)."""
    route = gateway.template.routes[0]
    module = gateway.functions.pool(route.handler).module()
    return list(module.CALLS)


def exchange(address: tuple[str, int], raw: bytes, timeout: float = 5) -> bytes:
    """Send raw bytes, half-close, and read everything until the server closes."""
    with socket.create_connection(address, timeout=timeout) as conn:
        conn.sendall(raw)
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    return received


def responses(received: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """(status, headers, body) of each HTTP response in a byte stream (Content-Length framed)."""
    parsed = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.lower(): value.strip() for name, value in (h.split(":", 1) for h in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        parsed.append((status, headers, rest[:length]))
        received = rest[length:]
    return parsed


def request(method: str, path: str, headers: list[str], body: bytes = b"") -> bytes:
    head = [f"{method} {path} HTTP/1.1", "Host: local", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def test_a_chunked_body_is_decoded_and_the_connection_stays_usable(
    gateway: Gateway, address: tuple[str, int]
) -> None:
    chunked = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    raw = request("POST", "/echo", ["Transfer-Encoding: chunked"], chunked)
    raw += request("POST", "/echo", ["Content-Length: 2"], b"ok")
    (first, second) = responses(exchange(address, raw))
    assert first[0] == 200
    echoed = json.loads(first[2])
    assert echoed["body"] == "hello world"
    # API Gateway drops the header: the function sees a plain body.
    assert "transfer-encoding" not in {name.lower() for name in echoed["headers"]}
    assert json.loads(second[2])["body"] == "ok"
    assert calls(gateway) == ["/echo", "/echo"]


def test_a_request_inside_a_chunked_body_is_body_not_a_second_request(
    gateway: Gateway, address: tuple[str, int]
) -> None:
    smuggled = b"GET /secret HTTP/1.1\r\nHost: local\r\n\r\n"
    chunked = f"{len(smuggled):x}\r\n".encode() + smuggled + b"\r\n0\r\n\r\n"
    received = exchange(address, request("POST", "/echo", ["Transfer-Encoding: chunked"], chunked))
    ((status, _, body),) = responses(received)
    assert status == 200
    assert json.loads(body)["body"] == smuggled.decode()
    assert calls(gateway) == ["/echo"]


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        (["Content-Length: 5", "Transfer-Encoding: chunked"], 400),
        (["Content-Length: abc"], 400),
        (["Content-Length: -1"], 400),
        (["Content-Length: 5", "Content-Length: 6"], 400),
        (["Content-Length: \uff13"], 400),  # a Unicode digit is not a length
        (["Transfer-Encoding: chunked, gzip"], 400),
        (["Transfer-Encoding: gzip, chunked"], 501),
    ],
    ids=["length-and-chunked", "abc", "negative", "two-lengths", "unicode", "not-last", "gzip"],
)
def test_bad_framing_is_refused_and_the_connection_closed(
    gateway: Gateway, address: tuple[str, int], headers: list[str], status: int
) -> None:
    smuggled = b"GET /secret HTTP/1.1\r\nHost: local\r\n\r\n"
    started = time.monotonic()
    received = exchange(address, request("POST", "/echo", headers, b"0\r\n\r\n" + smuggled))
    ((answered, response_headers, body),) = responses(received)  # nothing after: closed
    assert answered == status
    assert response_headers["connection"] == "close"
    assert json.loads(body)["status"] == status
    assert time.monotonic() - started < 3  # no thread left waiting for a body
    assert calls(gateway) == []


@pytest.mark.parametrize("framing", ["length", "chunked"])
def test_a_body_over_the_limit_gets_the_templates_413(
    gateway: Gateway, address: tuple[str, int], framing: str
) -> None:
    body = b"x" * (LIMIT + 1)
    if framing == "length":
        raw = request("POST", "/echo", [f"Content-Length: {len(body)}"], body)
    else:
        chunk = f"{LIMIT:x}\r\n".encode() + body[:LIMIT] + b"\r\n1\r\nx\r\n0\r\n\r\n"
        raw = request("POST", "/echo", ["Transfer-Encoding: chunked"], chunk)
    ((status, headers, answered),) = responses(exchange(address, raw))
    assert (status, answered.decode()) == (413, TOO_LARGE)
    assert headers["connection"] == "close"
    assert calls(gateway) == []


def test_a_body_at_the_limit_is_served(gateway: Gateway, address: tuple[str, int]) -> None:
    body = b"y" * LIMIT
    raw = request("POST", "/echo", [f"Content-Length: {LIMIT}"], body)
    ((status, _, answered),) = responses(exchange(address, raw))
    assert status == 200
    assert json.loads(answered)["body"] == body.decode()


def test_the_default_limit_is_api_gateways() -> None:
    assert BODY_LIMIT == 10 * 1024 * 1024


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("PUT", "/echo")])
def test_unknown_routes_and_methods_get_the_templates_missing_token_response(
    gateway: Gateway, address: tuple[str, int], method: str, path: str
) -> None:
    ((status, headers, body),) = responses(exchange(address, request(method, path, [])))
    assert (status, body.decode()) == (404, NO_ROUTE)
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert "allow" not in headers


def test_a_client_gone_mid_body_leaves_no_error(
    gateway: Gateway, address: tuple[str, int], caplog: pytest.LogCaptureFixture
) -> None:
    raw = request("POST", "/echo", ["Content-Length: 100"], b"only part")
    assert exchange(address, raw) == b""
    raw = request("POST", "/echo", ["Transfer-Encoding: chunked"], b"10\r\nshort")
    assert exchange(address, raw) == b""
    time.sleep(0.2)
    assert not [record for record in caplog.records if record.levelname == "ERROR"]
    assert calls(gateway) == []


def test_the_port_refuses_connections_until_the_server_listens(gateway: Gateway) -> None:
    server = GatewayServer(gateway, "127.0.0.1", 0)
    try:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(server.server_address[:2], timeout=2)
        server.server_activate()
        socket.create_connection(server.server_address[:2], timeout=2).close()
    finally:
        server.server_close()


def test_a_port_in_use_fails_at_bind(gateway: Gateway) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(OSError, match="in use"):
            GatewayServer(gateway, "127.0.0.1", taken.getsockname()[1])
