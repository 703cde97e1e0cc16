"""The dashboard page in a real browser: it loads the data, every chart renders, the numbers
shown are the API's for the same key, scope and timezone switches redraw, a bad key is
explained, and no request leaves the page's origin."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from bench.page import VIEW_DONE
from tests.browser.conftest import Site, Tab
from tests.browser.dataset import DST_ZONE, last_dst_change

pytestmark = pytest.mark.e2e

VIEWS = ("overview", "channels", "analytics", "chat", "usage", "billing")
# axe-core's WCAG 2.1 A and AA rules, and its best practices.
AXE_RULES = {
    "runOnly": {
        "type": "tag",
        "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"],
    }
}
# Pixels of the first series' colour on a chart's canvas (how much of the data was drawn).
SERIES_PIXELS = """(id) => {
  const canvas = document.querySelector(`[data-chart="${id}"] canvas`);
  const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
  const colour = getComputedStyle(document.documentElement).getPropertyValue('--series-1').trim();
  const [r, g, b] = [1, 3, 5].map((i) => parseInt(colour.slice(i, i + 2), 16));
  let count = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (Math.abs(data[i] - r) < 10 && Math.abs(data[i + 1] - g) < 10
        && Math.abs(data[i + 2] - b) < 10 && data[i + 3] > 200) count += 1;
  }
  return { width: canvas.width, height: canvas.height, pixels: count };
}"""


def open_page(tab: Tab, site: Site, key: str | None = None) -> Page:
    tab.page.goto(f"{site.url}/#key={key or site.key}")
    return tab.page


def drawn(page: Page, view: str) -> None:
    """Wait until `view` has finished loading and shows its charts (or an error)."""
    page.wait_for_function(VIEW_DONE, arg=view, timeout=60_000)


def show(page: Page, view: str) -> None:
    page.click(f"#tab-{view}")
    drawn(page, view)


def open_view(tab: Tab, site: Site, view: str) -> Page:
    """The page opened with the site's key, `view` drawn."""
    page = open_page(tab, site)
    drawn(page, "overview")
    if view != "overview":
        show(page, view)
    return page


def metrics(page: Page, view: str) -> dict[str, str]:
    return page.eval_on_selector_all(
        f"#{view} [data-metric]",
        "els => Object.fromEntries(els.map((el) => [el.dataset.metric, el.dataset.value]))",
    )


def rows(page: Page, table: str) -> list[list[str]]:
    """A data table's rows: the row's label, then every cell's raw value."""
    return page.eval_on_selector_all(
        f'[data-table="{table}"] tbody tr',
        """trs => trs.map((tr) => [tr.cells[0].textContent,
            ...[...tr.cells].slice(1).map((td) => td.dataset.value ?? td.textContent)])""",
    )


def series(page: Page, table: str) -> list[float | None]:
    """The first series of a chart's data table (without its total row); None where the
    bucket has no value ("—")."""
    return [
        None if row[1] == "—" else float(row[1]) for row in rows(page, table) if row[0] != "Total"
    ]


def error_text(page: Page, view: str) -> str:
    return page.inner_text(f"#{view} .error")


def test_key_from_the_fragment_stays_in_session_storage(tab: Tab, site: Site) -> None:
    page = open_page(tab, site)
    drawn(page, "overview")
    assert "key" not in page.url
    assert "#" not in page.url
    assert page.evaluate("sessionStorage.getItem('tally.key')") == site.key
    assert page.evaluate("document.cookie") == ""
    assert page.evaluate("localStorage.length") == 0
    api_calls = [r for r in tab.requests if urlsplit(r.url).path.startswith("/v1/")]
    assert api_calls
    for request in tab.requests:
        assert site.key not in request.url
    for request in api_calls:
        assert request.headers["authorization"] == f"Bearer {site.key}"


def test_every_view_draws_its_charts_from_this_origin_only(tab: Tab, site: Site) -> None:
    page = open_page(tab, site)
    drawn(page, "overview")
    for view in VIEWS[1:]:
        show(page, view)
    seen = 0
    for view in VIEWS:
        page.click(f"#tab-{view}")
        drawn(page, view)
        assert error_text(page, view) == ""
        charts = page.eval_on_selector_all(
            f"#{view} [data-chart]", "els => els.map((el) => el.dataset.chart)"
        )
        assert charts, f"{view} shows no chart"
        for chart in charts:
            paint = page.evaluate(SERIES_PIXELS, chart)
            assert paint["width"] > 200, chart
            assert paint["height"] > 100, chart
            if any(series(page, chart)):
                assert paint["pixels"] > 20, f"{chart}: its data is not drawn"
            seen += 1
    assert seen >= 14
    heatmap = rows(page, "best-send-heatmap")
    assert len(heatmap) == 7
    assert all(len(row) == 1 + 24 + 1 for row in heatmap)
    origin = urlsplit(site.url)
    for request in tab.requests:
        target = urlsplit(request.url)
        assert (target.scheme, target.hostname, target.port) == (
            origin.scheme,
            "127.0.0.1",
            origin.port,
        ), f"a request left the origin: {request.url}"


def check_overview(page: Page, site: Site, scope: str) -> None:
    data = site.api("GET", f"v1/stats/{scope}")["data"]
    shown = metrics(page, "overview")
    # Every number of the answer is a card.
    numbers = {name: value for name, value in data.items() if isinstance(value, int | float)}
    assert len(numbers) == 6
    for name, value in numbers.items():
        assert float(shown[name]) == value, name
    charts = data["charts"]
    for name in ("messages", "otps", "campaigns"):
        table = [row for row in rows(page, f"overview-{name}") if row[0] != "Total"]
        assert [row[0] for row in table] == charts["labels"]
        assert [float(row[1]) for row in table] == [b["total"] for b in charts[name]]
    operators = rows(page, "overview-operators")
    assert [(row[0], float(row[1])) for row in operators] == [
        (entry["operator"], entry["total"]) for entry in charts["operators"]
    ]
    activity = rows(page, "recent-activity")
    assert [row[2] for row in activity] == [entry["id"] for entry in data["recent_activity"]]


def test_overview_numbers_are_the_apis_and_scope_switches_redraw(tab: Tab, site: Site) -> None:
    page = open_page(tab, site)
    drawn(page, "overview")
    check_overview(page, site, "1month")
    for scope, label, buckets in (("1w", "Last 7 days", 7), ("24h", "Last 24 hours", 24)):
        with page.expect_response(lambda r, s=scope: r.url.endswith(f"/v1/stats/{s}")):
            page.get_by_text(label, exact=True).click()
        drawn(page, "overview")
        assert len(series(page, "overview-messages")) == buckets
        check_overview(page, site, scope)


def apply_channel_form(page: Page, body: dict[str, Any], **fields: str) -> None:
    """Fill the channel form and wait for the drawing of the request carrying `body`."""
    for name, value in fields.items():
        if name not in ("channel", "type"):
            page.fill(f"#{name}", value)
    for name in ("channel", "type"):
        if name in fields:
            page.select_option(f"#{name}", fields[name])
    with page.expect_response(
        lambda r: "/connect-hub/" in r.url and json.loads(r.request.post_data or "{}") == body
    ):
        page.click("#channels button[type=submit]")
    drawn(page, "channels")


def check_channel(page: Page, site: Site, channel: str, body: dict[str, Any]) -> list[str]:
    entries = site.api("POST", f"api/v1/connect-hub/{channel}/stats", json=body)
    counts = rows(page, "channel-counts")
    amounts = rows(page, "channel-amounts")
    assert len(counts) == len(entries) + (1 if len(entries) > 1 else 0)
    for entry, count, amount in zip(entries, counts, amounts, strict=False):
        assert float(count[1]) == entry["total_requests"]
        assert float(count[2]) == entry["total_transactions"]
        assert float(amount[1]) == entry["total_amount"]
    shown = metrics(page, "channels")
    assert float(shown["total_requests"]) == sum(e["total_requests"] for e in entries)
    return [row[0] for row in counts]


def test_channel_buckets_follow_the_timezone_across_dst(tab: Tab, site: Site) -> None:
    page = open_view(tab, site, "channels")
    # The default view: today's browser zone (UTC here), daily, WhatsApp.
    check_channel(page, site, "whatsapp", {"type": "daily", "timezone": "UTC"})
    change = last_dst_change(datetime.now(UTC)).astimezone(DST_ZONE)
    start = (change - timedelta(days=2)).strftime("%Y-%m-%dT00:00")
    end = (change + timedelta(days=3)).strftime("%Y-%m-%dT00:00")
    body = {"type": "daily", "timezone": "Europe/Paris", "start_time": start, "end_time": end}
    apply_channel_form(
        page, body, channel="sms", type="daily", timezone="Europe/Paris", start=start, end=end
    )
    labels = check_channel(page, site, "sms", body)
    day = change.date()
    hours = (
        datetime(day.year, day.month, day.day, tzinfo=DST_ZONE) + timedelta(days=1)
    ).astimezone(UTC) - change.astimezone(UTC)
    assert f"({hours.total_seconds() / 3600:g} h)" in " ".join(labels), labels
    assert len([label for label in labels if label != "Total"]) == 5
    # Another zone: the same range regroups into that zone's days.
    body["timezone"] = "Asia/Kolkata"
    apply_channel_form(page, body, timezone="Asia/Kolkata")
    # Redrawn in that zone's days: no 23- or 25-hour day there.
    assert check_channel(page, site, "sms", body) != labels


def check_trend(
    page: Page, site: Site, dates: dict[str, str], metric: str, fields: tuple[str, ...]
) -> None:
    answer = site.api("GET", "api/analytics/trends", params={**dates, "metric": metric})
    table = [row for row in rows(page, "analytics-trends") if row[0] != "Total"]
    assert [[float(v) for v in row[1:]] for row in table] == [
        [day[field] for field in fields] for day in answer
    ]


def test_analytics_numbers_are_the_apis(tab: Tab, site: Site) -> None:
    page = open_view(tab, site, "analytics")
    start = page.input_value("#startDate")
    end = page.input_value("#endDate")
    dates = {"startDate": start, "endDate": end}
    overview = site.api("GET", "api/analytics/overview", params=dates)
    shown = metrics(page, "analytics")
    for group in ("campaigns", "contacts"):
        assert float(shown[f"{group}.total"]) == overview[group]["total"]
    for name in ("total", "sent", "delivered", "failed"):
        assert float(shown[f"messages.{name}"]) == overview["messages"][name]
    assert float(shown["deliveryRate"]) == overview["deliveryRate"]
    check_trend(page, site, dates, "messages", ("total", "sent", "delivered", "failed"))
    top = site.api("GET", "api/analytics/top-campaigns", params={**dates, "limit": "10"})
    assert [row[1] for row in rows(page, "top-campaigns")] == [c["name"] for c in top]
    assert series(page, "analytics-top-campaigns") == [c["deliveryRate"] for c in top]
    best = site.api("GET", "api/analytics/best-send-times", params=dates)
    heatmap = rows(page, "best-send-heatmap")
    by_day = {row["dayOfWeek"]: row["totalSent"] for row in best["byDayOfWeek"]}
    by_hour = {row["hour"]: row["totalSent"] for row in best["byHour"]}
    assert [float(row[-1]) for row in heatmap] == [by_day.get(day, 0) for day in range(7)]
    columns = [sum(float(row[1 + hour]) for row in heatmap) for hour in range(24)]
    assert columns == [by_hour.get(hour, 0) for hour in range(24)]
    rates = {row["hour"]: row["deliveryRate"] for row in best["byHour"]}
    # An hour without messages has no delivery rate (not 0 %).
    assert series(page, "best-send-hour") == [rates.get(hour) for hour in range(24)]
    # The other trend metric redraws the chart with its own fields.
    with page.expect_response(lambda r: "metric=campaigns" in r.url):
        page.get_by_text("Campaigns", exact=True).click()
    drawn(page, "analytics")
    check_trend(page, site, dates, "campaigns", ("total", "completed", "sending", "failed"))


def test_csv_export_downloads_the_apis_file(tab: Tab, site: Site) -> None:
    page = open_view(tab, site, "analytics")
    with page.expect_download() as download:
        page.click("#export-csv")
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    text = path.read_text(encoding="utf-8-sig")
    header, *body = list(csv.reader(io.StringIO(text)))
    assert header[:3] == ["Campaign Name", "Status", "Total Recipients"]
    assert len(body) == 4


def test_chat_usage_and_billing_numbers_are_the_apis(tab: Tab, site: Site) -> None:
    page = open_view(tab, site, "chat")
    start = page.input_value("#chat-start")
    end = page.input_value("#chat-end")
    low = int(datetime.fromisoformat(f"{start}T00:00:00+00:00").timestamp())
    high = int(datetime.fromisoformat(f"{end}T00:00:00+00:00").timestamp()) + 86400
    dates = {"start_date": str(low), "end_date": str(high)}
    shown = metrics(page, "chat")
    assert (
        float(shown["chat.sent_total"])
        == site.api("GET", "admin/stats/messages/sent-total", params=dates)["total"]
    )
    per_day = site.api("GET", "admin/stats/messages/sent-per-day", params=dates)
    assert sum(series(page, "chat-sent")) == sum(per_day.values())

    show(page, "usage")
    windows = site.api("GET", "v1/stats/messages")["aggregated_api_usage_events"]
    table = rows(page, "usage-events")
    names = list(windows["last_24_hours"])
    assert [[float(v) for v in row[1:]] for row in table] == [
        [windows[w][name] for w in ("last_24_hours", "last_1_hours", "today_so_far")]
        for name in names
    ]
    assert sum(windows["last_24_hours"].values()) > 0

    show(page, "billing")
    status = site.api("GET", "api/billing/status")
    balance = site.api("GET", "api/credits/balance")
    shown = metrics(page, "billing")
    assert float(shown["balance"]) == balance["balance"]
    for name in ("available", "included", "total"):
        assert float(shown[f"credits.{name}"]) == status["credits"][name]
    assert shown["billing_status"] == status["billing_status"]


def test_an_account_without_data_draws_zero_filled_charts(tab: Tab, site: Site) -> None:
    # (Its usage view is not empty: creating the key is an api_key_added event.)
    page = open_page(tab, site, site.new_key(["stats:read", "billing:read"]))
    for view in ("overview", "channels", "analytics", "chat"):
        show(page, view) if view != "overview" else drawn(page, view)
        assert error_text(page, view) == ""
        for chart in page.eval_on_selector_all(
            f"#{view} [data-chart]", "els => els.map((el) => el.dataset.chart)"
        ):
            values = series(page, chart)
            assert values, chart
            assert not any(values), chart
            summary = page.inner_text(f"#{chart} .summary")
            assert "0 in every bucket" in summary or "no value in any bucket" in summary


def test_a_bad_key_is_explained_and_another_can_be_entered(tab: Tab, site: Site) -> None:
    page = open_page(tab, site, "tk_not_a_real_key")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert "401" in page.inner_text("#key-message")
    assert page.evaluate("sessionStorage.getItem('tally.key')") is None
    page.fill("#key-input", site.key)
    page.click("#key-form button[type=submit]")
    drawn(page, "overview")
    assert page.is_hidden("#key-panel")
    assert metrics(page, "overview")["total_messages"] == str(site.messages)


def test_a_key_without_the_scope_is_told_so(tab: Tab, site: Site) -> None:
    page = open_page(tab, site, site.new_key(["stats:read"]))
    drawn(page, "overview")
    page.click("#tab-billing")
    page.wait_for_selector("#key-panel:not([hidden])")
    assert "403" in page.inner_text("#key-message")
    assert "403" in error_text(page, "billing")


def test_keyboard_reaches_tabs_and_chart_values(tab: Tab, site: Site) -> None:
    page = open_page(tab, site)
    drawn(page, "overview")
    page.focus("#tab-overview")
    page.keyboard.press("ArrowRight")
    drawn(page, "channels")
    assert page.evaluate("document.activeElement.id") == "tab-channels"
    assert page.get_attribute("#tab-channels", "aria-selected") == "true"
    page.keyboard.press("ArrowLeft")
    drawn(page, "overview")
    page.focus('[data-chart="overview-messages"]')
    page.keyboard.press("ArrowRight")
    first = rows(page, "overview-messages")[0]
    readout = page.inner_text("#overview-messages .readout")
    assert readout.startswith(f"{first[0]}: Messages ")
    assert page.get_attribute('[data-chart="overview-messages"]', "aria-label").startswith(
        "Messages,"
    )


def test_every_view_passes_axe_wcag_aa(tab: Tab, site: Site) -> None:
    page = open_page(tab, site)
    drawn(page, "overview")
    for view in VIEWS:
        show(page, view)
        # The data tables too (they are the charts' text alternatives).
        page.evaluate("document.querySelectorAll('details').forEach((d) => { d.open = true; })")
        results = Axe().run(page, options=AXE_RULES).response
        violations = [
            f"{v['id']} ({v['impact']}): {v['nodes'][0]['html'][:120]}"
            for v in results["violations"]
        ]
        assert not violations, f"{view}: {violations}"
        assert "color-contrast" in {rule["id"] for rule in results["passes"]}
