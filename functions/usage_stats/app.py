"""GET /v1/stats/messages: API usage event counts (usage seed)."""

from typing import Annotated

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Query

from tally import http
from tally.errors import TallyError
from tally.stats import usage

app = http.create_app("usage", scope="stats:read")
PATH = "/v1/stats/messages"
PrettyQuery = Annotated[bool, Query(description="Return the response pretty printed")]


@app.get(
    PATH,
    summary="Usage event counts of the last 24 hours, the last hour and today",
    # The body is rendered here (for `pretty`), so Powertools cannot infer its schema.
    responses={200: http.documented(usage.UsageDocument, "Usage event counts per window")},
)
def message_stats(pretty: PrettyQuery = False) -> Response[str]:
    usage.check_negotiation(
        http.header(app, "accept"), http.header(app, "content-type"), http.body(app)
    )
    href = http.request_url(app, http.query(app))
    document = usage.usage_document(app.principal.account, href)
    return Response(200, content_types.APPLICATION_JSON, usage.render(document, pretty))


@app.route(
    PATH, method=["POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"], include_in_schema=False
)
def other_methods() -> Response[str]:
    method = app.current_event.http_method
    raise TallyError(405, f"{method} is not allowed on {PATH}; use GET", headers={"Allow": "GET"})


lambda_handler = http.lambda_handler(app)
