"""A real `tally serve` subprocess on a free port, shared by the end-to-end tests.

The engine is TALLY_TEST_ENGINE (moto by default; CI runs `dynamodb-local` too).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tally_dev.engine import free_port

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 120


@dataclass
class Server:
    base_url: str
    admin_key: str
    process: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)

    def headers(self, key: str | None = None, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}", **extra}

    def ingest(self, events: list[dict[str, object]], key: str | None = None) -> requests.Response:
        """POST /v1/events over HTTP."""
        return requests.post(
            f"{self.base_url}/v1/events",
            json={"events": events},
            headers=self.headers(key),
            timeout=30,
        )

    def wait_for(self, text: str, timeout: float = START_TIMEOUT) -> bool:
        """Wait until `text` appears in the output; False if the process ended or time ran out."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in list(self.output)):
                return True
            if self.process.poll() is not None:
                time.sleep(0.2)  # let the reader thread catch the last lines
                return any(text in line for line in list(self.output))
            time.sleep(0.05)
        return False

    @property
    def text(self) -> str:
        return "".join(self.output)


def spawn_server(tmp: Path, *extra_args: str, port: int | None = None) -> Server:
    """`tally serve` in a subprocess, its output collected as it comes (not waited for)."""
    port = port or free_port()
    admin_key = "tk_e2e_" + secrets.token_urlsafe(24)
    env = {k: v for k, v in os.environ.items() if k != "TALLY_NOW"}
    # Revocations reach the server's key cache within a second, so the keys test stays short.
    env["TALLY_KEY_CACHE_SECONDS"] = "1"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tally_dev.cli",
            "serve",
            "--port",
            str(port),
            "--admin-key",
            admin_key,
            "--engine",
            os.environ.get("TALLY_TEST_ENGINE", "moto"),
            "--failure-log",
            str(tmp / "failures.jsonl"),
            *extra_args,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    server = Server(f"http://127.0.0.1:{port}", admin_key, process)

    def drain() -> None:
        # Keep reading so the server never blocks on a full pipe (in text mode a progress
        # bar's `\r` updates are lines too).
        assert process.stdout is not None
        for line in process.stdout:
            server.output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    return server


def start_server(tmp: Path, *extra_args: str) -> Server:
    server = spawn_server(tmp, *extra_args)
    if not server.wait_for("listening on http://"):
        stop_server(server)
        pytest.fail("tally serve did not start:\n" + "".join(server.output[-40:]))
    return server


def stop_server(server: Server) -> int:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(30)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()
    return server.process.returncode


def assert_stopped_cleanly(
    server: Server, within: float = 5, codes: tuple[int, ...] = (0,)
) -> None:
    """SIGINT ends the server within `within` seconds with one of `codes` (a stop is a
    normal exit; before `tally` took over SIGINT, 130 or the signal), no traceback,
    and the port closed."""
    started = time.monotonic()
    server.process.send_signal(signal.SIGINT)
    try:
        code = server.process.wait(30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        pytest.fail("tally serve did not stop within 30 s of Ctrl-C:\n" + server.text[-4000:])
    took = time.monotonic() - started
    time.sleep(0.2)  # the reader thread's last lines
    print(f"\nstopped in {took:.2f} s")
    assert code in codes, server.text
    assert took <= within, server.text
    assert "Traceback" not in server.text
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base_url}/v1/stats", timeout=2)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("serve"))
    yield running
    stop_server(running)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


@pytest.fixture
def account_key(server: Server, http: requests.Session) -> tuple[str, str]:
    """A fresh account and a key with every non-admin scope, created through the keys API."""
    account = f"e2e-{secrets.token_hex(4)}"
    response = http.post(
        f"{server.base_url}/v1/keys",
        json={
            "account": account,
            "scopes": ["events:write", "stats:read", "billing:read", "keys:manage"],
            "name": "e2e",
        },
        headers=server.headers(),
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return account, response.json()["secret"]
