"""Shared HTTP plumbing for the endpoint handlers: the resolver, auth and error mapping.

Every handler builds its app with `create_app(style)`, so exception-to-status
mapping, logging with correlation ids and metrics live here once.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from tally import auth, storage
from tally.config import get_settings
from tally.errors import PROBLEM_JSON, FieldError, Style, TallyError, render_json

logger = Logger()
metrics = Metrics()

_BODY_LOCATIONS = frozenset({"body"})


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(part) for part in location[1:]] or [str(location[0])]
    return ".".join(parts)


def validation_error(exc: RequestValidationError) -> TallyError:
    """Body problems are 422 (invalid content); parameter problems are 400."""
    errors = exc.errors()
    in_body = any(error.get("loc", ("",))[0] in _BODY_LOCATIONS for error in errors)
    field_errors = [
        FieldError(
            _field_name(tuple(error.get("loc", ("request",)))), str(error.get("msg", "invalid"))
        )
        for error in errors
    ]
    detail = (
        "; ".join(f"{error.field}: {error.reason}" for error in field_errors) or "invalid request"
    )
    return TallyError(422 if in_body else 400, detail, field_errors)


_ERROR_SCHEMAS: dict[Style, tuple[str, dict[str, Any]]] = {
    "problem": (
        PROBLEM_JSON,
        {
            "type": "object",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"type": "object"}},
            },
        },
    ),
    "dashboard": (
        "application/json",
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
        {
            "type": "object",
            "required": ["title", "status"],
            "properties": {"title": {"type": "string"}, "status": {"type": "integer"}},
        },
    ),
}
# Statuses `create_app`'s handlers can answer on any operation: a bad parameter or
# x-account-id, the key checks, a throttled or failed DynamoDB call.
_COMMON_ERRORS = {
    400: "A parameter is invalid",
    401: "Missing, unknown or revoked API key",
    403: "The API key lacks the route's scope",
    500: "Internal error (no details are exposed)",
    503: "DynamoDB is throttling; retry after Retry-After",
}


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


class _Resolver(APIGatewayRestResolver):
    """Powertools' resolver whose OpenAPI document lists the errors `create_app` really answers.

    Powertools documents only the success and a 422 on every operation, but this
    service answers parameter problems with 400 (422 is for bodies only), and
    every route can answer 401/403/503 in its group's error format.
    """

    def __init__(self, style: Style, strip_prefixes: list[str] | None) -> None:
        super().__init__(
            enable_validation=True,
            strip_prefixes=strip_prefixes,  # type: ignore[arg-type]
            cors=SettingsCors(),
        )
        self.error_style: Style = style
        self._bodies: dict[tuple[str, str], type[BaseModel]] = {}
        self._path_values: dict[str, list[str]] = {}

    def document_body(self, method: str, path: str, model: type[BaseModel]) -> None:
        """Document the JSON body of a route whose handler parses the body itself."""
        self._bodies[(method.lower(), path)] = model

    def document_path_values(self, name: str, values: list[str]) -> None:
        """Document the values a path parameter takes (the handler rejects the others)."""
        self._path_values[name] = values

    def get_openapi_json_schema(self, **options: Any) -> str:
        document = json.loads(super().get_openapi_json_schema(**options))
        content_type, schema = _ERROR_SCHEMAS[self.error_style]
        definitions = document.setdefault("components", {}).setdefault("schemas", {})
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                model = self._bodies.get((method, path))
                if model is not None:
                    body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                    definitions.update(body.pop("$defs", {}))
                    operation["requestBody"] = {
                        "required": True,
                        "content": {"application/json": {"schema": body}},
                    }
                for parameter in operation.get("parameters", []):
                    values = self._path_values.get(parameter.get("name", ""))
                    if parameter.get("in") == "path" and values:
                        parameter["schema"] = {"type": "string", "enum": values}
                responses = operation.setdefault("responses", {})
                # Powertools gives every documented response a JSON body; a 204 has none.
                responses.get("204", {}).pop("content", None)
                errors = dict(_COMMON_ERRORS)
                if "requestBody" in operation:
                    errors[422] = "The body is invalid"
                else:
                    responses.pop("422", None)
                if any(param.get("in") == "path" for param in operation.get("parameters", [])):
                    errors[404] = "No such resource"
                if self.error_style == "usage":
                    errors[406] = "The Accept header excludes JSON"
                for status, description in errors.items():
                    responses.setdefault(str(status), {"description": description})
                # Every error goes through `respond`, so every error status has the style's
                # body (Powertools would document its own 422 body, or a JSON default).
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {content_type: {"schema": schema}}
        return json.dumps(document)


def create_app(style: Style = "problem", *, strip_prefixes: list[str] | None = None) -> _Resolver:
    """A REST resolver whose every failure is answered in the error `style` of its API."""
    app = _Resolver(style, strip_prefixes)

    def respond(error: TallyError) -> Response[str]:
        content_type, body = render_json(style, error.status, error.detail, error.errors)
        return Response(
            status_code=error.status,
            content_type=content_type,
            body=body,
            headers=dict(error.headers),
        )

    @app.exception_handler(TallyError)
    def handle_tally_error(error: TallyError) -> Response[str]:
        if error.status >= 500:
            logger.warning("request failed", extra={"status": error.status, "detail": error.detail})
        return respond(error)

    @app.exception_handler(RequestValidationError)
    def handle_validation(error: RequestValidationError) -> Response[str]:
        return respond(validation_error(error))

    @app.exception_handler(storage.ClientError)
    def handle_client_error(error: storage.ClientError) -> Response[str]:
        if storage.is_throttling(error):
            logger.warning("DynamoDB throttled the request", extra={"error": str(error)})
            return respond(
                TallyError(503, "the service is busy; retry later", headers={"Retry-After": "1"})
            )
        logger.exception("DynamoDB request failed")
        return respond(TallyError(500, "internal error"))

    @app.exception_handler(storage.TransactionCancelled)
    def handle_cancelled(error: storage.TransactionCancelled) -> Response[str]:
        logger.warning("transaction cancelled", extra={"reasons": error.reasons})
        return respond(
            TallyError(503, "the service is busy; retry later", headers={"Retry-After": "1"})
        )

    @app.exception_handler(storage.BotoCoreError)
    def handle_botocore(error: storage.BotoCoreError) -> Response[str]:
        logger.exception("AWS SDK failure")
        return respond(
            TallyError(503, "the service is temporarily unavailable", headers={"Retry-After": "1"})
        )

    @app.not_found
    def handle_not_found(error: NotFoundError) -> Response[str]:
        return respond(
            TallyError(
                404, f"no route for {app.current_event.http_method} {app.current_event.path}"
            )
        )

    @app.exception_handler(Exception)
    def handle_unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return respond(TallyError(500, "internal error"))

    return app


def principal(app: APIGatewayRestResolver, scope: str) -> auth.Principal:
    """The caller of the current request, authorised for `scope` (401/403 otherwise)."""
    event = app.current_event
    result = auth.authenticate(event.headers or {}, scope)
    logger.append_keys(account=result.account, key_id=result.key_id)
    return result


def header(app: APIGatewayRestResolver, name: str) -> str | None:
    """A request header, case-insensitively."""
    lowered = name.lower()
    for key, value in (app.current_event.headers or {}).items():
        if key.lower() == lowered:
            return value
    return None


def lambda_handler(
    app: APIGatewayRestResolver,
) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda entry point of an API app, with correlation ids. Metrics are flushed
    only when the route recorded some: read routes record none, and Powertools'
    `log_metrics` would warn about that on every call."""

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
    )
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Validated before routing: a malformed setting fails the invocation (a Lambda
        # error, which the Errors alarm sees) with a message naming the variable.
        get_settings()
        try:
            return app.resolve(event, context)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return handle
