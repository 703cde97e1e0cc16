"""`tally serve` over real HTTP: routing from the template, ingest -> counters, keys, errors."""

from __future__ import annotations

import ctypes
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tally_dev import template as tpl
from tests.e2e.conftest import ROOT, Server, assert_stopped_cleanly, spawn_server, start_server
from tests.support import api_routes

pytestmark = pytest.mark.e2e

EXAMPLE_PARAMS = {"key_id": "key_00000000000000000000", "scope": "24h", "channel": "whatsapp"}


def gateway_error(response: requests.Response) -> bool:
    """API Gateway marks the errors it produces itself (unknown route, wrong method, bad function)."""
    return "x-amzn-ErrorType" in response.headers


def find(document: Any, name: str) -> Any:
    """The first value of key `name` anywhere in a JSON document."""
    if isinstance(document, dict):
        if name in document:
            return document[name]
        values = list(document.values())
    elif isinstance(document, list):
        values = document
    else:
        return None
    for value in values:
        found = find(value, name)
        if found is not None:
            return found
    return None


@pytest.mark.parametrize(
    "route", tpl.load().routes, ids=lambda route: f"{route.method} {route.path}"
)
def test_every_template_route_is_served_by_its_function(
    server: Server, http: requests.Session, route: tpl.Route
) -> None:
    path = route.path
    for name, value in EXAMPLE_PARAMS.items():
        path = path.replace("{" + name + "}", value)
    body = {"events": []} if route.path == "/v1/events" else {}
    response = http.request(
        "PUT" if route.method == "ANY" else route.method,
        server.base_url + path,
        headers=server.headers(),
        json=body if route.method in ("POST", "PATCH") else None,
        timeout=30,
    )
    assert not gateway_error(response), f"{response.status_code} {response.text}"
    assert response.status_code < 500, response.text


def gateway_responses() -> dict[str, dict[str, object]]:
    """The template's API's GatewayResponses (what API Gateway answers itself)."""
    resources = tpl.load().raw["Resources"]
    (api,) = (r for r in resources.values() if r["Type"] == "AWS::Serverless::Api")
    responses: dict[str, dict[str, object]] = api["Properties"]["GatewayResponses"]
    return responses


def assert_gateway_response(response: requests.Response, kind: str) -> None:
    expected = gateway_responses()[kind]
    assert response.status_code == int(str(expected["StatusCode"]))
    templates = expected["ResponseTemplates"]
    assert isinstance(templates, dict)
    assert response.text == templates["application/json"]
    assert response.headers["Content-Type"] == "application/json"


def test_unknown_path_is_the_templates_missing_token_response(
    server: Server, http: requests.Session
) -> None:
    response = http.get(f"{server.base_url}/v2/nothing", headers=server.headers(), timeout=10)
    assert_gateway_response(response, "MISSING_AUTHENTICATION_TOKEN")
    assert gateway_error(response)


def test_known_path_with_another_method_is_answered_as_an_unknown_route(
    server: Server, http: requests.Session
) -> None:
    # API Gateway has no 405: a method a resource lacks is an unknown route.
    for method, path in (("PUT", "/v1/events"), ("GET", "/v1/keys/key_x")):
        response = http.request(
            method, server.base_url + path, headers=server.headers(), timeout=10
        )
        assert_gateway_response(response, "MISSING_AUTHENTICATION_TOKEN")
        assert "Allow" not in response.headers


def test_a_body_over_10_mb_is_the_templates_413_and_the_connection_closes(
    server: Server,
) -> None:
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = (
            "POST /v1/events HTTP/1.1\r\nHost: local\r\nContent-Type: application/json\r\n"
            f"Content-Length: {10 * 1024 * 1024 + 1}\r\n\r\n"
        )
        conn.sendall(head.encode())  # the body never comes: the length alone is refused
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    head_part, _, body = received.partition(b"\r\n\r\n")
    assert head_part.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in head_part
    (expected,) = gateway_responses()["REQUEST_TOO_LARGE"]["ResponseTemplates"].values()  # type: ignore[union-attr]
    assert body.decode() == expected


def test_a_smuggled_request_in_a_chunked_body_never_runs(server: Server) -> None:
    """The chunk data is a whole `GET /v1/keys`: it must reach ingest as its body."""
    smuggled = (
        f"GET /v1/keys HTTP/1.1\r\nHost: local\r\nAuthorization: Bearer {server.admin_key}\r\n\r\n"
    )
    chunked = f"{len(smuggled):x}\r\n{smuggled}\r\n0\r\n\r\n"
    host, port = server.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        head = (
            "POST /v1/events HTTP/1.1\r\nHost: local\r\nTransfer-Encoding: chunked\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {server.admin_key}\r\n\r\n"
        )
        conn.sendall((head + chunked).encode())
        conn.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := conn.recv(65536):
            received += chunk
    # One answer, from ingest (the body is not JSON), and no key list anywhere.
    assert received.count(b"HTTP/1.1 ") == 1
    assert received.startswith(b"HTTP/1.1 4")
    assert b'"keys"' not in received


def test_static_path_wins_over_a_parameter(server: Server, http: requests.Session) -> None:
    # /v1/stats/messages is the usage API; /v1/stats/{scope} would answer 400 for scope "messages".
    response = http.get(
        f"{server.base_url}/v1/stats/messages", headers=server.headers(), timeout=30
    )
    assert response.status_code == 200, response.text
    assert "aggregated_api_usage_events" in response.text


def test_requests_without_a_key_are_401(server: Server, http: requests.Session) -> None:
    for path in ("/api/credits/balance", "/v1/keys", "/api/analytics/overview"):
        response = http.get(server.base_url + path, timeout=30)
        assert response.status_code == 401, (path, response.text)
        assert not gateway_error(response)


def test_a_key_without_the_scope_is_403(server: Server, http: requests.Session) -> None:
    created = http.post(
        f"{server.base_url}/v1/keys",
        json={"account": "e2e-scopes", "scopes": ["events:write"], "name": "writer"},
        headers=server.headers(),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    response = http.get(
        f"{server.base_url}/api/credits/balance",
        headers=server.headers(created.json()["secret"]),
        timeout=30,
    )
    assert response.status_code == 403


def test_ingested_messages_reach_the_counters_within_seconds(
    server: Server, http: requests.Session, account_key: tuple[str, str]
) -> None:
    _, key = account_key
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    events = [
        {
            "id": f"lag-{n}",
            "kind": "message",
            "occurred_at": now,
            "channel": "sms",
            "status": "sent",
            "to": "+213550000000",
        }
        for n in range(3)
    ]
    sent_at = time.monotonic()
    ingest = server.ingest(events, key)
    assert ingest.status_code == 200, ingest.text
    assert ingest.json()["accepted"] == 3
    seen = None
    while time.monotonic() - sent_at < 20:
        stats = http.get(
            f"{server.base_url}/v1/stats?scope=24h", headers=server.headers(key), timeout=30
        )
        assert stats.status_code == 200, stats.text
        seen = find(stats.json(), "total_messages")
        if seen == 3:
            break
        time.sleep(0.05)
    lag = time.monotonic() - sent_at
    print(f"\ningest -> counters lag: {lag:.2f} s")
    assert seen == 3, f"counters show {seen} after {lag:.1f} s"


def test_keys_api_create_list_revoke(
    server: Server, http: requests.Session, account_key: tuple[str, str]
) -> None:
    account, manager = account_key
    created = http.post(
        f"{server.base_url}/v1/keys",
        json={"scopes": ["stats:read"], "name": "reader"},
        headers=server.headers(manager),
        timeout=30,
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["account"] == account
    assert body["secret"].startswith("tk_")

    listed = http.get(f"{server.base_url}/v1/keys", headers=server.headers(manager), timeout=30)
    assert listed.status_code == 200
    keys = listed.json()["keys"]
    assert body["key_id"] in {key["key_id"] for key in keys}
    assert all("secret" not in key for key in keys)
    assert body["secret"] not in listed.text

    reader = server.headers(body["secret"])
    assert http.get(f"{server.base_url}/api/analytics/overview", headers=reader, timeout=30).ok
    revoked = http.delete(
        f"{server.base_url}/v1/keys/{body['key_id']}", headers=server.headers(manager), timeout=30
    )
    assert revoked.status_code == 204
    time.sleep(1.5)  # the server runs with a 1 s key cache (conftest)
    after = http.get(f"{server.base_url}/api/analytics/overview", headers=reader, timeout=30)
    assert after.status_code == 401


def test_openapi_document_and_swagger_ui(server: Server, http: requests.Session) -> None:
    document = http.get(f"{server.base_url}/openapi.json", timeout=60).json()
    assert document["openapi"].startswith("3.")
    # Handlers may name a path parameter differently from the template; the shape must match.
    documented = {
        (re.sub(r"\{[^}]+\}", "{}", path), method.upper())
        for path, operations in document["paths"].items()
        for method in operations
    }
    for route in api_routes():
        assert (re.sub(r"\{[^}]+\}", "{}", route.path), route.method) in documented, route
    docs = http.get(f"{server.base_url}/docs", timeout=60)
    assert docs.status_code == 200
    assert "SwaggerUIBundle" in docs.text
    asset = http.get(f"{server.base_url}/assets/swagger-ui-bundle.min.js", timeout=10)
    assert asset.status_code == 200
    assert len(asset.content) > 100_000


def test_ctrl_c_stops_the_server_cleanly(tmp_path: Path) -> None:
    own = start_server(tmp_path)
    assert requests.get(f"{own.base_url}/v2/nothing", timeout=10).status_code == 404
    assert_stopped_cleanly(own)


@pytest.mark.parametrize("moment", ["importing", "engine started"])
def test_ctrl_c_while_starting_stops_within_5_s(tmp_path: Path, moment: str) -> None:
    own = spawn_server(tmp_path, "--demo")
    if moment == "importing":
        time.sleep(0.5)
    else:
        assert own.wait_for("DynamoDB (", timeout=120), own.text
    assert_stopped_cleanly(own, codes=(0, 130, -signal.SIGINT))


def test_ctrl_c_during_the_demo_load_stops_within_5_s_and_the_port_never_hangs(
    tmp_path: Path,
) -> None:
    own = spawn_server(tmp_path, "--demo")
    assert own.wait_for("demo events", timeout=120), own.text
    # Loading: the port is bound but refuses (a client is not left hanging).
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{own.base_url}/v1/stats", timeout=5)
    assert_stopped_cleanly(own)


# tgkill(2): a signal to one thread of a process (Linux).
_TGKILL = {"x86_64": 234, "aarch64": 131}.get(platform.machine())


@pytest.mark.skipif(
    _TGKILL is None or not Path("/proc/self/task").is_dir(), reason="needs Linux's tgkill"
)
def test_ctrl_c_delivered_to_another_thread_still_stops_the_server(tmp_path: Path) -> None:
    """The kernel may hand a process's SIGINT to any thread; Python runs the handler in
    the main thread only, so a main thread blocked in an untimed wait never stopped."""
    own = start_server(tmp_path)
    pid = own.process.pid
    others = [int(tid) for tid in os.listdir(f"/proc/{pid}/task") if int(tid) != pid]
    libc = ctypes.CDLL(None, use_errno=True)
    started = time.monotonic()
    assert libc.syscall(_TGKILL, pid, others[-1], signal.SIGINT) == 0
    try:
        code = own.process.wait(10)
    except subprocess.TimeoutExpired:
        own.process.kill()
        own.process.wait()
        pytest.fail("SIGINT to a non-main thread did not stop tally serve")
    assert code == 0
    assert time.monotonic() - started <= 5


def test_a_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        own = spawn_server(tmp_path, port=port)
        code = own.process.wait(60)
    time.sleep(0.2)
    assert code == 2
    (line,) = [line for line in own.output if line.strip()]
    assert line.startswith(f"tally serve: cannot listen on 127.0.0.1:{port}: ")
    assert "--port" in line


def test_bounded_load_test_has_no_errors(server: Server) -> None:
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "load.py"),
            "--url",
            server.base_url,
            "--admin-key",
            server.admin_key,
            "--requests",
            "120",
            "--clients",
            "8",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "errors: 0" in result.stdout
