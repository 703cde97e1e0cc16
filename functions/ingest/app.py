"""POST /v1/events: store a batch of raw events (validated all-or-nothing, idempotent)."""

from aws_lambda_powertools.metrics import MetricUnit

from tally import http, ingest
from tally.models import IngestRequest, IngestResponse
from tally.observability import metrics

app = http.create_app(scope="events:write")
# The layer parses the body itself (413/415 and per-event 422s), so it is only documented.
app.document_body("POST", "/v1/events", IngestRequest)


@app.post(
    "/v1/events",
    summary="Ingest up to 500 events",
    responses={
        200: {
            "description": "Events stored",
            "content": {"application/json": {"model": IngestResponse}},
        },
        413: {"description": "More than 500 events"},
        422: {"description": "At least one invalid event; nothing was written"},
    },
)
def post_events() -> IngestResponse:
    result = ingest.ingest(app.principal.account, http.body(app), http.header(app, "content-type"))
    metrics.add_metric(name="EventsIngested", unit=MetricUnit.Count, value=result.accepted)
    metrics.add_metric(name="EventsUnchanged", unit=MetricUnit.Count, value=result.unchanged)
    return IngestResponse(**result.as_dict())


lambda_handler = http.lambda_handler(app)
