"""The analytics API: overview, trends, top campaigns, best send times and CSV export."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from tally import http
from tally.stats import analytics

app = http.create_app(scope="stats:read")
# Parameters arrive as strings and are parsed by the layer, which documents what it takes.
for _name, _schema in analytics.PARAMETER_SCHEMAS.items():
    app.document_parameter(_name, _schema)

StartDate = Annotated[
    str | None,
    Query(alias="startDate", description="ISO 8601 date or date-time; defaults to 30 days ago"),
]
EndDate = Annotated[
    str | None,
    Query(alias="endDate", description="ISO 8601 date (whole day included) or date-time; now"),
]


@app.get(
    "/api/analytics/overview",
    summary="Campaigns, messages and contacts of a range",
    responses={200: http.documented(analytics.Overview, "Counts of the range")},
)
def overview(start_date: StartDate = None, end_date: EndDate = None) -> dict[str, Any]:
    return analytics.overview(app.principal.account, start_date, end_date)


@app.get(
    "/api/analytics/trends",
    summary="Daily message or campaign counts, zero-filled",
    responses={
        200: http.documented(
            list[analytics.MessageTrend | analytics.CampaignTrend], "One entry per UTC day"
        )
    },
)
def trends(
    metric: Annotated[str | None, Query(description="messages (default) or campaigns")] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> list[dict[str, Any]]:
    return analytics.trends(app.principal.account, metric, start_date, end_date)


@app.get(
    "/api/analytics/top-campaigns",
    summary="Completed campaigns by delivery rate",
    responses={200: http.documented(list[analytics.TopCampaign], "Best delivery rate first")},
)
def top_campaigns(
    limit: Annotated[str | None, Query(description="1 to 100, default 10")] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> list[dict[str, Any]]:
    return analytics.top_campaigns(app.principal.account, limit, start_date, end_date)


@app.get(
    "/api/analytics/best-send-times",
    summary="Delivery by UTC hour and day of week",
    responses={200: http.documented(analytics.BestSendTimes, "Hours and weekdays with traffic")},
)
def best_send_times(start_date: StartDate = None, end_date: EndDate = None) -> dict[str, Any]:
    return analytics.best_send_times(app.principal.account, start_date, end_date)


@app.get(
    "/api/analytics/export",
    summary="Campaigns of a range as a CSV attachment",
    responses={200: http.documented(str, "The campaigns as CSV", "text/csv")},
)
def export(
    export_type: Annotated[
        str | None, Query(alias="type", description="campaigns (the default and only type)")
    ] = None,
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> Response[str]:
    result = analytics.export(app.principal.account, export_type, start_date, end_date)
    return Response(
        status_code=200,
        content_type="text/csv; charset=utf-8",
        body=result.body,
        headers={"Content-Disposition": f'attachment; filename="{result.filename}"'},
    )


lambda_handler = http.lambda_handler(app)
