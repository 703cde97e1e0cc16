"""`tally serve`: DynamoDB engine + tables from the template + gateway + stream poller, one process."""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import boto3

from tally_dev import engine as engines
from tally_dev import template as tpl
from tally_dev.functions import Functions
from tally_dev.gateway import Gateway, GatewayServer
from tally_dev.poller import StreamPoller

# Not under "tally": Powertools' Logger(service="tally") filters every logger whose
# name contains its own out of the root handlers.
log = logging.getLogger("localrt.serve")

# The template's 5 s batching window suits Lambda's cost model, not a local edit-run loop.
DEFAULT_LOCAL_BATCH_WINDOW = 0.5
_FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "test",
    "AWS_SECRET_ACCESS_KEY": "test",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


@dataclass
class Options:
    host: str = "127.0.0.1"
    port: int = 3000
    engine: str = "moto"
    endpoint_url: str | None = None
    admin_key: str | None = None
    demo: bool = False
    batch_window: float = DEFAULT_LOCAL_BATCH_WINDOW
    failure_log: Path | None = None


def configure_environment(template: tpl.Template, endpoint_url: str, *, external: bool) -> None:
    """What Lambda would give the handlers, pointed at the local engine (never at real AWS)."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL"):
        os.environ.pop(name, None)
    if external:
        for name, value in _FAKE_CREDENTIALS.items():
            os.environ.setdefault(name, value)
    else:
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.update(_FAKE_CREDENTIALS)
    os.environ.update(template.environment)
    os.environ["AWS_ENDPOINT_URL_DYNAMODB"] = endpoint_url
    os.environ["AWS_ENDPOINT_URL_DYNAMODB_STREAMS"] = endpoint_url
    # No X-Ray daemon or CloudWatch locally: no traces, no EMF metric blobs on stdout.
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    from tally import auth, storage
    from tally.config import reset_settings

    storage.reset_client()
    reset_settings()
    auth.clear_cache()


def create_tables(template: tpl.Template, endpoint_url: str) -> None:
    client = boto3.client("dynamodb", endpoint_url=endpoint_url)
    existing = set(client.list_tables().get("TableNames", []))
    for table in template.tables:
        name = table.create_kwargs["TableName"]
        if name in existing:
            continue
        client.create_table(**table.create_kwargs)
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2})
        if table.ttl_attribute:
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
            )
        log.info("created table %s", name)


def install_admin_key(secret: str | None) -> str:
    from tally.keys import bootstrap_key

    return bootstrap_key("platform", ["admin"], "local admin", secret=secret).secret


class Runtime:
    """Everything `tally serve` runs; `start()` then `stop()` (also usable from tests)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.template = tpl.load()
        self.engine: engines.Engine | None = None
        self.server: GatewayServer | None = None
        self.pollers: list[StreamPoller] = []
        self.functions = Functions()
        self.gateway = Gateway(self.template, self.functions)
        self.admin_key = ""
        self._serve_thread: threading.Thread | None = None

    def start(self) -> None:
        options = self.options
        self.engine = engines.start(
            options.engine, endpoint_url=options.endpoint_url, host="127.0.0.1"
        )
        endpoint = self.engine.endpoint_url
        log.info(
            "DynamoDB (%s) at %s", "external" if options.endpoint_url else options.engine, endpoint
        )
        configure_environment(self.template, endpoint, external=bool(options.endpoint_url))
        create_tables(self.template, endpoint)
        self.admin_key = install_admin_key(options.admin_key)
        failure_log = options.failure_log or engines.cache_dir() / "counters-failures.jsonl"
        for mapping in self.template.stream_mappings:
            pool = self.functions.pool(mapping.handler)
            poller = StreamPoller(
                mapping,
                pool.invoke,
                endpoint_url=endpoint,
                failure_log=failure_log,
                batching_window=min(mapping.batching_window, options.batch_window),
            )
            poller.start()
            self.pollers.append(poller)
        self.server = GatewayServer(self.gateway, options.host, options.port)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_thread(self) -> None:
        assert self.server is not None
        self._serve_thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._serve_thread.start()

    def wait_for_counters(self, timeout: float) -> bool:
        return all(poller.wait_idle(timeout) for poller in self.pollers)

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
        for poller in self.pollers:
            poller.stop()
        if self.engine is not None:
            self.engine.stop()


def serve(options: Options) -> int:
    runtime = Runtime(options)
    stopping = threading.Event()
    serving = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()
        if not serving.is_set():
            # Still starting or loading the demo: interrupt that work, then clean up below.
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runtime.start()
        if options.admin_key:
            log.info("admin key for account platform installed (from --admin-key)")
        else:
            print(f"admin key (account platform, scope admin): {runtime.admin_key}", flush=True)
        if options.demo:
            from tally_dev.demo import load_demo

            load_demo(runtime)
        runtime.serve_in_thread()
        serving.set()
        log.info("listening on %s", runtime.base_url)
        stopping.wait()
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        log.info("stopping")
        runtime.stop()
    return 0
