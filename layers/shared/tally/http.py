"""Shared HTTP plumbing for the endpoint handlers: auth, error mapping, request input.

Every handler builds its app with `create_app(style, scope=...)` and exports
`lambda_handler(app)`. That entry point authenticates the request before
anything else looks at it (API Gateway invokes a function only for its own
routes), so a request without a valid key is 401 whatever its method,
parameters and body; routes read the caller from `app.principal`.
`error_for` is the one place that turns an exception into an HTTP error, in
the error `style` of the route's API.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from tally import auth, payload, storage
from tally.config import get_settings
from tally.errors import (
    Style,
    TallyError,
    bad_request,
    field_errors,
    invalid,
    render_json,
    unavailable,
    unprocessable,
)
from tally.observability import flush_metrics, logger, with_lambda_context
from tally.resolver import Resolver

Model = TypeVar("Model", bound=BaseModel)


# --- CORS --------------------------------------------------------------------------------
# API Gateway answers the preflight (template.yaml, TallyApi `Cors`, the same headers and
# max age); with the Lambda proxy integration the responses themselves need
# Access-Control-Allow-Origin, which Powertools adds when the request's Origin is allowed.
CORS_ALLOW_HEADERS = ["X-API-KEY", "CB-Administration-API-Key", "x-account-id", "Accept"]
CORS_EXPOSE_HEADERS = ["Retry-After", "Content-Disposition", "Allow"]
CORS_MAX_AGE = 600


class SettingsCors(CORSConfig):
    """Powertools' CORS whose allowed origins are the settings' (`TALLY_CORS_ORIGINS`), read
    per request: `create_app` runs at import time, before the environment may be read."""

    def __init__(self) -> None:
        super().__init__(
            allow_origin="",
            allow_headers=CORS_ALLOW_HEADERS,
            expose_headers=CORS_EXPOSE_HEADERS,
            max_age=CORS_MAX_AGE,
        )

    def _current(self) -> CORSConfig:
        origins = get_settings().cors_origins
        # No origin configured: "" matches no browser's Origin, so no header is added.
        return CORSConfig(
            allow_origin=origins[0] if origins else "",
            extra_origins=list(origins[1:]),
            allow_headers=sorted(self.allow_headers),
            expose_headers=self.expose_headers,
            max_age=self.max_age,
        )

    def allowed_origin(self, extracted_origin: str) -> str | None:
        return self._current().allowed_origin(extracted_origin)

    def to_dict(self, origin: str | None) -> dict[str, str]:
        return self._current().to_dict(origin)


def documented(
    model: Any,
    description: str,
    content_type: str = "application/json",
    headers: Mapping[str, str] | None = None,
) -> Any:
    """An OpenAPI response whose body is `model` (a pydantic model or a type such as
    `list[Model]`), for routes that build their body as plain data; `headers` maps
    the string headers it carries to their descriptions."""
    response: dict[str, Any] = {
        "description": description,
        "content": {content_type: {"model": model}},
    }
    if headers:
        response["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return response


def error_for(error: Exception) -> TallyError:
    """The one mapping from an exception to the error the client is answered."""
    if isinstance(error, TallyError):
        if error.status >= 500:
            logger.warning("request failed", extra={"status": error.status, "detail": error.detail})
        return error
    if isinstance(error, RequestValidationError):
        errors = error.errors()
        in_body = any(tuple(item.get("loc", ("",)))[:1] == ("body",) for item in errors)
        return invalid(422 if in_body else 400, field_errors(errors, skip=1))
    if isinstance(error, storage.TransactionCancelled):
        if "ValidationError" in error.reasons:
            logger.warning("DynamoDB refused a value", extra={"reasons": error.reasons})
            return unprocessable("body", "holds a value DynamoDB cannot store")
        logger.warning("transaction cancelled", extra={"reasons": error.reasons})
        return unavailable()
    if isinstance(error, storage.ClientError):
        if storage.is_throttling(error):
            logger.warning("DynamoDB throttled the request", extra={"error": str(error)})
            return unavailable()
        if error.response.get("Error", {}).get("Code") == "ValidationException":
            # The value is what DynamoDB refuses (a retry would fail the same way): the
            # client's error, never a 5xx that invites retrying forever.
            logger.warning("DynamoDB refused a value", extra={"error": str(error)})
            return unprocessable("body", "holds a value DynamoDB cannot store")
        logger.exception("DynamoDB request failed")
        return TallyError(500, "internal error")
    if isinstance(error, storage.BotoCoreError):
        logger.exception("AWS SDK failure")
        return unavailable("the service is temporarily unavailable")
    logger.exception("unhandled error")
    return TallyError(500, "internal error")


def _response(style: Style, error: TallyError) -> Response[str]:
    content_type, body = render_json(style, error.status, error.detail, error.errors)
    return Response(
        status_code=error.status, content_type=content_type, body=body, headers=dict(error.headers)
    )


def create_app(
    style: Style = "problem", *, scope: str, strip_prefixes: list[str] | None = None
) -> Resolver:
    """A REST resolver for the routes of one API group: every request needs a key with
    `scope`, every failure is answered in the error `style` of its API."""
    app = Resolver(style, scope, strip_prefixes, cors=SettingsCors())

    @app.exception_handler(Exception)
    def handle_error(error: Exception) -> Response[str]:
        return _response(style, error_for(error))

    @app.not_found
    def handle_not_found(error: NotFoundError) -> Response[str]:
        event = app.current_event
        return _response(style, TallyError(404, f"no route for {event.http_method} {event.path}"))

    return app


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    """A request header, case-insensitively."""
    lowered = name.lower()
    for key, value in (app.current_event.headers or {}).items():
        if key.lower() == lowered:
            return value
    return None


def body(app: APIGatewayRestResolver) -> str | None:
    """The request body as text; 400 naming `body` when it is not UTF-8.

    Powertools' `decoded_body` would raise UnicodeDecodeError (a 500) instead.
    """
    event = app.current_event
    raw = event.body
    if raw is None or not event.is_base64_encoded:
        return raw
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise bad_request("body", "must be UTF-8 text") from None


def json_body(app: APIGatewayRestResolver, model: type[Model]) -> Model:
    """The request's JSON body as `model`: 415/400 for the body, 422 naming each bad field."""
    return payload.validate(model, payload.parse_json(body(app), header(app, "content-type")))


def query(app: APIGatewayRestResolver) -> dict[str, list[str]]:
    """Every query parameter with all its values."""
    event = app.current_event
    return dict(event.multi_value_query_string_parameters or {}) or {
        name: [value] for name, value in (event.query_string_parameters or {}).items()
    }


def _is_local(domain: str) -> bool:
    """A domain API Gateway never presents: one with a port, or a loopback host (the
    local runtime, which serves plain HTTP)."""
    try:
        parts = urlsplit(f"//{domain}")
        if parts.port is not None:
            return True
    except ValueError:
        return False
    host = parts.hostname or ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def request_url(app: APIGatewayRestResolver, parameters: Mapping[str, list[str]] | None) -> str:
    """The URL the client requested, with `parameters` as its query string.

    Built from what API Gateway puts in `requestContext`, never from client
    headers such as `Host`: the domain the client called and its own path
    (`requestContext.path`: with the stage on the execute-api domain, the base
    path on a custom domain). The local runtime (a domain with a port or a
    loopback host) serves plain HTTP at the resource path, with no stage prefix.
    """
    context = app.current_event.request_context
    domain = context.domain_name or "localhost"
    local = _is_local(domain)
    path = app.current_event.path if local or not context.path else context.path
    href = f"{'http' if local else 'https'}://{domain}{path.split('?', 1)[0]}"
    if parameters:
        href += "?" + urlencode(parameters, doseq=True)
    return href


def _early_response(app: Resolver, event: dict[str, Any], error: TallyError) -> dict[str, Any]:
    """The proxy response for a request refused before routing, built by Powertools'
    own response builder so it has the resolver's exact shape, with the CORS headers
    the resolver would add (a page on an allowed origin can read why it was refused)."""
    response = _response(app.error_style, error)
    origins = [
        value for name, value in (event.get("headers") or {}).items() if name.lower() == "origin"
    ]
    allowed = app.cors.allowed_origin(origins[0]) if origins else None
    if allowed is not None:
        response.headers.update(app.cors.to_dict(allowed))
    builder: ResponseBuilder[APIGatewayProxyEvent] = ResponseBuilder(response)
    return builder.build(APIGatewayProxyEvent(event))


def lambda_handler(
    app: Resolver,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an API app: the key first, then routing, then one log
    line with the route, status and latency (and the correlation id of every line)."""

    @with_lambda_context(correlation_paths.API_GATEWAY_REST)
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.perf_counter()
        # Validated before routing: a malformed setting fails the invocation (a Lambda
        # error, which the Errors alarm sees) with a message naming the variable.
        get_settings()
        try:
            principal = auth.authenticate(event.get("headers") or {}, app.scope)
        except Exception as error:
            response = _early_response(app, event, error_for(error))
        else:
            logger.thread_safe_append_keys(account=principal.account, key_id=principal.key_id)
            app.append_context(principal=principal)
            try:
                response = app.resolve(event, context)
            finally:
                flush_metrics()
        logger.info(
            "request",
            extra={
                "method": event.get("httpMethod"),
                "route": event.get("resource"),
                "status": response.get("statusCode"),
                "latency_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    return handle
