"""`python -m bench.page [--runs 5] [--screenshots docs]`: the dashboard page's weight and speed.

Starts `tally serve --demo` (the demo account: about four months of traffic), opens the link
it prints in Debian's Chromium (driven by Playwright; no browser download) and measures, with
an empty cache each run:

- bytes transferred on first load, per response: as served locally, and gzip-compressed
  (what API Gateway sends when the API enables compression);
- the time from navigation to the first chart drawn, and to every chart of the first view;
- the same page opened again in the same tab (built assets come from the browser cache).

Writes bench/page-results.md; `--screenshots DIR` also saves a PNG of every view.
"""

from __future__ import annotations

import argparse
import gzip
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from playwright.sync_api import Browser, Page, Response, sync_playwright

from tally_dev.engine import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "page-results.md"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_TIMEOUT = 900
VIEWS = ("overview", "channels", "analytics", "chat", "usage", "billing")
# Set before any script of the page runs: when the first chart's canvas is in the
# document and painted (the frame after its insertion), and when the first view is done.
TIMING_PROBE = """
window.__tally = { firstChart: null };
new MutationObserver((_, observer) => {
  if (document.querySelector('[data-chart] canvas')) {
    observer.disconnect();
    requestAnimationFrame(() => { window.__tally.firstChart = performance.now(); });
  }
}).observe(document, { childList: true, subtree: true });
"""
# How long the first view's API call took, from the browser's Resource Timing.
API_TIME = """() => performance.getEntriesByType('resource')
  .filter((entry) => entry.name.includes('/v1/stats/'))
  .reduce((total, entry) => total + entry.duration, 0)"""
VIEW_DONE = """(view) => {
  const panel = document.getElementById(view);
  return !panel.hidden && !panel.hasAttribute('aria-busy')
    && (panel.querySelector('[data-chart] canvas') || panel.querySelector('.error:not(:empty)'));
}"""


@dataclass
class Transfer:
    url: str
    kind: str
    body: int
    headers: int
    gzipped: int


@dataclass
class Load:
    first_chart_ms: float
    view_done_ms: float
    api_ms: float
    transfers: list[Transfer] = field(default_factory=list)

    @property
    def fetched(self) -> int:
        """Responses that came over the network (not from the browser's cache)."""
        return sum(1 for t in self.transfers if t.headers)

    @property
    def bytes(self) -> int:
        return sum(t.body + t.headers for t in self.transfers)

    @property
    def gzipped(self) -> int:
        return sum(t.gzipped + t.headers for t in self.transfers)


def start_demo(port: int) -> tuple[subprocess.Popen[str], str]:
    """`tally serve --demo` on `port`, and the dashboard link it prints once the data is in."""
    started = time.monotonic()
    process = subprocess.Popen(  # noqa: S603 - this interpreter, a fixed command
        [sys.executable, "-m", "tally_dev.cli", "serve", "--demo", "--port", str(port)],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k != "TALLY_NOW"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        link = _read_link(process.stdout, time.monotonic() + DEMO_TIMEOUT)
    except BaseException:  # Ctrl-C while the demo loads: stop the server too
        stop(process)
        raise
    if link is None:
        stop(process)
        raise SystemExit("tally serve --demo printed no dashboard link")
    print(f"demo loaded in {time.monotonic() - started:.0f} s", flush=True)
    # Keep reading, so the server never blocks on a full pipe.
    threading.Thread(target=process.stdout.read if process.stdout else None, daemon=True).start()
    return process, link


def _read_link(stream: IO[str] | None, deadline: float) -> str | None:
    assert stream is not None
    for line in stream:
        found = re.search(r"dashboard: (http://\S+/#key=\S+)", line)
        if found:
            return found.group(1)
        if time.monotonic() > deadline:
            return None
    return None


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _kind(response: Response) -> str:
    path = response.url.split("?", 1)[0]
    if path.endswith("/"):
        return "page"
    if "/assets/" in path:
        return "asset"
    return "API"


def _transfer(response: Response) -> Transfer:
    """What the response cost on the wire (nothing when the browser's cache answered)."""
    sizes = response.request.sizes()
    # Chromium reports a cache hit as headers of n bytes and a body of -n.
    if sizes["responseBodySize"] + sizes["responseHeadersSize"] <= 0:
        return Transfer(url=response.url, kind=_kind(response), body=0, headers=0, gzipped=0)
    return Transfer(
        url=response.url,
        kind=_kind(response),
        body=sizes["responseBodySize"],
        headers=sizes["responseHeadersSize"],
        gzipped=len(gzip.compress(response.body(), 6)),
    )


def measure(page: Page, url: str) -> Load:
    """Open `url` and wait for the first view's charts; what it took."""
    responses: list[Response] = []

    def record(response: Response) -> None:
        responses.append(response)

    page.on("response", record)
    page.goto(url)
    page.wait_for_function("() => window.__tally.firstChart !== null", timeout=120_000)
    page.wait_for_function(VIEW_DONE, arg="overview", timeout=120_000)
    done = page.evaluate("performance.now()")
    page.wait_for_load_state("networkidle")
    page.remove_listener("response", record)
    return Load(
        first_chart_ms=page.evaluate("window.__tally.firstChart"),
        view_done_ms=done,
        api_ms=page.evaluate(API_TIME),
        transfers=[_transfer(response) for response in responses],
    )


def runs(browser: Browser, link: str, count: int) -> tuple[list[Load], list[Load]]:
    """`count` first loads with an empty cache, each followed by a second visit."""
    cold: list[Load] = []
    warm: list[Load] = []
    base = link.split("#", 1)[0]
    for _ in range(count):
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.add_init_script(TIMING_PROBE)
        page = context.new_page()
        cold.append(measure(page, link))
        # The key is in sessionStorage now; the built assets are in the browser's cache.
        warm.append(measure(page, base))
        context.close()
    return cold, warm


def screenshots(browser: Browser, link: str, directory: Path) -> list[Path]:
    # The demo's traffic is Algerian: the channel view opens in the browser's zone.
    context = browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Africa/Algiers"
    )
    page = context.new_page()
    page.goto(link)
    saved = []
    for view in VIEWS:
        page.click(f"#tab-{view}")
        page.wait_for_function(VIEW_DONE, arg=view, timeout=120_000)
        page.wait_for_timeout(300)
        path = directory / f"dashboard-{view}.png"
        page.screenshot(path=str(path), full_page=True)
        saved.append(path)
    context.close()
    return saved


def _median(values: list[float]) -> str:
    return f"{statistics.median(values):,.0f} ms (min {min(values):,.0f}, max {max(values):,.0f})"


def report(cold: list[Load], warm: list[Load], chromium: str) -> str:
    first = cold[0]
    lines = [
        "# Dashboard page: weight and speed",
        "",
        f"Generated by `.venv/bin/python -m bench.page` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC:"
        f" `tally serve --demo` (moto) and {chromium} (headless, {platform.machine()}), "
        f"{len(cold)} runs, each in a fresh browser context (empty cache). Times are from "
        "navigation start; the machine is shared, so they vary from run to run.",
        "",
        "| measure | first load (empty cache) | opened again (assets cached) |",
        "|---|---|---|",
        f"| time to the first chart | {_median([c.first_chart_ms for c in cold])} "
        f"| {_median([w.first_chart_ms for w in warm])} |",
        f"| time to every chart of the first view | {_median([c.view_done_ms for c in cold])} "
        f"| {_median([w.view_done_ms for w in warm])} |",
        f"| of which the API call (`GET /v1/stats/1month`) | {_median([c.api_ms for c in cold])} "
        f"| {_median([w.api_ms for w in warm])} |",
        "| the page's own share (first chart minus the API call) | "
        f"{_median([c.first_chart_ms - c.api_ms for c in cold])} "
        f"| {_median([w.first_chart_ms - w.api_ms for w in warm])} |",
        f"| bytes transferred, as served locally | {first.bytes:,} | {warm[0].bytes:,} |",
        f"| bytes transferred, gzip (API Gateway compression) | {first.gzipped:,} "
        f"| {warm[0].gzipped:,} |",
        f"| responses over the network / from the cache | {first.fetched} / "
        f"{len(first.transfers) - first.fetched} | {warm[0].fetched} / "
        f"{len(warm[0].transfers) - warm[0].fetched} |",
        "",
        "First load, response by response (body + headers; gzip = the body gzip-compressed):",
        "",
        "| response | kind | body bytes | header bytes | gzip body bytes |",
        "|---|---|---|---|---|",
    ]
    for transfer in first.transfers:
        name = re.sub(r"^https?://[^/]+", "", transfer.url) or "/"
        lines.append(
            f"| `{name}` | {transfer.kind} | {transfer.body:,} | {transfer.headers:,} "
            f"| {transfer.gzipped:,} |"
        )
    lines += [
        "",
        "A second visit fetches only the page and the API: the built assets carry a content hash",
        "in their name and are served `Cache-Control: immutable` (docs/dashboard.md).",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="first loads to measure (default 5)")
    parser.add_argument("--screenshots", type=Path, help="save a PNG of every view here")
    args = parser.parse_args()
    process, link = start_demo(free_port())
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            cold, warm = runs(browser, link, args.runs)
            text = report(cold, warm, f"Chromium {browser.version}")
            if args.screenshots:
                for path in screenshots(browser, link, args.screenshots):
                    print(f"saved {path}")
            browser.close()
    finally:
        stop(process)
    RESULTS.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
