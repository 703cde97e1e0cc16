"""An HTTP front that behaves like the template's API Gateway REST API.

Routes come from the template's `Api` events, matched as API Gateway does
(static segments before `{params}`); each request becomes a REST proxy event
built the way API Gateway builds it and is handed to the function's handler.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from tally_dev import openapi
from tally_dev import template as tpl
from tally_dev.functions import Functions, HandlerUnavailable

log = logging.getLogger("localrt.gateway")

PROBLEM = "application/problem+json"
ACCOUNT_ID = "123456789012"
API_ID = "local"
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
_ERROR_TYPES = {
    404: "NotFoundException",
    405: "MethodNotAllowedException",
    502: "InternalServerErrorException",
}


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
    request: Request, route: tpl.Route, path_params: dict[str, str], stage: str
) -> dict[str, Any]:
    """The REST API proxy event API Gateway sends for `request` on `route`."""
    split = urlsplit(request.target)
    path = unquote(split.path) or "/"
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in request.headers:
        # API Gateway keeps the client's spelling; a repeated header's last value wins in `headers`.
        existing = next((key for key in multi_headers if key.lower() == name.lower()), name)
        multi_headers.setdefault(existing, []).append(value)
        headers[existing] = value
    query: dict[str, str] = {}
    multi_query: dict[str, list[str]] = {}
    for name, value in parse_qsl(split.query, keep_blank_values=True):
        multi_query.setdefault(name, []).append(value)
        query[name] = value
    content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), None)
    body: str | None = None
    encoded = False
    if request.body:
        if is_text(content_type):
            try:
                body = request.body.decode()
            except UnicodeDecodeError:
                encoded = True
        else:
            encoded = True
        if encoded:
            body = base64.b64encode(request.body).decode()
    now_ms = int(time.time() * 1000)
    request_id = str(uuid.uuid4())
    user_agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
    return {
        "resource": route.path,
        "path": path,
        "httpMethod": request.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": route.handler.function,
            "resourcePath": route.path,
            "httpMethod": request.method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now_ms / 1000)),
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": API_ID,
            "requestTimeEpoch": now_ms,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": request.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": "localhost",
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": encoded,
    }


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
        self._resolver_lock = threading.Lock()

    def handle(self, request: Request) -> Reply:
        path = unquote(urlsplit(request.target).path) or "/"
        if request.method == "OPTIONS" and (preflight := self.cors_preflight(path)) is not None:
            return preflight
        candidates, params = tpl.match(self.template.routes, path)
        if not candidates:
            return problem(404, f"no route for {request.method} {path}")
        # An exact method wins over an ANY route on the same resource, as in API Gateway.
        route = next((r for r in candidates if r.method == request.method), None) or next(
            (r for r in candidates if r.method == "ANY"), None
        )
        if route is None:
            allowed = ", ".join(sorted({r.method for r in candidates}))
            return problem(405, f"{request.method} is not allowed on {path}", [("Allow", allowed)])
        event = build_event(request, route, params, self.template.stage)
        try:
            # Powertools resolvers keep the current event in a class attribute shared by
            # every resolver of the process (one request per process in Lambda), so API
            # invocations must not overlap here.
            with self._resolver_lock:
                result = self.functions.pool(route.handler).invoke(event)
        except HandlerUnavailable as error:
            log.error("%s", error)
            return problem(502, str(error))
        except Exception:
            # A handler that raises is a Lambda error: API Gateway answers 502.
            log.exception("%s raised", route.handler.function)
            return problem(502, f"{route.handler.function} failed")
        return reply_from_result(result)

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
        """In-process request (the demo loader uses this): JSON-encodes a non-bytes body."""
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


class _RequestHandler(BaseHTTPRequestHandler):
    server: GatewayServer
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            target=self.path,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        reply = self.server.gateway.handle(request)
        self.send_response(reply.status)
        for name, value in reply.headers:
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.client_address[0], *args)


class GatewayServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128

    def __init__(self, gateway: Gateway, host: str, port: int) -> None:
        super().__init__((host, port), _RequestHandler)
        self.gateway = gateway
