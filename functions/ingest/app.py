"""POST /v1/events: store a batch of raw events (validated all-or-nothing, idempotent)."""

from aws_lambda_powertools.metrics import MetricUnit

from tally import http, ingest
from tally.models import IngestRequest, IngestResponse

app = http.create_app()
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
        415: {"description": "The body is not JSON"},
        422: {"description": "At least one invalid event; nothing was written"},
    },
)
def post_events() -> IngestResponse:
    caller = http.principal(app, "events:write")
    result = ingest.ingest(
        caller.account, app.current_event.decoded_body, http.header(app, "content-type")
    )
    http.metrics.add_metric(name="EventsIngested", unit=MetricUnit.Count, value=result.accepted)
    http.metrics.add_metric(name="EventsUnchanged", unit=MetricUnit.Count, value=result.unchanged)
    return IngestResponse(**result.as_dict())


lambda_handler = http.lambda_handler(app)
