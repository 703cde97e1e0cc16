"""Chat admin statistics: GET /admin/stats/messages/sent-*, GET /admin/stats/dialogs/created-*."""

from tally import http
from tally.stats import chat

app = http.create_app()
SCOPE = "stats:read"


def _request() -> tuple[str, chat.ChatStatsQuery]:
    """The caller's account and the parameters of the query string and the form body."""
    account = http.principal(app, SCOPE).account
    event = app.current_event
    query = event.multi_value_query_string_parameters or {
        name: [value] for name, value in (event.query_string_parameters or {}).items()
    }
    return account, chat.parse_query(query, event.decoded_body, http.header(app, "content-type"))


@app.get("/admin/stats/messages/sent-total", summary="Chat messages in a range")
def messages_sent_total() -> dict[str, int]:
    return chat.total(*_request(), chat.chat_messages)


@app.get("/admin/stats/messages/sent-per-day", summary="Chat messages per UTC day (nonzero days)")
def messages_sent_per_day() -> dict[str, int]:
    return chat.per_day(*_request(), chat.chat_messages)


@app.get("/admin/stats/dialogs/created-total", summary="Dialogs created in a range")
def dialogs_created_total() -> dict[str, int]:
    account, query = _request()
    return chat.total(account, query, chat.dialogs(query.types))


@app.get("/admin/stats/dialogs/created-per-day", summary="Dialogs created per UTC day")
def dialogs_created_per_day() -> dict[str, int]:
    account, query = _request()
    return chat.per_day(account, query, chat.dialogs(query.types))


lambda_handler = http.lambda_handler(app)
