"""The committed OpenAPI document (functions/web/openapi.json) is what the handlers say,
and it says everything a client needs (issue 14)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from openapi_spec_validator import validate

from tally_dev import openapi
from tally_dev import template as tpl

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def document(env: None) -> dict[str, Any]:
    """Built with the test environment: loading a handler creates its Metrics, which
    reads its namespace from the environment."""
    return openapi.build()


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def test_the_committed_document_is_the_handlers_document(document: dict[str, Any]) -> None:
    committed = openapi.OUTPUT.read_text()
    assert committed == openapi.render(document), "run `tally openapi` and commit the file"


def test_it_is_a_valid_openapi_document(document: dict[str, Any]) -> None:
    validate(json.loads(openapi.render(document)))


def test_every_api_route_of_the_template_is_documented(document: dict[str, Any]) -> None:
    documented = {(method.upper(), path) for method, path, _ in operations(document)}
    routes = {
        (route.method, route.path)
        for route in tpl.load().routes
        if route.method != "ANY" and route.path.startswith(("/v1/", "/api/", "/admin/"))
    }
    assert routes <= documented


def test_every_operation_needs_a_key_in_any_accepted_header(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert {scheme.get("name") for scheme in schemes.values()} >= {
        "X-API-KEY",
        "CB-Administration-API-Key",
    }
    assert any(scheme.get("scheme") == "bearer" for scheme in schemes.values())
    for _, path, operation in operations(document):
        # Any one of the schemes is enough: one requirement per scheme.
        assert sorted(operation["security"], key=str) == sorted(
            ({name: []} for name in schemes), key=str
        ), path
        assert "401" in operation["responses"], path


def test_one_described_tag_per_api_group(document: dict[str, Any]) -> None:
    tags = {tag["name"]: tag["description"] for tag in document["tags"]}
    assert all(tags.values())
    for _, path, operation in operations(document):
        assert len(operation["tags"]) == 1
        assert operation["tags"][0] in tags, path
    assert len(tags) == len({operation["tags"][0] for _, _, operation in operations(document)})


def _named(schema: dict[str, Any]) -> bool:
    """A named schema, or a list or map of named ones, or a plain type (CSV, counts)."""
    if "$ref" in schema:
        return True
    if schema.get("type") == "array":
        items = schema["items"]
        return "$ref" in items or all("$ref" in option for option in items.get("anyOf", []))
    if schema.get("type") == "object":
        return schema.get("additionalProperties") == {"type": "integer"}
    return schema.get("type") == "string"


def test_every_success_is_a_named_schema_with_its_fields(document: dict[str, Any]) -> None:
    for method, path, operation in operations(document):
        successes = {s: r for s, r in operation["responses"].items() if s.startswith("2")}
        assert successes, (method, path)
        for status, response in successes.items():
            if status == "204":
                assert "content" not in response
                continue
            for media, content in response["content"].items():
                assert _named(content["schema"]), (method, path, media, content["schema"])


def test_errors_use_the_groups_format_and_no_powertools_leftovers(
    document: dict[str, Any],
) -> None:
    schemas = document["components"]["schemas"]
    assert not {"HTTPValidationError", "ValidationError", "ResponseValidationError"} & set(schemas)
    formats = {"Problem", "DashboardError", "UsageError"}
    for _, path, operation in operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                (content,) = response["content"].values()
                assert content["schema"]["$ref"].rsplit("/", 1)[1] in formats, (path, status)


def test_every_parameter_and_body_states_its_constraints(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    assert '"ge"' not in text
    assert '"le"' not in text  # pydantic constraints that did not become JSON Schema
    by_route = {(m, p): o for m, p, o in operations(document)}
    for path in (
        "/admin/stats/messages/sent-total",
        "/admin/stats/messages/sent-per-day",
        "/admin/stats/dialogs/created-total",
        "/admin/stats/dialogs/created-per-day",
    ):
        names = {p["name"] for p in by_route[("get", path)]["parameters"]}
        assert {"start_date", "end_date"} <= names, path
    per_day = by_route[("get", "/admin/stats/dialogs/created-per-day")]
    limit = next(p for p in per_day["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 1000)
    assert "Link" in per_day["responses"]["200"]["headers"]
    top = by_route[("get", "/api/analytics/top-campaigns")]
    limit = next(p for p in top["parameters"] if p["name"] == "limit")["schema"]
    assert (limit["type"], limit["minimum"], limit["maximum"]) == ("integer", 1, 100)
    for method, path in (
        ("post", "/api/v1/connect-hub/{channel}/stats"),
        ("post", "/v1/events"),
        ("post", "/v1/keys"),
        ("patch", "/v1/keys/{key_id}"),
    ):
        body = by_route[(method, path)]["requestBody"]["content"]["application/json"]["schema"]
        assert body["$ref"].startswith("#/components/schemas/"), path
    channel = next(
        p
        for p in by_route[("post", "/api/v1/connect-hub/{channel}/stats")]["parameters"]
        if p["name"] == "channel"
    )
    assert set(channel["schema"]["enum"]) == {"sms", "mms", "whatsapp", "chat"}


def test_the_account_header_is_documented_everywhere(document: dict[str, Any]) -> None:
    for _, path, operation in operations(document):
        headers = [p["name"] for p in operation["parameters"] if p["in"] == "header"]
        assert headers == ["x-account-id"], path
