"""Service errors and the one place that turns any exception into an HTTP response.

Three body formats, chosen per endpoint group:
  problem   - RFC 9457 problem details (`application/problem+json`), the default
  dashboard - `{"ok": false, "error": {"code", "message"}}` (the dashboard seed)
  usage     - `{"title", "status", ...}` (the usage seed)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

Style = Literal["problem", "dashboard", "usage"]
PROBLEM_JSON = "application/problem+json"


@dataclass
class FieldError:
    field: str
    reason: str
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {} if self.index is None else {"index": self.index}
        body.update(field=self.field, reason=self.reason)
        return body


@dataclass
class TallyError(Exception):
    """An error the client can act on; `status` picks the HTTP status."""

    status: int
    detail: str
    errors: Sequence[FieldError] = field(default_factory=list)
    headers: Mapping[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


def field_name(location: Sequence[Any], default: str = "body") -> str:
    """A validation error's location as one name: `price.amount`, `types[][1]`,
    `available_credit_products[0].credits_amount`."""
    name = ""
    for part in location:
        if isinstance(part, int):
            name += f"[{part}]"
        else:
            name += f".{part}" if name else str(part)
    return name or default


def field_errors(
    errors: Iterable[Mapping[str, Any]],
    *,
    skip: int = 0,
    index: int | None = None,
    default: str = "body",
) -> list[FieldError]:
    """pydantic's (and Powertools') error dicts as FieldErrors: the one converter.

    `skip` drops leading location parts that are not the client's field names
    (Powertools' `query`/`body`, a discriminated union's tag); an error left
    without a location is about `default`.
    """
    return [
        FieldError(
            field_name(tuple(error.get("loc", ()))[skip:], default),
            str(error.get("msg", "invalid")).removeprefix("Value error, "),
            index,
        )
        for error in errors
    ]


def invalid(status: int, errors: Sequence[FieldError]) -> TallyError:
    """A 4xx listing every bad field, its detail naming each field and reason."""
    detail = "; ".join(f"{error.field}: {error.reason}" for error in errors) or "invalid request"
    return TallyError(status, detail, errors)


def bad_request(name: str, reason: str) -> TallyError:
    """400 naming the parameter and the reason."""
    return invalid(400, [FieldError(name, reason)])


def unprocessable(name: str, reason: str) -> TallyError:
    """422: the body is well-formed but `name` holds a value the service cannot take."""
    return invalid(422, [FieldError(name, reason)])


def unauthorized(detail: str = "a valid API key is required") -> TallyError:
    return TallyError(401, detail, headers={"WWW-Authenticate": 'Bearer realm="tally"'})


def forbidden(scope: str) -> TallyError:
    return TallyError(403, f"the API key lacks the scope {scope!r}")


def not_found(detail: str) -> TallyError:
    return TallyError(404, detail)


def unavailable(
    detail: str = "the service is busy; retry later", retry_after: int = 1
) -> TallyError:
    """503 with Retry-After: DynamoDB throttled or failed after the SDK's retries."""
    return TallyError(503, detail, headers={"Retry-After": str(retry_after)})


def title(status: int) -> str:
    return HTTPStatus(status).phrase


def _code(status: int) -> str:
    return HTTPStatus(status).phrase.lower().replace(" ", "_").replace("-", "_")


def render(
    style: Style, status: int, detail: str, errors: Sequence[FieldError] = ()
) -> tuple[str, dict[str, Any]]:
    """(content type, body) of an error in `style`."""
    if style == "dashboard":
        return "application/json", {
            "ok": False,
            "error": {"code": _code(status), "message": detail},
        }
    body: dict[str, Any] = {"title": title(status), "status": status, "detail": detail}
    if errors:
        body["errors"] = [error.as_dict() for error in errors]
    if style == "usage":
        return "application/json", body
    return PROBLEM_JSON, {"type": "about:blank", **body}


def render_json(
    style: Style, status: int, detail: str, errors: Sequence[FieldError] = ()
) -> tuple[str, str]:
    content_type, body = render(style, status, detail, errors)
    return content_type, json.dumps(body)
