"""Every read endpoint of template.yaml, called per scope through its handler, metered.

The calls are keyed by the template's (method, path); a route the bench has no
call for, or whose handler module does not exist yet, is reported, not skipped
silently.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench.harness import Backend, api_event
from bench.meter import Usage
from tally.timeutil import now
from tally_dev import template

WRITE_GROUPS = frozenset({"ingest", "keys", "counters"})
# Every group's key scopes; stats:read and billing:read cover all read routes.
READ_SCOPES = ("stats:read", "billing:read")


@dataclass(frozen=True)
class Call:
    """One endpoint and scope: the request the bench sends."""

    route: template.Route
    label: str
    path: str
    query: dict[str, str] | None = None
    body: dict[str, Any] | None = None
    path_parameters: dict[str, str] | None = None

    @property
    def group(self) -> str:
        return self.route.handler.group

    def event(self, key: str) -> dict[str, Any]:
        """The proxy event API Gateway sends for this call with API key `key`."""
        return api_event(
            self.route,
            self.path,
            key=key,
            query=self.query,
            body=self.body,
            path_parameters=self.path_parameters,
        )

    @property
    def method(self) -> str:
        return self.route.method.upper()

    @property
    def resource(self) -> str:
        return self.route.path


def _unix(days: int) -> str:
    return str(int((now() - timedelta(days=days)).timestamp()))


def _days_back(days: int) -> dict[str, str]:
    """startDate `days` UTC days back and endDate today (whole days: days + 1 of them)."""
    today = now().date()
    return {"startDate": (today - timedelta(days=days)).isoformat(), "endDate": today.isoformat()}


def _calls_for(method: str, resource: str) -> list[tuple[str, dict[str, Any]]]:
    """(scope label, request parts) for one template route."""
    if resource == "/v1/stats":
        return [
            (f"scope={s}", {"query": {"scope": s}}) for s in ("24h", "1w", "1month", "1year", "all")
        ]
    if resource == "/v1/stats/{scope}":
        return [("path 1w", {"path": "/v1/stats/1w", "path_parameters": {"scope": "1w"}})]
    if resource == "/v1/stats/messages":
        return [("default", {})]
    if resource.startswith("/admin/stats/"):
        return [
            ("all time", {}),
            ("last 30 days", {"query": {"start_date": _unix(30)}}),
        ]
    if resource == "/api/v1/connect-hub/{channel}/stats":
        types = ("today", "last24h", "lastmonth", "hourly", "daily", "weekly", "monthly", "yearly")
        calls: list[tuple[str, dict[str, Any]]] = [
            (
                f"whatsapp {kind}",
                {
                    "path": "/api/v1/connect-hub/whatsapp/stats",
                    "path_parameters": {"channel": "whatsapp"},
                    "body": {"type": kind},
                },
            )
            for kind in types
        ]
        calls.append(
            (
                "sms daily Asia/Kolkata",
                {
                    "path": "/api/v1/connect-hub/sms/stats",
                    "path_parameters": {"channel": "sms"},
                    "body": {"type": "daily", "timezone": "Asia/Kolkata"},
                },
            )
        )
        return calls
    if resource == "/api/analytics/trends":
        return [
            ("messages 30d", {}),
            ("campaigns 30d", {"query": {"metric": "campaigns"}}),
            ("messages 366 days (the cap)", {"query": _days_back(365)}),
        ]
    if resource == "/api/analytics/best-send-times":
        return [("default (90 days)", {}), ("1 year", {"query": _days_back(365)})]
    if resource == "/api/analytics/export":
        return [("campaigns csv", {"query": {"type": "campaigns"}})]
    if resource.startswith(("/api/analytics/", "/api/billing/", "/api/credits/")):
        return [("default", {})]
    return []


@dataclass
class Discovery:
    calls: list[Call] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def discover() -> Discovery:
    """The read routes of template.yaml whose handler module exists."""
    found = Discovery()
    for route in template.load().routes:
        group = route.handler.group
        if group in WRITE_GROUPS or route.method.upper() == "ANY":
            # ANY routes catch wrong methods (405); they answer no statistics.
            continue
        if not route.handler.path.exists():
            found.notes.append(
                f"{route.method} {route.path}: {route.handler.path} missing, skipped"
            )
            continue
        specs = _calls_for(route.method, route.path)
        if not specs:
            found.notes.append(f"{route.method} {route.path}: no benchmark call defined")
        for label, parts in specs:
            found.calls.append(
                Call(
                    route=route,
                    label=label,
                    path=parts.get("path", route.path),
                    query=parts.get("query"),
                    body=parts.get("body"),
                    path_parameters=parts.get("path_parameters"),
                )
            )
    return found


@dataclass
class Measurement:
    call: Call
    status: int
    usage: Usage
    median_ms: float
    p95_ms: float
    varied: bool  # requests or items read differed between repeats


def _p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(bench: Backend, call: Call, key: str, repeats: int) -> Measurement:
    """Median and p95 latency over `repeats` warm calls (one warm-up call first, which also
    caches the API key as a warm container does), and the DynamoDB use of one call."""
    event = call.event(key)
    bench.call(call.group, dict(event))
    timings: list[float] = []
    usages: list[Usage] = []
    status = 0
    for _ in range(repeats):
        started = time.perf_counter()
        response, usage = bench.call(call.group, dict(event))
        timings.append((time.perf_counter() - started) * 1000)
        usages.append(usage)
        status = int(response["statusCode"])
    shapes = {(u.shape(), u.items_read) for u in usages}
    return Measurement(
        call=call,
        status=status,
        usage=usages[-1],
        median_ms=statistics.median(timings),
        p95_ms=_p95(timings),
        varied=len(shapes) > 1,
    )
