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

from tally_dev import UsageError
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
# Ctrl-C must end `tally serve` within 5 s: a batch the poller is delivering gets this long.
_POLLER_STOP_SECONDS = 2.0
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


def install_admin_key(secret: str | None) -> str:
    from tally.keys import bootstrap_key

    return bootstrap_key("platform", ["admin"], "local admin", secret=secret).secret


class Runtime:
    """Everything `tally serve` runs: `start()`, optionally load data, `start_streams()`,
    `serve_in_thread()`, then `stop()` (safe at any point; also used by tests)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.template = tpl.load()
        self.engine: engines.Engine | None = None
        self.server: GatewayServer | None = None
        self.pollers: list[StreamPoller] = []
        self.functions = Functions()
        self.gateway = Gateway(self.template, self.functions)
        self.gateway.after_invoke = self._wake_pollers
        self.admin_key = ""
        self._serve_thread: threading.Thread | None = None
        self._streams_off: list[tpl.TableSpec] = []

    def start(self, *, streams: bool = True) -> None:
        """The port bound (not served yet), the engine, its tables and the admin key.

        `streams=False` creates the tables' streams only at `start_streams()`, so data
        loaded in between (the demo) is never delivered to the counters function."""
        options = self.options
        try:
            self.server = GatewayServer(self.gateway, options.host, options.port)
        except OSError as error:
            raise UsageError(
                f"cannot listen on {options.host}:{options.port}: {error.strerror}"
                " (another `tally serve`? choose another port with --port)"
            ) from error
        host, port = self.server.server_address[:2]
        self.gateway.domain_name = f"{host!s}:{port}"
        self.engine = engines.start(
            options.engine, endpoint_url=options.endpoint_url, host="127.0.0.1"
        )
        endpoint = self.engine.endpoint_url
        log.info(
            "DynamoDB (%s) at %s", "external" if options.endpoint_url else options.engine, endpoint
        )
        configure_environment(self.template, endpoint, external=bool(options.endpoint_url))
        client = boto3.client("dynamodb", endpoint_url=endpoint)
        created = engines.create_tables(client, self.template.tables, streams=streams)
        if not streams:
            present = [t.logical_id for t in self.template.tables if t.logical_id not in created]
            if present:
                raise UsageError(
                    f"--demo needs empty tables, but {', '.join(present)} already exist at "
                    f"{endpoint}: drop them or leave out --demo"
                )
            self._streams_off = list(self.template.tables)
        for name in created:
            log.info("created table %s", name)
        self.admin_key = install_admin_key(options.admin_key)

    def start_streams(self) -> None:
        """Turn on streams left off by `start(streams=False)`, then poll them from their start."""
        assert self.engine is not None
        endpoint = self.engine.endpoint_url
        engines.enable_streams(boto3.client("dynamodb", endpoint_url=endpoint), self._streams_off)
        self._streams_off = []
        failure_log = self.options.failure_log or engines.cache_dir() / "counters-failures.jsonl"
        for mapping in self.template.stream_mappings:
            pool = self.functions.pool(mapping.handler)
            poller = StreamPoller(
                mapping,
                pool.invoke,
                endpoint_url=endpoint,
                failure_log=failure_log,
                batching_window=min(mapping.batching_window, self.options.batch_window),
            )
            poller.start()
            self.pollers.append(poller)

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def serve_in_thread(self) -> None:
        """Listen on the bound port and answer requests from a thread."""
        assert self.server is not None
        try:
            self.server.server_activate()
        except OSError as error:
            raise UsageError(f"cannot listen on {self.base_url}: {error.strerror}") from error
        self._serve_thread = threading.Thread(
            target=self.server.serve_forever, name="gateway", daemon=True
        )
        self._serve_thread.start()

    def _wake_pollers(self) -> None:
        for poller in self.pollers:
            poller.wake()

    def stop(self) -> None:
        """Stop whatever started, in reverse order; bounded (a few seconds at most)."""
        if self.engine is not None:
            log.info("stopping")
        if self.server is not None:
            if self._serve_thread is not None:
                self.server.shutdown()
            self.server.server_close()
        for poller in self.pollers:
            poller.stop(timeout=_POLLER_STOP_SECONDS)
        if self.engine is not None:
            self.engine.stop()


def serve(options: Options) -> int:
    runtime = Runtime(options)
    stopping = threading.Event()
    busy = threading.Event()  # starting or loading: Ctrl-C interrupts that work
    busy.set()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return  # already stopping, which takes a few seconds at most
        stopping.set()
        if busy.is_set():
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        runtime.start(streams=not options.demo)
        if options.admin_key:
            log.info("admin key for account platform installed (from --admin-key)")
        else:
            print(f"admin key (account platform, scope admin): {runtime.admin_key}", flush=True)
        secret = None
        if options.demo:
            from tally_dev.demo import load_demo

            secret = load_demo()
        runtime.start_streams()
        runtime.serve_in_thread()
        busy.clear()
        log.info("listening on %s", runtime.base_url)
        if secret is not None:
            from tally_dev.demo import announce

            announce(runtime.base_url, runtime.template, secret)
        # Python runs signal handlers in the main thread, between bytecodes: when the kernel
        # hands SIGINT to another thread, a main thread blocked in an untimed wait would
        # never run it. Waking every 0.2 s bounds that delay.
        while not stopping.wait(0.2):
            pass
    except KeyboardInterrupt:
        log.info("interrupted")
    finally:
        # A signal from here on only sets `stopping` (no KeyboardInterrupt mid-cleanup).
        stopping.set()
        runtime.stop()
    return 0
