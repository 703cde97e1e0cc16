"""Channel statistics: POST /api/v1/connect-hub/{channel}/stats (whatsapp, sms, mms, chat)."""

from typing import Any

from tally import http, metrics
from tally.stats import channel as stats

app = http.create_app()
app.document_path_values("channel", list(metrics.CHANNELS))


@app.post(
    "/api/v1/connect-hub/<channel>/stats",
    summary="Messages, transactions and amounts per interval, grouped in any IANA timezone",
)
def channel_stats(channel: str) -> list[dict[str, Any]]:
    # The body is parsed by the layer: the seed answers every bad field with 400, not 422.
    caller = http.principal(app, "stats:read")
    return stats.channel_stats(caller.account, channel, app.current_event.decoded_body)


lambda_handler = http.lambda_handler(app)
