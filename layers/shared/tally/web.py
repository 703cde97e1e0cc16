"""What the web function serves: the dashboard page, its built assets, the OpenAPI document
and Swagger UI (docs/dashboard.md). Public: none of it needs a key or touches DynamoDB.

Files are read once per build (a rebuild under a running `tally serve` is picked up: the
build replaces the directory, which changes its mtime). Built assets carry a content hash in their name, so
browsers may keep them for a year; the page and the document are revalidated each time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PAGE = "index.html"
# The built files are of these types only; a fixed map keeps the answer independent of
# the host's mime.types (which `mimetypes` reads).
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
}
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
DAY = "public, max-age=86400"
SWAGGER_ASSETS = ("swagger-ui-bundle.min.js", "swagger-ui.min.css")
# The page loads only its own files and calls only its own origin.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


@dataclass(frozen=True)
class File:
    body: str
    content_type: str
    cache_control: str


def _content_type(path: Path) -> str:
    return CONTENT_TYPES.get(path.suffix, "application/octet-stream")


def _swagger_dir() -> Path:
    from aws_lambda_powertools.event_handler.openapi import swagger_ui

    return Path(swagger_ui.__file__).parent


def _files(static: Path) -> dict[str, File]:
    return _read(static, static.stat().st_mtime_ns)


@cache
def _read(static: Path, _stamp: int) -> dict[str, File]:
    """Every servable file by name: the build's output (hashed names are immutable) and
    Swagger UI's two assets. Only these names are served, so no path can leave them."""
    files = {}
    for path in sorted(static.iterdir()):
        if path.is_file():
            hashed = path.name != PAGE and path.suffix in (".js", ".css")
            files[path.name] = File(
                path.read_text(), _content_type(path), IMMUTABLE if hashed else REVALIDATE
            )
    for name in SWAGGER_ASSETS:
        path = _swagger_dir() / name
        files[name] = File(path.read_text(), _content_type(path), DAY)
    return files


def page(static: Path) -> File:
    return _files(static)[PAGE]


def asset(static: Path, name: str) -> File | None:
    """A built asset or a Swagger UI asset; None for any other name (the page included)."""
    return None if name == PAGE else _files(static).get(name)


def openapi_document(path: Path) -> str | None:
    """The committed OpenAPI document, as committed; None when the file is absent."""
    try:
        return path.read_text()
    except FileNotFoundError:
        return None


def docs_spec(document: str) -> str:
    """The document as Swagger UI gets it: its server is wherever the API is served from
    (relative to /docs, so "Try it out" works under a stage prefix and locally alike), and
    safe to place inside a <script> element."""
    spec = json.loads(document)
    spec["servers"] = [{"url": "."}]
    return json.dumps(spec).replace("</", "<\\/")


def swagger_page(spec: str) -> str:
    """Swagger UI's page (Powertools' template) with assets from this origin, no CDN."""
    from aws_lambda_powertools.event_handler.openapi.swagger_ui import generate_swagger_html

    # Relative asset URLs resolve under any stage prefix; the key typed into "Authorize"
    # is not persisted (Swagger UI would keep it in localStorage).
    return generate_swagger_html(
        spec,
        swagger_js="assets/swagger-ui-bundle.min.js",
        swagger_css="assets/swagger-ui.min.css",
        swagger_base_url="assets",
        oauth2_config=None,
        persist_authorization=False,
    )


def canonical_location(browser_path: str, *, directory: bool) -> str | None:
    """A relative redirect when the browser's path would break relative URLs: the page
    must be addressed as a directory (`/prod/`), /docs not (`/prod/docs`). API Gateway
    routes `/prod` to `/` and `/prod/docs/` to `/docs`; `browser_path` is the path the
    browser asked for (requestContext.path)."""
    if directory and not browser_path.endswith("/"):
        return browser_path.rsplit("/", 1)[-1] + "/"
    if not directory and browser_path.endswith("/") and browser_path.strip("/"):
        return "../" + browser_path.rstrip("/").rsplit("/", 1)[-1]
    return None
