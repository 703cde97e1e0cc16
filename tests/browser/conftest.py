"""The dashboard page in Debian's Chromium, driven by Playwright (no browser download),
against a real `tally serve` holding a small history ingested through the API."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import Browser, Page, Request, sync_playwright

from bench.page import CHROMIUM, CHROMIUM_ARGS
from tests.browser.dataset import events
from tests.e2e.conftest import Server, start_server, stop_server

SCOPES = ["events:write", "stats:read", "billing:read", "keys:manage"]


@dataclass
class Site:
    server: Server
    key: str
    messages: int

    @property
    def url(self) -> str:
        return self.server.base_url

    def new_key(self, scopes: list[str], account: str | None = None) -> str:
        response = requests.post(
            f"{self.url}/v1/keys",
            json={"account": account or f"web-{secrets.token_hex(4)}", "scopes": scopes},
            headers=self.server.headers(),
            timeout=30,
        )
        assert response.status_code == 201, response.text
        secret: str = response.json()["secret"]
        return secret

    def api(self, method: str, path: str, key: str | None = None, **options: Any) -> Any:
        """The API's own answer for `path`, with the page's key (JSON decoded)."""
        response = requests.request(
            method,
            f"{self.url}/{path}",
            headers={"Authorization": f"Bearer {key or self.key}"},
            timeout=60,
            **options,
        )
        assert response.status_code == 200, response.text
        return response.json()


def _wait_for_counters(site: Site, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        totals = site.api("GET", "v1/stats/all")["data"]
        if totals["total_messages"] == site.messages and totals["credit_balance"]:
            return
        time.sleep(0.5)
    pytest.fail(f"the counters did not catch up within {timeout} s")


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    server = start_server(tmp_path_factory.mktemp("web"))
    try:
        history = events(datetime.now(UTC))
        messages = sum(1 for event in history if event["kind"] == "message")
        site = Site(server, "", messages)
        site.key = site.new_key(SCOPES)
        for offset in range(0, len(history), 500):
            response = server.ingest(history[offset : offset + 500], key=site.key)
            assert response.status_code == 200, response.text
        _wait_for_counters(site)
        yield site
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(
            f"{CHROMIUM} is missing: `python3 devtools/bootstrap.py test` installs Debian's "
            "chromium (apt-get install -y chromium)"
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page and every request it made."""

    page: Page
    requests: list[Request] = field(default_factory=list)

    def record(self, request: Request) -> None:
        self.requests.append(request)


@pytest.fixture
def tab(browser: Browser) -> Iterator[Tab]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    opened = Tab(page)
    context.on("request", opened.record)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield opened
    context.close()
    assert not errors, f"script errors on the page: {errors}"
