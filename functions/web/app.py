"""The dashboard page and its assets, the OpenAPI document and Swagger UI: GET /,
GET /assets/{file}, GET /openapi.json, GET /docs. Public routes: the page asks the
user for a key and calls the API from the browser, on this same origin."""

from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from tally import web
from tally.errors import render_json
from tally.observability import with_lambda_context

HERE = Path(__file__).parent
STATIC = HERE / "static"
OPENAPI = HERE / "openapi.json"

app = APIGatewayRestResolver()


def _file(file: web.File, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(
        200, file.content_type, file.body, {"Cache-Control": file.cache_control, **(headers or {})}
    )


def _redirect(directory: bool) -> Response[str] | None:
    event = app.current_event
    location = web.canonical_location(event.request_context.path or event.path, directory=directory)
    return None if location is None else Response(301, None, "", {"Location": location})


@app.not_found
def not_found(_: NotFoundError) -> Response[str]:
    event = app.current_event
    content_type, body = render_json("problem", 404, f"no such file: {event.path}")
    return Response(404, content_type, body)


@app.get("/", include_in_schema=False)
def index() -> Response[str]:
    return _redirect(directory=True) or _file(web.page(STATIC), web.PAGE_HEADERS)


@app.get("/assets/<file>", include_in_schema=False)
def asset(file: str) -> Response[str]:
    found = web.asset(STATIC, file)
    if found is None:
        raise NotFoundError
    return _file(found, {"X-Content-Type-Options": "nosniff"})


@app.get("/openapi.json", include_in_schema=False)
def openapi() -> Response[str]:
    document = web.openapi_document(OPENAPI)
    if document is None:
        raise NotFoundError
    return Response(200, "application/json", document, {"Cache-Control": web.REVALIDATE})


@app.get("/docs", include_in_schema=False)
def docs() -> Response[str]:
    document = web.openapi_document(OPENAPI)
    if document is None:
        raise NotFoundError
    spec = web.docs_spec(document)
    # Swagger UI fetches /docs?format=json for its "download" link: the document, not HTML.
    if (app.current_event.query_string_parameters or {}).get("format") == "json":
        return Response(200, "application/json", spec, {"Cache-Control": web.REVALIDATE})
    redirect = _redirect(directory=False)
    if redirect is not None:
        return redirect
    headers = {"Cache-Control": web.REVALIDATE, "X-Content-Type-Options": "nosniff"}
    return Response(200, "text/html; charset=utf-8", web.swagger_page(spec), headers)


@with_lambda_context(correlation_paths.API_GATEWAY_REST)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
