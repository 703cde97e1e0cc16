"""Runs the template's Lambda handlers in this process, like a warm Lambda container each.

A function's module is loaded from its file under a unique module name on
first use, and reloaded when the file changes, so a handler written while the
server runs is picked up without a restart. A container serves one
invocation at a time, as in Lambda.
"""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable
from types import ModuleType
from typing import Any

from tally_dev.lambda_kit import HandlerUnavailable, LambdaContext, load_module
from tally_dev.template import Handler

_module_ids = itertools.count()


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
        try:
            module = load_module(path, name)
        except HandlerUnavailable as error:
            raise HandlerUnavailable(f"{self.handler.function}: {error}") from error
        if not callable(getattr(module, self.handler.attribute, None)):
            del sys.modules[name]
            raise HandlerUnavailable(
                f"{self.handler.function}: {path.name} has no {self.handler.attribute}()"
            )
        if self._module is not None:
            sys.modules.pop(self._module.__name__, None)
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
