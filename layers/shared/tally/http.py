"""Shared HTTP plumbing for the endpoint handlers: the resolver, auth and error mapping.

Every handler builds its app with `create_app(style)`, so exception-to-status
mapping, logging with correlation ids and metrics live here once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from tally import auth, storage
from tally.errors import FieldError, Style, TallyError, render_json

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


def create_app(
    style: Style = "problem", *, strip_prefixes: list[str] | None = None
) -> APIGatewayRestResolver:
    """A REST resolver whose every failure is answered in the error `style` of its API."""
    app = APIGatewayRestResolver(enable_validation=True, strip_prefixes=strip_prefixes)  # type: ignore[arg-type]

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

    @app.exception_handler(ClientError)
    def handle_client_error(error: ClientError) -> Response[str]:
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

    @app.exception_handler(BotoCoreError)
    def handle_botocore(error: BotoCoreError) -> Response[str]:
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
    """The Lambda entry point of an API app, with correlation ids and metrics flushed."""

    @logger.inject_lambda_context(
        correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True
    )
    @metrics.log_metrics
    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        return app.resolve(event, context)

    return handle
