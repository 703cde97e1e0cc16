"""Log lines labelled by the invocation that wrote them, even with several functions
running at once in one process (the local runtime); one line per API request."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.support import handler_module, proxy_event

# tally.observability is imported inside the tests: its Metrics reads the namespace
# from the environment when created, and collection runs before the env fixtures.


class Context:
    def __init__(self, name: str, request_id: str) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = request_id


@pytest.fixture
def logged(env: None) -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The JSON lines the shared logger writes from now on, as Powertools formats them."""
    from tally.observability import logger

    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logger.registered_formatter)
    logger.addHandler(handler)
    # The logger is made once per process, at the level of whichever test imported it
    # first (the benchmark's environment says WARNING).
    level = logger.log_level
    logger.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines()]
    logger.setLevel(level)
    logger.removeHandler(handler)


def test_concurrent_invocations_keep_their_own_labels(logged: Any) -> None:
    from tally.observability import logger, with_lambda_context

    both_started = threading.Barrier(2)

    @with_lambda_context("requestContext.requestId")
    def handler(event: dict[str, Any], context: Any) -> None:
        both_started.wait(5)  # each thread's keys are set before either logs
        for n in range(20):
            logger.info("working", extra={"step": n, "writer": context.function_name})
        both_started.wait(5)

    threads = [
        threading.Thread(
            target=handler,
            args=({"requestContext": {"requestId": f"corr-{name}"}}, Context(name, f"req-{name}")),
        )
        for name in ("IngestFunction", "CountersFunction")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    written = [line for line in logged() if line["message"] == "working"]
    assert len(written) == 40
    for line in written:
        name = line["writer"]
        assert line["function_name"] == name
        assert line["function_request_id"] == f"req-{name}"
        assert line["correlation_id"] == f"corr-{name}"

    # An invocation leaves nothing behind on its thread for what runs there next.
    @with_lambda_context()
    def once(event: dict[str, Any], context: Any) -> None:
        logger.info("during")

    once({}, Context("IngestFunction", "req-last"))
    assert logger.thread_safe_get_current_keys() == {}
    logger.info("after")
    during, after = logged()[-2:]
    assert during["function_request_id"] == "req-last"
    assert after.get("function_request_id") != "req-last"


def test_one_line_per_request_with_route_status_latency_and_correlation_id(logged: Any) -> None:
    """Refused before any table is read: no AWS needed."""
    event = proxy_event("GET", "/v1/stats/24h", resource="/v1/stats/{scope}")
    response = handler_module("dashboard").lambda_handler(event, Context("DashboardFunction", "r1"))
    assert response["statusCode"] == 401
    requests = [line for line in logged() if line["message"] == "request"]
    assert len(requests) == 1
    (line,) = requests
    assert line["method"] == "GET"
    assert line["route"] == "/v1/stats/{scope}"
    assert line["status"] == 401
    assert line["latency_ms"] >= 0
    assert line["correlation_id"] == event["requestContext"]["requestId"]
    assert line["function_name"] == "DashboardFunction"
