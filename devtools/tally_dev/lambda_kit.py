"""Lambda, emulated once for the tests, `tally serve` and `bench/` alike.

- `load_module`, `function_module`: a handler file loaded as a module of its own (every
  handler is `app.py`).
- `LambdaContext`: the context object the handlers and Powertools read.
- `proxy_event`: the REST API proxy event API Gateway sends a Lambda proxy integration.
- `DynamoDBCalls`: the DynamoDB requests a botocore client makes (one hook, for tests and bench).
"""

from __future__ import annotations

import base64
import functools
import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Self

from tally_dev.template import PROJECT_ROOT

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"

Pairs = Iterable[tuple[str, str]] | Mapping[str, str]
QueryPairs = Iterable[tuple[str, str]] | Mapping[str, str | list[str]]


class HandlerUnavailable(Exception):
    """The handler module is missing, fails to import, or lacks its entry point."""


def load_module(path: Path, name: str) -> ModuleType:
    """`path` imported as module `name`, registered in `sys.modules` (pydantic and
    Powertools resolve a handler's type hints through its module)."""
    if not path.is_file():
        raise HandlerUnavailable(f"{path} not found")
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise HandlerUnavailable(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise HandlerUnavailable(f"importing {path.name} failed: {error!r}") from error
    return module


@functools.cache
def function_module(group: str) -> ModuleType:
    """`functions/<group>/app.py`, loaded once per process (tests and benchmark)."""
    return load_module(PROJECT_ROOT / "functions" / group / "app.py", f"tally_fn_{group}")


@dataclass
class LambdaContext:
    """The attributes of the Lambda context object that handlers and Powertools read."""

    function_name: str = "tally-test"
    timeout_seconds: float = 29.0
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


def _pairs(values: Pairs | QueryPairs) -> list[tuple[str, str]]:
    if not isinstance(values, Mapping):
        return list(values)
    flat: list[tuple[str, str]] = []
    for name, value in values.items():
        flat.extend((name, item) for item in (value if isinstance(value, list) else [value]))
    return flat


def proxy_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    headers: Pairs = (),
    query: QueryPairs = (),
    path_parameters: Mapping[str, str] | None = None,
    body: str | bytes | None = None,
    stage: str = "prod",
    source_ip: str = "127.0.0.1",
    domain_name: str = "localhost",
    api_id: str = "local",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy event for a request, as API Gateway builds it.

    `headers` and `query` keep their order and repeats (`multiValue*`; in the
    single-value maps the last value wins). A header keeps the client's
    spelling, and a repeat in another case joins the first spelling seen. A
    `str` body is passed as text, `bytes` base64-encoded with `isBase64Encoded`.
    """
    single_headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in _pairs(headers):
        spelling = next((key for key in multi_headers if key.lower() == name.lower()), name)
        multi_headers.setdefault(spelling, []).append(value)
        single_headers[spelling] = value
    single_query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in _pairs(query):
        multi_query.setdefault(name, []).append(value)
        single_query[name] = value
    binary = isinstance(body, bytes)
    now_ms = int(time.time() * 1000)
    request_id = request_id or str(uuid.uuid4())
    user_agent = next((v for k, v in single_headers.items() if k.lower() == "user-agent"), None)
    resource = resource or path
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": single_query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": resource,
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": api_id,
            "requestTimeEpoch": now_ms,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": domain_name,
            "apiId": api_id,
        },
        "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
        "isBase64Encoded": binary,
    }


@dataclass
class Call:
    """One DynamoDB request: its operation, API parameters and parsed response (None until
    it came back, or when it never did)."""

    operation: str
    params: dict[str, Any]
    response: Mapping[str, Any] | None = None

    @property
    def failed(self) -> bool:
        return self.response is None or "Error" in self.response


class DynamoDBCalls:
    """Records every DynamoDB request `client` makes between `start()` and `stop()`
    (or inside `with`), through botocore's event hooks: the one request-counting hook
    of the tests and the benchmark. Thread-safe: the service runs BatchGetItems on threads."""

    def __init__(self, client: Any) -> None:
        self._events = client.meta.events
        self._lock = threading.Lock()
        self._id = f"tally-kit-calls-{id(self)}"
        self.calls: list[Call] = []

    def start(self) -> Self:
        # API parameters are only visible before the request is serialized.
        self._events.register(
            "before-parameter-build.dynamodb", self._before, unique_id=f"{self._id}-before"
        )
        self._events.register("after-call.dynamodb", self._after, unique_id=f"{self._id}-after")
        return self

    def stop(self) -> list[Call]:
        self._events.unregister("before-parameter-build.dynamodb", unique_id=f"{self._id}-before")
        self._events.unregister("after-call.dynamodb", unique_id=f"{self._id}-after")
        return self.calls

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()

    def operations(self) -> list[str]:
        """The operation of every call, in order (`["GetItem", "BatchGetItem"]`)."""
        with self._lock:
            return [call.operation for call in self.calls]

    def of(self, operation: str) -> list[Call]:
        with self._lock:
            return [call for call in self.calls if call.operation == operation]

    def _before(
        self, params: dict[str, Any], model: Any, context: dict[str, Any], **_: Any
    ) -> None:
        call = Call(model.name, params)
        context[self._id] = call
        with self._lock:
            self.calls.append(call)

    def _after(self, parsed: Mapping[str, Any], context: dict[str, Any], **_: Any) -> None:
        call = context.get(self._id)
        if call is not None:
            call.response = parsed
