"""The service's OpenAPI document: every API function's app document, merged into one.

`tally openapi` writes it to `functions/web/openapi.json`, the file the web
function serves on the deployed API; `tally openapi --check` exits non-zero
when the committed file differs from what the handlers document (CI runs the
same comparison as a test). `tally serve` builds it the same way.

Each API function (one per group of routes) is a `tally.http` app; its
document already carries its routes, parameters, bodies, responses, errors and
security. Merging adds one tag per group, described by the handler module's
docstring. Functions that are not `tally.http` apps (public pages) have no
place in it.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tally_dev.functions import Functions
    from tally_dev.template import Template

OUTPUT = Path(__file__).resolve().parents[2] / "functions" / "web" / "openapi.json"
TITLE = "Tally"
DESCRIPTION = (
    "Statistics for messaging platforms. Every route needs an API key, sent as "
    "`Authorization: Bearer <key>`, `X-API-KEY` or `CB-Administration-API-Key`."
)


def _version() -> str:
    try:
        return metadata.version("tally")
    except metadata.PackageNotFoundError:
        return "0"


def build(template: Template | None = None, functions: Functions | None = None) -> dict[str, Any]:
    """The merged document of every API function of `template`."""
    # Imported here: the template reader needs the `local` extra (PyYAML), and the CLI
    # registers this command in installs without it (`tally keys create`).
    from tally_dev import template as tpl
    from tally_dev.functions import Functions

    template = template or tpl.load()
    functions = functions or Functions()
    version = _version()
    merged: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": version, "description": DESCRIPTION},
        "servers": [{"url": "/"}],
        "tags": [],
        "paths": {},
        "components": {},
    }
    handlers = {route.handler.function: route.handler for route in template.routes}
    for handler in sorted(handlers.values(), key=lambda handler: handler.group):
        module = functions.pool(handler).module()
        app = getattr(module, "app", None)
        if app is None or not hasattr(app, "scope"):
            continue
        document = json.loads(app.get_openapi_json_schema(title=TITLE, version=version))
        merged["openapi"] = document.get("openapi", merged["openapi"])
        merged["tags"].append(
            {"name": handler.group, "description": (module.__doc__ or "").strip().split("\n")[0]}
        )
        for path, operations in document.get("paths", {}).items():
            for operation in operations.values():
                operation["tags"] = [handler.group]
            merged["paths"].setdefault(path, {}).update(operations)
        for section, entries in document.get("components", {}).items():
            merged["components"].setdefault(section, {}).update(entries)
    merged["paths"] = dict(sorted(merged["paths"].items()))
    for section, entries in merged["components"].items():
        merged["components"][section] = dict(sorted(entries.items()))
    return merged


def render(document: dict[str, Any]) -> str:
    """The committed form: indented, one trailing newline (stable diffs)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _run(args: argparse.Namespace) -> int:
    text = render(build())
    path: Path = args.output
    if args.check:
        if path.is_file() and path.read_text() == text:
            return 0
        print(f"{path} is out of date: run `tally openapi` and commit it", file=sys.stderr)
        return 1
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    print(f"wrote {path}")
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "openapi",
        help="write the OpenAPI document of every route (functions/web/openapi.json)",
        description="Build the OpenAPI document from the handlers and write or check it.",
    )
    parser.add_argument("--output", type=Path, default=OUTPUT, help=f"default: {OUTPUT}")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from the handlers"
    )
    parser.set_defaults(run=_run)
