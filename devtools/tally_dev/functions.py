"""Runs the template's Lambda handlers in this process, like warm Lambda containers.

Each function gets a pool of "containers": independent copies of its handler
module, each loaded from its file under a unique module name. A container
serves one invocation at a time (as in Lambda), because the Powertools
resolver keeps the current event on the module's `app`. Modules are loaded on
first use and reloaded when their file changes, so a handler written while the
server runs is picked up without a restart.
"""

from __future__ import annotations

import importlib.util
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from tally_dev.template import Handler

MAX_CONTAINERS = 16
_module_ids = itertools.count()


class HandlerUnavailable(Exception):
    """The handler module is missing, fails to import, or lacks its entry point."""


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str
    timeout_seconds: float = 29.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@dataclass
class _Container:
    module: ModuleType
    mtime: float


class FunctionPool:
    """Warm containers of one function."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._idle: list[_Container] = []
        self._count = 0
        self._lock = threading.Condition()

    def _load(self) -> _Container:
        path = self.handler.path
        if not path.is_file():
            raise HandlerUnavailable(
                f"{self.handler.function}: {path.name} not found in {self.handler.code_uri}/"
            )
        name = f"tally_fn_{self.handler.group}_{next(_module_ids)}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise HandlerUnavailable(f"{self.handler.function}: cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as error:
            raise HandlerUnavailable(
                f"{self.handler.function}: importing {path.name} failed: {error!r}"
            ) from error
        if not callable(getattr(module, self.handler.attribute, None)):
            raise HandlerUnavailable(
                f"{self.handler.function}: {path.name} has no {self.handler.attribute}()"
            )
        return _Container(module, path.stat().st_mtime)

    def _acquire(self) -> _Container:
        with self._lock:
            while not self._idle and self._count >= MAX_CONTAINERS:
                self._lock.wait()
            container = self._idle.pop() if self._idle else None
            if container is None:
                self._count += 1
        if container is not None:
            try:
                current = self.handler.path.stat().st_mtime
            except OSError:
                current = -1.0
            if current == container.mtime:
                return container
        try:
            return self._load()
        except BaseException:
            self._release(None)
            raise

    def _release(self, container: _Container | None) -> None:
        with self._lock:
            if container is None:
                self._count -= 1
            else:
                self._idle.append(container)
            self._lock.notify()

    def module(self) -> ModuleType:
        """A loaded copy of the module (for reading `app`), not reserved for an invocation."""
        container = self._acquire()
        self._release(container)
        return container.module

    def invoke(self, event: dict[str, Any]) -> Any:
        container = self._acquire()
        try:
            entry: Callable[[dict[str, Any], LambdaContext], Any] = getattr(
                container.module, self.handler.attribute
            )
            return entry(event, LambdaContext(self.handler.function))
        finally:
            self._release(container)


class Functions:
    """One pool per function of the template."""

    def __init__(self) -> None:
        self._pools: dict[str, FunctionPool] = {}
        self._lock = threading.Lock()

    def pool(self, handler: Handler) -> FunctionPool:
        with self._lock:
            pool = self._pools.get(handler.function)
            if pool is None or pool.handler != handler:
                pool = self._pools[handler.function] = FunctionPool(handler)
            return pool
