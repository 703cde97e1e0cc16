"""GET /v1/stats and GET /v1/stats/{scope}: the dashboard statistics (dashboard seed)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from tally import http
from tally.stats import dashboard

app = http.create_app("dashboard", scope="stats:read")
app.document_parameter(
    "scope",
    {
        "type": "string",
        "enum": [scope.value for scope in dashboard.Scope],
        "default": dashboard.DEFAULT_SCOPE.value,
    },
)
ScopeQuery = Annotated[str | None, Query(description="24h, 1w, 1month (default), 1year or all")]


@app.get("/v1/stats", summary="Dashboard statistics for the scope in the query")
def stats(scope: ScopeQuery = None) -> dashboard.DashboardResponse:
    return dashboard.dashboard(app.principal.account, dashboard.parse_scope(None, scope))


@app.get("/v1/stats/<scope>", summary="Dashboard statistics for the scope in the path")
def stats_for_scope(scope: str) -> dashboard.DashboardResponse:
    query = (app.current_event.query_string_parameters or {}).get("scope")
    return dashboard.dashboard(app.principal.account, dashboard.parse_scope(scope, query))


lambda_handler = http.lambda_handler(app)
