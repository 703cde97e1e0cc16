"""Channel statistics: POST /api/v1/connect-hub/{channel}/stats (whatsapp, sms, mms, chat)."""

from typing import Any

from tally import http, metrics
from tally.stats import channel

app = http.create_app()
app.document_path_values("channel_name", list(metrics.CHANNELS))


@app.post(
    "/api/v1/connect-hub/<channel_name>/stats",
    summary="Messages, transactions and amounts per interval, grouped in any IANA timezone",
)
def channel_stats(channel_name: str) -> list[dict[str, Any]]:
    # The body is parsed by the layer: the seed answers every bad field with 400, not 422.
    caller = http.principal(app, "stats:read")
    return channel.channel_stats(caller.account, channel_name, app.current_event.decoded_body)


lambda_handler = http.lambda_handler(app)
