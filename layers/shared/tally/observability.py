"""Logging and metrics of every function: one Powertools Logger and one Metrics, shared.

Per-invocation log keys (the function, its request id, the correlation id, the
caller) are kept with Powertools' thread-safe key API, not `append_keys`: the
local runtime runs several functions in one process, one thread per
invocation, and keys appended globally by one function's invocation would
label another's lines (`function_name: IngestFunction` on a counters line).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.jmespath_utils import query
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

Result = TypeVar("Result")
Handler = Callable[[Any, LambdaContext], Result]

_warm: set[str] = set()
_warm_lock = threading.Lock()


def _cold_start(function_name: str) -> bool:
    """True on the first invocation of `function_name` in this process."""
    with _warm_lock:
        cold = function_name not in _warm
        _warm.add(function_name)
    return cold


def _invocation_keys(
    event: Mapping[str, Any], context: LambdaContext, correlation_id_path: str | None
) -> dict[str, Any]:
    """The keys Powertools' `inject_lambda_context` would log, for one invocation."""
    name = str(getattr(context, "function_name", ""))
    keys: dict[str, Any] = {
        "cold_start": _cold_start(name),
        "function_name": name,
        "function_memory_size": getattr(context, "memory_limit_in_mb", None),
        "function_arn": getattr(context, "invoked_function_arn", None),
        "function_request_id": getattr(context, "aws_request_id", None),
    }
    if correlation_id_path:
        keys["correlation_id"] = query(envelope=correlation_id_path, data=dict(event))
    return keys


def with_lambda_context(
    correlation_id_path: str | None = None,
) -> Callable[[Handler[Result]], Handler[Result]]:
    """Decorate a Lambda handler: its log lines carry this invocation's keys, and only
    this thread's lines do."""

    def decorate(handler: Handler[Result]) -> Handler[Result]:
        @wraps(handler)
        def handle(event: Any, context: LambdaContext) -> Result:
            logger.thread_safe_clear_keys()
            logger.thread_safe_append_keys(**_invocation_keys(event, context, correlation_id_path))
            try:
                return handler(event, context)
            finally:
                logger.thread_safe_clear_keys()

        return handle

    return decorate


def flush_metrics() -> None:
    """Publish the metrics recorded so far, if any: read routes record none, and
    Powertools' `log_metrics` would warn about an empty set on every call."""
    if metrics.metric_set:
        metrics.flush_metrics()
