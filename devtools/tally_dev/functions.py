"""Runs the template's Lambda handlers in this process, like a warm Lambda container each.

A function's module is loaded from its file under a unique module name on
first use, and reloaded when the file changes, so a handler written while the
server runs is picked up without a restart. A container serves one
invocation at a time, as in Lambda.
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


class FunctionPool:
    """The warm container of one function."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self._module: ModuleType | None = None
        self._mtime = 0.0
        self._lock = threading.RLock()

    def _load(self) -> ModuleType:
        path = self.handler.path
        if not path.is_file():
            raise HandlerUnavailable(
                f"{self.handler.function}: {path.name} not found in {self.handler.code_uri}/"
            )
        mtime = path.stat().st_mtime
        if self._module is not None and mtime == self._mtime:
            return self._module
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
        self._module, self._mtime = module, mtime
        return module

    def module(self) -> ModuleType:
        """The loaded module (for reading its `app`)."""
        with self._lock:
            return self._load()

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            entry: Callable[[dict[str, Any], LambdaContext], Any] = getattr(
                self._load(), self.handler.attribute
            )
            return entry(event, LambdaContext(self.handler.function))


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
