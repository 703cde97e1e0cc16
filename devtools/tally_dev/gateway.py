"""An HTTP front that behaves like the template's API Gateway REST API.

Routes come from the template's `Api` events, matched as API Gateway does
(static segments before `{params}`); each request becomes a REST proxy event
built the way API Gateway builds it and is handed to the function's handler.
What API Gateway answers itself (an unknown route or method, a body over its
10 MB limit) comes from the template's `GatewayResponses`. Request framing is
checked as a front end does: a chunked body is decoded (API Gateway accepts it
and drops the header), a bad or conflicting length is refused and the
connection closed, so no body byte is ever read as the next request.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BufferedIOBase
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tally_dev import openapi
from tally_dev import template as tpl
from tally_dev.functions import Functions
from tally_dev.lambda_kit import HandlerUnavailable, proxy_event

log = logging.getLogger("localrt.gateway")
access_log = logging.getLogger("localrt.access")

PROBLEM = "application/problem+json"
API_ID = "local"
# API Gateway's payload limit (REST APIs): larger bodies get REQUEST_TOO_LARGE.
BODY_LIMIT = 10 * 1024 * 1024
# A chunk-size or trailer line longer than this is not a client we serve.
_LINE_LIMIT = 8192
_CONTENT_LENGTH = re.compile(rb"[0-9]{1,19}")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/problem+json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
    "+json",
    "+xml",
)


@dataclass
class Request:
    method: str
    target: str
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    source_ip: str = "127.0.0.1"


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


_SAM_API = "AWS::Serverless::Api"
_CORS_ORIGINS = "TALLY_CORS_ORIGINS"
# The methods SAM's CORS preflight lists for a path served by an ANY method.
_ANY_METHODS = {"DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT"}

# API Gateway tags the errors it answers itself (not the function's) with x-amzn-ErrorType.
_ERROR_TYPES = {400: "BadRequestException", 502: "InternalServerErrorException"}
_RESPONSE_ERROR_TYPES = {"MISSING_AUTHENTICATION_TOKEN": "MissingAuthenticationTokenException"}


def problem(status: int, detail: str, headers: list[tuple[str, str]] | None = None) -> Reply:
    """A gateway-originated error, as RFC 9457 problem details."""
    tags = [("x-amzn-ErrorType", _ERROR_TYPES[status])] if status in _ERROR_TYPES else []
    body = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    return Reply(
        status, [("Content-Type", PROBLEM), *tags, *(headers or [])], json.dumps(body).encode()
    )


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return True
    lowered = content_type.split(";", 1)[0].strip().lower()
    return any(marker in lowered for marker in _TEXT_TYPES)


def build_event(
    request: Request,
    route: tpl.Route,
    path_params: dict[str, str],
    stage: str,
    *,
    domain_name: str = "localhost",
    request_id: str | None = None,
) -> dict[str, Any]:
    """The REST API proxy event API Gateway sends for `request` on `route`."""
    split = urlsplit(request.target)
    content_type = next((v for k, v in request.headers if k.lower() == "content-type"), None)
    body: str | bytes | None = request.body or None
    if request.body and is_text(content_type):
        try:
            body = request.body.decode()
        except UnicodeDecodeError:
            body = request.body
    return proxy_event(
        request.method,
        unquote(split.path) or "/",
        resource=route.path,
        headers=request.headers,
        query=parse_qsl(split.query, keep_blank_values=True),
        path_parameters=path_params,
        body=body,
        stage=stage,
        source_ip=request.source_ip,
        domain_name=domain_name,
        api_id=API_ID,
        request_id=request_id,
    )


def gateway_reply(template: tpl.Template, response_type: str, request_id: str) -> Reply:
    """What API Gateway answers itself for `response_type`, from the template."""
    response = template.gateway_response(response_type)
    headers = [*response.headers.items(), ("x-amzn-RequestId", request_id)]
    if response_type in _RESPONSE_ERROR_TYPES:
        headers.append(("x-amzn-ErrorType", _RESPONSE_ERROR_TYPES[response_type]))
    return Reply(response.status, headers, response.body.encode())


def reply_from_result(result: Any) -> Reply:
    """The HTTP response for a proxy integration result; 502 when it is malformed, as API Gateway."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        return problem(502, "the function returned a malformed proxy response")
    headers: list[tuple[str, str]] = []
    multi = result.get("multiValueHeaders") or {}
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    for name, value in (result.get("headers") or {}).items():
        if name not in multi:
            headers.append((name, str(value)))
    raw = result.get("body") or ""
    body = base64.b64decode(raw) if result.get("isBase64Encoded") else str(raw).encode()
    return Reply(result["statusCode"], headers, body)


class Gateway:
    """Routes requests by the template to in-process handlers."""

    def __init__(self, template: tpl.Template, functions: Functions | None = None) -> None:
        self.template = template
        self.functions = functions or Functions()
        # What a proxy event says the API was called at (`tally serve` sets its address).
        self.domain_name = "localhost"
        # Called after every function invocation (`tally serve` wakes the stream poller).
        self.after_invoke: Callable[[], None] = lambda: None
        self._resolver_lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        """Answer one request, with an `x-amzn-RequestId` and one access-log line."""
        started = time.monotonic()
        request_id = str(uuid.uuid4())
        route, reply = self._dispatch(request, request_id)
        if not any(name.lower() == "x-amzn-requestid" for name, _ in reply.headers):
            reply.headers.append(("x-amzn-RequestId", request_id))
        log_access(request, reply.status, started, request_id, route)
        return reply

    def _dispatch(self, request: Request, request_id: str) -> tuple[str, Reply]:
        """(the route's label, its reply): the function's, or API Gateway's own."""
        path = unquote(urlsplit(request.target).path) or "/"
        if request.method == "OPTIONS" and (preflight := self.cors_preflight(path)) is not None:
            return "preflight", preflight
        candidates, params = tpl.match(self.template.routes, path)
        # An exact method wins over an ANY route on the same resource, as in API Gateway.
        route = next((r for r in candidates if r.method == request.method), None) or next(
            (r for r in candidates if r.method == "ANY"), None
        )
        if route is None:
            # API Gateway answers an unknown path and an unknown method on a known path
            # alike: MISSING_AUTHENTICATION_TOKEN (no 405, no Allow header).
            return "-", gateway_reply(self.template, "MISSING_AUTHENTICATION_TOKEN", request_id)
        label = f"{route.method} {route.path}"
        event = build_event(
            request,
            route,
            params,
            self.template.stage,
            domain_name=self.domain_name,
            request_id=request_id,
        )
        try:
            # Powertools resolvers keep the current event in a class attribute shared by
            # every resolver of the process (one request per process in Lambda), so API
            # invocations must not overlap here.
            with self._resolver_lock:
                result = self.functions.pool(route.handler).invoke(event)
        except HandlerUnavailable as error:
            log.error("%s", error)
            return label, problem(502, str(error))
        except Exception:
            # A handler that raises is a Lambda error: API Gateway answers 502.
            log.exception("%s raised", route.handler.function)
            return label, problem(502, f"{route.handler.function} failed")
        finally:
            self.after_invoke()
        return label, reply_from_result(result)

    def cors_preflight(self, path: str) -> Reply | None:
        """API Gateway's own answer to OPTIONS on a route's path when the template's API has
        `Cors` (SAM's mock integration; no function runs): 200, the path's methods, the
        configured headers and max age. The origin mirrors the template's AllowOrigin: the
        one origin of TALLY_CORS_ORIGINS, "*" for several, no header for none."""
        apis = self.template.raw.get("Resources", {}).values()
        cors = next(
            (api["Properties"].get("Cors") for api in apis if api.get("Type") == _SAM_API), None
        )
        candidates, _ = tpl.match(self.template.routes, path)
        if not cors or not candidates:
            return None
        config = cors if isinstance(cors, dict) else {"AllowOrigin": cors}
        methods = {route.method for route in candidates}
        allowed = _ANY_METHODS if "ANY" in methods else methods | {"OPTIONS"}
        headers = [
            ("Content-Type", "application/json"),
            ("Access-Control-Allow-Methods", ",".join(sorted(allowed))),
        ]
        for header, key in (("Allow-Headers", "AllowHeaders"), ("Max-Age", "MaxAge")):
            if isinstance(config.get(key), str):
                headers.append((f"Access-Control-{header}", config[key].strip("'")))
        origins = [o for o in self.template.environment.get(_CORS_ORIGINS, "").split(",") if o]
        if origins:
            headers.append(
                ("Access-Control-Allow-Origin", origins[0] if len(origins) == 1 else "*")
            )
        return Reply(200, headers, b"{}")

    def invoke(
        self, method: str, target: str, headers: dict[str, str] | None = None, body: Any = None
    ) -> Reply:
        """An in-process request (tests use it): a body that is not bytes is sent as JSON."""
        header_list = list((headers or {}).items())
        payload = b""
        if body is not None:
            if isinstance(body, bytes):
                payload = body
            else:
                payload = json.dumps(body).encode()
                header_list.append(("Content-Type", "application/json"))
        return self.handle(Request(method, target, header_list, payload))

    def openapi(self) -> dict[str, Any]:
        """Every handler app's OpenAPI document, merged (tally_dev.openapi)."""
        return openapi.build(self.template, self.functions)


def log_access(
    request: Request, status: int, started: float, request_id: str, route: str = "-"
) -> None:
    """One line per request, as API Gateway's access log has it."""
    access_log.info(
        "%s %s %d %.0f ms route=%s request_id=%s",
        request.method,
        request.target,
        status,
        (time.monotonic() - started) * 1000,
        route,
        request_id,
    )


class Refused(Exception):
    """A request the front end answers itself, closing the connection after the reply."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _header_values(headers: Any, name: str) -> list[str]:
    """Every comma-separated value of every `name` header, stripped."""
    return [part.strip() for value in headers.get_all(name, []) for part in value.split(",")]


def read_body(headers: Any, stream: BufferedIOBase, limit: int) -> bytes:
    """The request body as RFC 9112 frames it, or `Refused`: a length that is not one
    number, both a length and a transfer coding (a smuggling vector), a coding other than
    chunked, a malformed chunk, or more than `limit` bytes."""
    codings = [coding.lower() for coding in _header_values(headers, "Transfer-Encoding")]
    lengths = set(_header_values(headers, "Content-Length"))
    if codings and lengths:
        raise Refused(400, "Content-Length and Transfer-Encoding together")
    if codings:
        if codings[-1] != "chunked":
            raise Refused(400, "the last transfer coding must be chunked")
        if len(codings) > 1:
            raise Refused(501, f"transfer coding {codings[0]!r} is not supported")
        return _read_chunked(stream, limit)
    if not lengths:
        return b""
    if len(lengths) > 1 or not _CONTENT_LENGTH.fullmatch(next(iter(lengths)).encode()):
        raise Refused(400, "Content-Length must be one non-negative integer")
    length = int(next(iter(lengths)))
    if length > limit:
        raise Refused(413, "body over the limit")
    body = stream.read(length)
    if len(body) < length:
        raise ConnectionError("the client closed the connection mid-body")
    return body


def _read_chunked(stream: BufferedIOBase, limit: int) -> bytes:
    """A chunked body (RFC 9112 section 7.1), extensions and trailers read and ignored."""
    body = bytearray()
    while True:
        size_line = _read_line(stream)
        size_text = size_line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(size_text):
            raise Refused(400, "malformed chunk size")
        size = int(size_text, 16)
        if size == 0:
            break
        if len(body) + size > limit:
            raise Refused(413, "body over the limit")
        chunk = stream.read(size)
        if len(chunk) < size:
            raise ConnectionError("the client closed the connection mid-chunk")
        body += chunk
        if _read_line(stream) != b"":
            raise Refused(400, "chunk data longer than its size")
    while _read_line(stream) != b"":  # trailer fields
        pass
    return bytes(body)


def _read_line(stream: BufferedIOBase) -> bytes:
    line = stream.readline(_LINE_LIMIT + 1)
    if not line:
        raise ConnectionError("the client closed the connection mid-body")
    if len(line) > _LINE_LIMIT or not line.endswith(b"\n"):
        raise Refused(400, "chunked framing line too long or unterminated")
    return line.rstrip(b"\r\n")


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"
    # A client that stops sending mid-request gives its thread back after this many seconds.
    timeout = 60

    def _serve(self) -> None:
        started = time.monotonic()
        gateway = self.server.gateway
        request = Request(
            method=self.command,
            target=self.path,
            # API Gateway decodes a chunked body and drops the header.
            headers=[(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"],
            source_ip=self.client_address[0],
        )
        try:
            request.body = read_body(self.headers, self.rfile, self.server.body_limit)
        except Refused as refused:
            request_id = str(uuid.uuid4())
            reply = (
                gateway_reply(gateway.template, "REQUEST_TOO_LARGE", request_id)
                if refused.status == 413
                else problem(refused.status, refused.detail, [("x-amzn-RequestId", request_id)])
            )
            self.close_connection = True
            log_access(request, reply.status, started, request_id)
            self._send(reply)
            return
        except (ConnectionError, TimeoutError) as error:
            self.close_connection = True
            log.debug("%s: %s", self.client_address[0], error)
            return
        self._send(gateway.handle(request))

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


class GatewayServer(ThreadingHTTPServer):
    """The gateway on a socket that is bound at once (a port in use fails early) but
    listens only once `server_activate()` is called: until then connections are refused
    instead of waiting in a backlog nobody serves."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(
        self, gateway: Gateway, host: str, port: int, body_limit: int = BODY_LIMIT
    ) -> None:
        super().__init__((host, port), _RequestHandler, bind_and_activate=False)
        self.gateway = gateway
        self.body_limit = body_limit
        try:
            self.server_bind()
        except OSError:
            self.server_close()
            raise

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away mid-reply is not the server's error: no traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ConnectionError | TimeoutError):
            log.debug("%s went away: %r", client_address[0], error)
            return
        log.exception("error serving %s", client_address[0])
