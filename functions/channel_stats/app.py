"""Channel statistics: POST /api/v1/connect-hub/{channel}/stats (whatsapp, sms, mms, chat)."""

from typing import Any

from tally import http, metrics
from tally.stats import channel as stats

app = http.create_app(scope="stats:read")
app.document_parameter("channel", {"type": "string", "enum": list(metrics.CHANNELS)})
# The body is parsed by the layer: the seed answers every bad field with 400, not 422.
app.document_body(
    "POST", "/api/v1/connect-hub/{channel}/stats", stats.ChannelStatsRequest, invalid_status=400
)


@app.post(
    "/api/v1/connect-hub/<channel>/stats",
    summary="Messages, transactions and amounts per interval, grouped in any IANA timezone",
    responses={200: http.documented(list[stats.ChannelStatsEntry], "One entry per interval")},
)
def channel_stats(channel: str) -> list[dict[str, Any]]:
    return stats.channel_stats(
        app.principal.account, channel, http.body(app), http.header(app, "content-type")
    )


lambda_handler = http.lambda_handler(app)
