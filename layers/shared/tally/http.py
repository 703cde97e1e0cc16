"""Shared HTTP plumbing for the endpoint handlers: the resolver, auth and error mapping.

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
import json
import re
import time
from collections.abc import Callable, Collection, Mapping
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.api_gateway import ResponseBuilder
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from tally import auth, payload, storage
from tally.errors import (
    PROBLEM_JSON,
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

Model = TypeVar("Model", bound=BaseModel)

_ERROR_SCHEMAS: dict[Style, tuple[str, str, dict[str, Any]]] = {
    "problem": (
        PROBLEM_JSON,
        "Problem",
        {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
    ),
    "dashboard": (
        "application/json",
        "DashboardError",
        {
            "type": "object",
            "required": ["ok", "error"],
            "properties": {
                "ok": {"const": False},
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    ),
    "usage": (
        "application/json",
        "UsageError",
        {
            "type": "object",
            "required": ["title", "status"],
            "properties": {
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
    ),
}
_FIELD_ERROR_SCHEMA = {
    "type": "object",
    "description": "One invalid field: its name and why (and, on ingest, the event's index)",
    "required": ["field", "reason"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "field": {"type": "string"},
        "reason": {"type": "string"},
    },
}
# Powertools' own error schemas: this service answers every error through `error_for`.
_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
# Statuses any operation can answer: a bad parameter or x-account-id, the key
# checks, a throttled or failed DynamoDB call.
_COMMON_ERRORS = {
    400: "A parameter is invalid",
    401: "Missing, unknown or revoked API key",
    403: "The API key lacks the route's scope",
    500: "Internal error (no details are exposed)",
    503: "DynamoDB is throttling; retry after Retry-After",
}
# One scheme per header that carries a key (auth.presented_secret reads all three).
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
    "adminApiKey": {"type": "apiKey", "in": "header", "name": "CB-Administration-API-Key"},
}
_ACCOUNT_HEADER = {
    "name": "x-account-id",
    "in": "header",
    "required": False,
    "description": "An admin key acts on this account; any other key must name its own",
    "schema": {"type": "string", "pattern": auth.ACCOUNT_PATTERN.pattern},
}


class _Resolver(APIGatewayRestResolver):
    """Powertools' resolver whose OpenAPI document says what this service really does.

    Powertools documents the success and a 422 on every operation; this service
    answers parameter problems with 400 (422 is for bodies only), every route
    can answer 401/403/503 in its group's error format, needs a key, and some
    routes parse their body or parameters in the layer (documented here).
    """

    def __init__(self, style: Style, scope: str, strip_prefixes: list[str] | None) -> None:
        super().__init__(enable_validation=True, strip_prefixes=strip_prefixes)  # type: ignore[arg-type]
        self.error_style: Style = style
        self.scope = scope
        self._bodies: dict[tuple[str, str], tuple[type[BaseModel], int]] = {}
        self._parameters: dict[str, dict[str, Any]] = {}
        self._queries: dict[str, tuple[type[BaseModel], Collection[str]]] = {}

    @property
    def principal(self) -> auth.Principal:
        """The authenticated caller of the current request (set by `lambda_handler`)."""
        principal: auth.Principal = self.context["principal"]
        return principal

    def document_body(
        self, method: str, path: str, model: type[BaseModel], invalid_status: int = 422
    ) -> None:
        """Document the JSON body of a route whose handler parses the body itself, and
        the status it answers to an invalid field."""
        self._bodies[(method.lower(), path)] = (model, invalid_status)

    def document_parameter(self, name: str, schema: dict[str, Any]) -> None:
        """Document the values a parameter takes (the layer parses it and refuses the others)."""
        self._parameters[name] = schema

    def document_query(self, path: str, model: type[BaseModel], names: Collection[str]) -> None:
        """Document the query parameters `names` of a route that parses them with `model`."""
        self._queries[path] = (model, names)

    def get_openapi_json_schema(self, **options: Any) -> str:
        document = json.loads(super().get_openapi_json_schema(**options))
        content_type, error_name, error_schema = _ERROR_SCHEMAS[self.error_style]
        components = document.setdefault("components", {})
        definitions = components.setdefault("schemas", {})
        for name in _POWERTOOLS_SCHEMAS:
            definitions.pop(name, None)
        definitions[error_name] = error_schema
        definitions["FieldError"] = _FIELD_ERROR_SCHEMA
        components["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                self._document_operation(path, method, operation, definitions)
                responses = operation["responses"]
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {
                            content_type: {"schema": {"$ref": f"#/components/schemas/{error_name}"}}
                        }
        return json.dumps(document)

    def _document_operation(
        self, path: str, method: str, operation: dict[str, Any], definitions: dict[str, Any]
    ) -> None:
        # Powertools names operations `<function><path>_<method>`; the function's name
        # alone is unique across the API and reads better in a generated client.
        suffix = re.sub(r"\W", "_", path) + f"_{method}"
        operation["operationId"] = operation["operationId"].removesuffix(suffix)
        body = self._bodies.get((method, path))
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(body[0], definitions)}},
            }
        parameters = operation.setdefault("parameters", [])
        query_model = self._queries.get(path)
        if query_model is not None:
            parameters.extend(_query_parameters(*query_model))
        for parameter in parameters:
            schema = self._parameters.get(parameter.get("name", ""))
            if schema is not None:
                parameter["schema"] = schema
        parameters.append(_ACCOUNT_HEADER)
        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        scope_note = f"Needs a key with the scope `{self.scope}` (or `admin`)."
        operation["description"] = " ".join(
            part for part in (operation.get("description"), scope_note) if part
        )
        responses = operation.setdefault("responses", {})
        # Powertools gives every documented response a JSON body; a 204 has none.
        responses.get("204", {}).pop("content", None)
        errors = dict(_COMMON_ERRORS)
        responses.pop("422", None)
        if body is not None:
            errors[400] = "A parameter or the body is invalid"
            errors[415] = "The body is not JSON"
            errors[body[1]] = errors.get(body[1], "The body is invalid")
        if any(param.get("in") == "path" for param in parameters):
            errors[404] = "No such resource"
        if self.error_style == "usage":
            errors[406] = "The Accept header excludes JSON"
        for status, description in errors.items():
            responses.setdefault(str(status), {"description": description})


def _schema(model: type[BaseModel], definitions: dict[str, Any]) -> dict[str, Any]:
    """A reference to `model`'s JSON schema, which goes into the document's components
    with the models it nests."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions.update(schema.pop("$defs", {}))
    definitions[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], names: Collection[str]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": field.get("description", ""),
            "schema": _parameter_schema(field),
        }
        for name, field in schema.get("properties", {}).items()
        if name in names
    ]


def _parameter_schema(field: dict[str, Any]) -> dict[str, Any]:
    """A model field's schema as a parameter's: an absent parameter is the field's None,
    so `X or null` is just X (a query string carries no null)."""
    schema = {key: value for key, value in field.items() if key not in ("title", "default")}
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if field.get("default") is not None:
        schema["default"] = field["default"]
    return schema


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
) -> _Resolver:
    """A REST resolver for the routes of one API group: every request needs a key with
    `scope`, every failure is answered in the error `style` of its API."""
    app = _Resolver(style, scope, strip_prefixes)

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
    return _header(app.current_event.headers, name)


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    lowered = name.lower()
    for key, value in (headers or {}).items():
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

    Built from what API Gateway puts in `requestContext`: the domain the client
    called and its own path (with the stage on the execute-api domain, the base
    path on a custom domain), never from client headers such as `Host`.
    """
    context = app.current_event.request_context
    domain = context.domain_name or "localhost"
    path = context.path or app.current_event.path
    scheme = "http" if _is_local(domain) else "https"
    href = f"{scheme}://{domain}{path.split('?', 1)[0]}"
    if parameters:
        href += "?" + urlencode(parameters, doseq=True)
    return href


def _early_response(app: _Resolver, event: dict[str, Any], error: TallyError) -> dict[str, Any]:
    """The proxy response for a request refused before routing, built by Powertools'
    own response builder so it has the resolver's exact shape."""
    builder: ResponseBuilder[APIGatewayProxyEvent] = ResponseBuilder(
        _response(app.error_style, error)
    )
    return builder.build(APIGatewayProxyEvent(event))


def lambda_handler(
    app: _Resolver,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an API app: the key first, then routing, then one log
    line with the route, status and latency (and the correlation id of every line)."""

    @with_lambda_context(correlation_paths.API_GATEWAY_REST)
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        started = time.perf_counter()
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
