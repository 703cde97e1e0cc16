"""Per-day chat endpoints say when more pages exist: `Link: <...>; rel="next"`, the body
keeps the seed's shape (a map of days)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.support import invoke, message, post_events, proxy_event

DAYS = ("2026-06-01", "2026-06-03", "2026-06-07")
NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def get(key: str, path: str, query: dict[str, Any], body: str | None = None) -> dict[str, Any]:
    headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else None
    event = proxy_event("GET", path, key=key, query=query, body=body, headers=headers)
    event["requestContext"].update(domainName="api.example.com", path=path)
    return invoke("chat_stats", event)


def test_pages_link_to_the_next_until_the_last(aws: None, stream: Any, keys: dict) -> None:
    events = [
        message(f"c{n}-{day}", f"{day}T10:00:00Z", channel="chat", dialog_id="d1")
        for day in DAYS
        for n in range(2)
    ]
    post_events(keys["acme"], events)
    stream.drain()
    path = "/admin/stats/messages/sent-per-day"

    first = get(keys["acme"], path, {"limit": "2"})
    assert first["statusCode"] == 200
    assert first["json"] == {DAYS[0]: 2, DAYS[1]: 2}
    link = NEXT.match(first["headers"]["link"])
    assert link is not None, first["headers"]
    url = urlsplit(link["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "api.example.com", path)
    following = {name: values[-1] for name, values in parse_qs(url.query).items()}
    assert following == {"limit": "2", "offset": "2"}

    last = get(keys["acme"], path, following)
    assert last["json"] == {DAYS[2]: 2}
    assert "link" not in last["headers"]

    exact = get(keys["acme"], path, {"limit": "3"})
    assert list(exact["json"]) == list(DAYS)
    assert "link" not in exact["headers"]


def test_form_parameters_carry_over_to_the_next_page(aws: None, stream: Any, keys: dict) -> None:
    post_events(
        keys["acme"],
        [
            {"id": f"d-{day}", "kind": "dialog", "occurred_at": f"{day}T08:00:00Z", "type": 2}
            for day in DAYS
        ],
    )
    stream.drain()
    path = "/admin/stats/dialogs/created-per-day"
    form = urlencode({"start_date": "1780000000", "limit": "1", "types[]": ["2", "3"]}, doseq=True)
    response = get(keys["acme"], path, {}, body=form)
    assert response["json"] == {DAYS[0]: 1}
    link = NEXT.match(response["headers"]["link"])
    assert link is not None
    query = parse_qs(urlsplit(link["url"]).query)
    assert query == {
        "start_date": ["1780000000"],
        "limit": ["1"],
        "offset": ["1"],
        "types[]": ["2", "3"],
    }
