"""The analytics API: GET /api/analytics/{overview,trends,top-campaigns,best-send-times,export}."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tally import http
from tally.stats import analytics

app = http.create_app()
SCOPE = "stats:read"
# Parameters arrive as plain strings and are checked in the layer after the key:
# a request without a valid key is 401 whatever its parameters.

StartDate = Annotated[
    str | None,
    Query(alias="startDate", description="ISO 8601 date or date-time; defaults to 30 days ago"),
]
EndDate = Annotated[
    str | None,
    Query(alias="endDate", description="ISO 8601 date (whole day included) or date-time; now"),
]


@app.get("/api/analytics/overview", summary="Campaigns, messages and contacts of a range")
def overview(start_date: StartDate = None, end_date: EndDate = None) -> dict[str, Any]:
    return analytics.overview(http.principal(app, SCOPE).account, start_date, end_date)


@app.get("/api/analytics/trends", summary="Daily message or campaign counts, zero-filled")
def trends(
    metric: Annotated[str | None, Query(description="messages (default) or campaigns")] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> list[dict[str, Any]]:
    caller = http.principal(app, SCOPE)
    return analytics.trends(caller.account, metric, start_date, end_date)


@app.get("/api/analytics/top-campaigns", summary="Completed campaigns by delivery rate")
def top_campaigns(
    limit: Annotated[str | None, Query(description="1 to 100, default 10")] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> list[dict[str, Any]]:
    caller = http.principal(app, SCOPE)
    return analytics.top_campaigns(caller.account, limit, start_date, end_date)


@app.get("/api/analytics/best-send-times", summary="Delivery by UTC hour and day of week")
def best_send_times(start_date: StartDate = None, end_date: EndDate = None) -> dict[str, Any]:
    return analytics.best_send_times(http.principal(app, SCOPE).account, start_date, end_date)


@app.get(
    "/api/analytics/export",
    summary="Campaigns of a range as a CSV attachment",
    responses={
        200: {
            "description": "The campaigns as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    },
)
def export(
    export_type: Annotated[
        str | None, Query(alias="type", description="campaigns (the default and only type)")
    ] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> Response[str]:
    caller = http.principal(app, SCOPE)
    result = analytics.export(caller.account, export_type, start_date, end_date)
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=result.body,
        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
    )


lambda_handler = http.lambda_handler(app)
