"""Chat admin statistics: GET /admin/stats/messages/sent-*, GET /admin/stats/dialogs/created-*."""

from aws_lambda_powertools.event_handler import Response, content_types

from tally import http
from tally.stats import chat

app = http.create_app(scope="stats:read")
RANGE = ("start_date", "end_date")
PAGE = (*RANGE, "limit", "offset")
app.document_query("/admin/stats/messages/sent-total", chat.ChatStatsQuery, RANGE)
app.document_query("/admin/stats/messages/sent-per-day", chat.ChatStatsQuery, PAGE)
app.document_query("/admin/stats/dialogs/created-total", chat.ChatStatsQuery, (*RANGE, "types[]"))
app.document_query("/admin/stats/dialogs/created-per-day", chat.ChatStatsQuery, (*PAGE, "types[]"))
TOTAL = http.documented(chat.ChatTotal, "The count of the range")
PER_DAY = http.documented(
    dict[str, int],
    "Nonzero UTC days (YYYY-MM-DD), ascending, one page",
    headers={"Link": 'The next page, as `<url>; rel="next"`, when more days exist'},
)


def _query() -> chat.ChatStatsQuery:
    """The parameters of the query string and the form body together."""
    return chat.parse_query(http.query(app), http.body(app), http.header(app, "content-type"))


def _page(query: chat.ChatStatsQuery, measure: chat.Measure) -> Response[dict[str, int]]:
    """One page of days; a `Link` header names the next page when there is one."""
    page = chat.per_day_page(app.principal.account, query, measure)
    headers = {}
    if page.next_query is not None:
        headers["Link"] = f'<{http.request_url(app, page.next_query)}>; rel="next"'
    return Response(200, content_types.APPLICATION_JSON, page.days, headers)


@app.get(
    "/admin/stats/messages/sent-total",
    summary="Chat messages in a range",
    responses={200: TOTAL},
)
def messages_sent_total() -> dict[str, int]:
    return chat.total(app.principal.account, _query(), chat.chat_messages)


@app.get(
    "/admin/stats/messages/sent-per-day",
    summary="Chat messages per UTC day (nonzero days)",
    responses={200: PER_DAY},
)
def messages_sent_per_day() -> Response[dict[str, int]]:
    return _page(_query(), chat.chat_messages)


@app.get(
    "/admin/stats/dialogs/created-total",
    summary="Dialogs created in a range",
    responses={200: TOTAL},
)
def dialogs_created_total() -> dict[str, int]:
    query = _query()
    return chat.total(app.principal.account, query, chat.dialogs(query.types))


@app.get(
    "/admin/stats/dialogs/created-per-day",
    summary="Dialogs created per UTC day",
    responses={200: PER_DAY},
)
def dialogs_created_per_day() -> Response[dict[str, int]]:
    query = _query()
    return _page(query, chat.dialogs(query.types))


lambda_handler = http.lambda_handler(app)
