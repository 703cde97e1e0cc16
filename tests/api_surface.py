"""The API surface as the template declares it: the routes served by `tally.http` apps.

Functions not built on `tally.http` (a public page, its assets) take no key and
are left out of the auth and bad-input matrices.
"""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

from tally_dev import template
from tests.support import handler_module

# A handler's first import creates the process's Powertools Metrics, which reads its
# namespace from the environment then: load handlers as the test environment has it.
_HANDLER_ENVIRONMENT = {
    "POWERTOOLS_METRICS_NAMESPACE": "TallyTest",
    "POWERTOOLS_SERVICE_NAME": "tally",
}


def api_apps() -> dict[str, Any]:
    """The `tally.http` app of every function of the template that has one, by group."""
    apps = {}
    with mock.patch.dict(os.environ, _HANDLER_ENVIRONMENT):
        for route in template.load().routes:
            app = getattr(handler_module(route.handler.group), "app", None)
            if app is not None and hasattr(app, "scope") and hasattr(app, "error_style"):
                apps[route.handler.group] = app
    return apps


def api_routes(*, with_any: bool = False) -> list[Any]:
    """Every route of those apps (`ANY` catch-alls only when `with_any`)."""
    groups = api_apps()
    return [
        route
        for route in template.load().routes
        if route.handler.group in groups and (with_any or route.method != "ANY")
    ]
