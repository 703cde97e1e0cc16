"""The web function (functions/web/app.py): the page, its assets, the OpenAPI document and
Swagger UI, served without a key; and the page's colours against WCAG AA."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.support import ROOT, FakeContext, load_event, proxy_event

STATIC = ROOT / "functions" / "web" / "static"
STYLE = ROOT / "web" / "src" / "style.css"


@pytest.fixture
def web_dir(tmp_path: Path) -> Path:
    """A copy of the function's code (so a test can add or remove openapi.json)."""
    target = tmp_path / "web"
    shutil.copytree(ROOT / "functions" / "web", target)
    (target / "openapi.json").unlink(missing_ok=True)
    return target


def load(directory: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"web_app_{id(directory)}", directory / "app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def respond(directory: Path, event: dict[str, Any]) -> dict[str, Any]:
    """The handler's response, its headers by lower-case name."""
    response: dict[str, Any] = load(directory).lambda_handler(event, FakeContext())
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    response["headers"] = headers
    return response


def get(
    directory: Path, path: str, *, resource: str | None = None, **options: Any
) -> dict[str, Any]:
    return respond(directory, proxy_event("GET", path, resource=resource or path, **options))


def built(suffix: str) -> str:
    (name,) = [path.name for path in STATIC.glob(f"app-*{suffix}")]
    return name


def test_page_needs_no_key_and_locks_itself_to_its_origin(web_dir: Path) -> None:
    response = get(web_dir, "/")
    assert response["statusCode"] == 200
    headers = response["headers"]
    assert headers["content-type"].startswith("text/html")
    assert headers["cache-control"] == "no-cache"
    policy = headers["content-security-policy"]
    for directive in ("default-src 'none'", "script-src 'self'", "connect-src 'self'"):
        assert directive in policy
    assert headers["referrer-policy"] == "no-referrer"
    # Relative references keep working under a stage prefix (/prod/).
    assert f'src="assets/{built(".js")}"' in response["body"]
    assert f'href="assets/{built(".css")}"' in response["body"]


@pytest.mark.parametrize("suffix", [".js", ".css"])
def test_hashed_assets_are_immutable(web_dir: Path, suffix: str) -> None:
    name = built(suffix)
    response = get(
        web_dir, f"/assets/{name}", resource="/assets/{file}", path_parameters={"file": name}
    )
    assert response["statusCode"] == 200
    assert response["headers"]["cache-control"] == "public, max-age=31536000, immutable"
    assert response["body"] == (STATIC / name).read_text()


@pytest.mark.parametrize(
    "name", ["index.html", "..", "../app.py", "%2e%2e%2fapp.py", "nothing.js", "app.py"]
)
def test_only_built_and_swagger_assets_are_served(web_dir: Path, name: str) -> None:
    response = get(
        web_dir, f"/assets/{name}", resource="/assets/{file}", path_parameters={"file": name}
    )
    assert response["statusCode"] == 404
    assert json.loads(response["body"])["status"] == 404


def test_page_addressed_without_its_trailing_slash_redirects(web_dir: Path) -> None:
    # https://API/prod opens the page; relative asset URLs need https://API/prod/.
    assert get(web_dir, "/")["statusCode"] == 200  # requestContext.path is /prod/
    event = proxy_event("GET", "/")
    event["requestContext"]["path"] = "/prod"
    redirect = respond(web_dir, event)
    assert (redirect["statusCode"], redirect["headers"]["location"]) == (301, "prod/")


def test_openapi_document_is_404_until_committed(web_dir: Path) -> None:
    assert get(web_dir, "/openapi.json")["statusCode"] == 404
    assert get(web_dir, "/docs")["statusCode"] == 404


def test_openapi_document_is_served_as_committed(web_dir: Path) -> None:
    document = '{"openapi": "3.1.0", "info": {"title": "Tally", "version": "1"}, "paths": {}}\n'
    (web_dir / "openapi.json").write_text(document)
    response = get(web_dir, "/openapi.json")
    assert response["statusCode"] == 200
    assert response["headers"]["content-type"] == "application/json"
    assert response["body"] == document


def test_swagger_ui_uses_bundled_assets_and_its_json_link_is_json(web_dir: Path) -> None:
    (web_dir / "openapi.json").write_text(
        json.dumps({"openapi": "3.1.0", "info": {"title": "</script>", "version": "1"}})
    )
    page = get(web_dir, "/docs")
    assert page["statusCode"] == 200
    assert page["headers"]["content-type"].startswith("text/html")
    html = page["body"]
    assert "src='assets/swagger-ui-bundle.min.js'" in html
    assert "href='assets/swagger-ui.min.css'" in html
    assert not re.search(r"(src|href)=['\"](https?:)?//", html), "an asset from another origin"
    assert '</script>"' not in html, "the document must not close the script element"
    for name in ("swagger-ui-bundle.min.js", "swagger-ui.min.css"):
        asset = get(
            web_dir, f"/assets/{name}", resource="/assets/{file}", path_parameters={"file": name}
        )
        assert asset["statusCode"] == 200
    spec = get(web_dir, "/docs", query={"format": "json"})
    assert spec["headers"]["content-type"] == "application/json"
    assert json.loads(spec["body"])["servers"] == [{"url": "."}]
    event = proxy_event("GET", "/docs/", resource="/docs")
    event["requestContext"]["path"] = "/prod/docs/"
    redirect = respond(web_dir, event)
    assert (redirect["statusCode"], redirect["headers"]["location"]) == (301, "../docs")


@pytest.mark.parametrize(
    ("name", "status", "content_type"),
    [
        ("web_page.json", 200, "text/html; charset=utf-8"),
        ("web_asset.json", 200, "text/css; charset=utf-8"),
        ("web_openapi.json", 404, "application/problem+json"),
        ("web_docs.json", 404, "application/problem+json"),
    ],
)
def test_sample_events(web_dir: Path, name: str, status: int, content_type: str) -> None:
    response = respond(web_dir, load_event(name))
    assert response["statusCode"] == status
    assert response["headers"]["content-type"] == content_type


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(first: str, second: str) -> float:
    high, low = sorted((_luminance(first), _luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_page_colours_pass_wcag_aa() -> None:
    colours = dict(re.findall(r"--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})", STYLE.read_text()))
    series = [name for name in colours if name.startswith("series-")]
    assert len(series) >= 4
    # Text (4.5:1) on the page and on panels; series are drawn and used as legend text.
    for name in ["text", "muted", "accent", "bad", *series]:
        for background in ("bg", "panel"):
            ratio = contrast(colours[name], colours[background])
            assert ratio >= 4.5, f"--{name} on --{background}: {ratio:.2f}:1"
    assert contrast("#ffffff", colours["accent"]) >= 4.5  # selected buttons


def test_contrast_formula() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") < 4.5 < contrast("#767676", "#ffffff")
