"""The REST resolver of every API app, and the OpenAPI document it gives of its routes.

Powertools documents the success and a 422 on every operation; this service
answers parameter problems with 400 (422 is for bodies only), every route can
answer 401/403/503 in its group's error format and needs a key, and some
routes parse their body or parameters in the layer: `Resolver` documents all
of that, so the document says what the service really does.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig
from pydantic import BaseModel

from tally import auth
from tally.errors import PROBLEM_JSON, Style

_ERROR_SCHEMAS: dict[Style, tuple[str, str, dict[str, Any]]] = {
    "problem": (
        PROBLEM_JSON,
        "Problem",
        {
            "type": "object",
            "description": "RFC 9457 problem details",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
    ),
    "dashboard": (
        "application/json",
        "DashboardError",
        {
            "type": "object",
            "required": ["ok", "error"],
            "properties": {
                "ok": {"const": False},
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    ),
    "usage": (
        "application/json",
        "UsageError",
        {
            "type": "object",
            "required": ["title", "status"],
            "properties": {
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string"},
                "errors": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
            },
        },
    ),
}
_FIELD_ERROR_SCHEMA = {
    "type": "object",
    "description": "One invalid field: its name and why (and, on ingest, the event's index)",
    "required": ["field", "reason"],
    "properties": {
        "index": {"type": "integer", "minimum": 0},
        "field": {"type": "string"},
        "reason": {"type": "string"},
    },
}
# Powertools' own error schemas: this service answers every error through `error_for`.
_POWERTOOLS_SCHEMAS = ("HTTPValidationError", "ValidationError", "ResponseValidationError")
# Statuses any operation can answer: a bad parameter or x-account-id, the key
# checks, a throttled or failed DynamoDB call.
_COMMON_ERRORS = {
    400: "A parameter is invalid",
    401: "Missing, unknown or revoked API key",
    403: "The API key lacks the route's scope",
    500: "Internal error (no details are exposed)",
    503: "DynamoDB is throttling; retry after Retry-After",
}
# One scheme per header that carries a key (auth.presented_secret reads all three).
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearer": {"type": "http", "scheme": "bearer", "description": "Authorization: Bearer <key>"},
    "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-KEY"},
    "adminApiKey": {"type": "apiKey", "in": "header", "name": "CB-Administration-API-Key"},
}
_ACCOUNT_HEADER = {
    "name": "x-account-id",
    "in": "header",
    "required": False,
    "description": "An admin key acts on this account; any other key must name its own",
    "schema": {"type": "string", "pattern": auth.ACCOUNT_PATTERN.pattern},
}


class Resolver(APIGatewayRestResolver):
    """Powertools' resolver for one API group: its key scope, its error style, the
    caller of the current request, and an OpenAPI document of what it really does."""

    def __init__(
        self, style: Style, scope: str, strip_prefixes: list[str] | None, cors: CORSConfig
    ) -> None:
        super().__init__(
            enable_validation=True,
            strip_prefixes=strip_prefixes,  # type: ignore[arg-type]
            cors=cors,
        )
        self.cors = cors
        self.error_style: Style = style
        self.scope = scope
        self._bodies: dict[tuple[str, str], tuple[type[BaseModel], int]] = {}
        self._parameters: dict[str, dict[str, Any]] = {}
        self._queries: dict[str, tuple[type[BaseModel], Collection[str]]] = {}

    @property
    def principal(self) -> auth.Principal:
        """The authenticated caller of the current request (set by `lambda_handler`)."""
        principal: auth.Principal = self.context["principal"]
        return principal

    def document_body(
        self, method: str, path: str, model: type[BaseModel], invalid_status: int = 422
    ) -> None:
        """Document the JSON body of a route whose handler parses the body itself, and
        the status it answers to an invalid field."""
        self._bodies[(method.lower(), path)] = (model, invalid_status)

    def document_parameter(self, name: str, schema: dict[str, Any]) -> None:
        """Document the values a parameter takes (the layer parses it and refuses the others)."""
        self._parameters[name] = schema

    def document_query(self, path: str, model: type[BaseModel], names: Collection[str]) -> None:
        """Document the query parameters `names` of a route that parses them with `model`."""
        self._queries[path] = (model, names)

    def get_openapi_json_schema(self, **options: Any) -> str:
        document = json.loads(super().get_openapi_json_schema(**options))
        content_type, error_name, error_schema = _ERROR_SCHEMAS[self.error_style]
        components = document.setdefault("components", {})
        definitions = components.setdefault("schemas", {})
        for name in _POWERTOOLS_SCHEMAS:
            definitions.pop(name, None)
        definitions[error_name] = error_schema
        definitions["FieldError"] = _FIELD_ERROR_SCHEMA
        components["securitySchemes"] = SECURITY_SCHEMES
        for path, operations in document.get("paths", {}).items():
            for method, operation in operations.items():
                self._document_operation(path, method, operation, definitions)
                responses = operation["responses"]
                for status, response in responses.items():
                    if int(status) >= 400:
                        response["content"] = {
                            content_type: {"schema": {"$ref": f"#/components/schemas/{error_name}"}}
                        }
        return json.dumps(document)

    def _document_operation(
        self, path: str, method: str, operation: dict[str, Any], definitions: dict[str, Any]
    ) -> None:
        # Powertools names operations `<function><path>_<method>`; the function's name
        # alone is unique across the API and reads better in a generated client.
        suffix = re.sub(r"\W", "_", path) + f"_{method}"
        operation["operationId"] = operation["operationId"].removesuffix(suffix)
        body = self._bodies.get((method, path))
        if body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": _schema(body[0], definitions)}},
            }
        parameters = operation.setdefault("parameters", [])
        query_model = self._queries.get(path)
        if query_model is not None:
            parameters.extend(_query_parameters(*query_model))
        for parameter in parameters:
            schema = self._parameters.get(parameter.get("name", ""))
            if schema is not None:
                parameter["schema"] = schema
        parameters.append(_ACCOUNT_HEADER)
        operation["security"] = [{name: []} for name in SECURITY_SCHEMES]
        scope_note = f"Needs a key with the scope `{self.scope}` (or `admin`)."
        operation["description"] = " ".join(
            part for part in (operation.get("description"), scope_note) if part
        )
        responses = operation.setdefault("responses", {})
        # Powertools gives every documented response a JSON body; a 204 has none.
        responses.get("204", {}).pop("content", None)
        errors = dict(_COMMON_ERRORS)
        responses.pop("422", None)
        if body is not None:
            errors[400] = "A parameter or the body is invalid"
            errors[415] = "The body is not JSON"
            errors[body[1]] = errors.get(body[1], "The body is invalid")
        if any(param.get("in") == "path" for param in parameters):
            errors[404] = "No such resource"
        if self.error_style == "usage":
            errors[406] = "The Accept header excludes JSON"
        for status, description in errors.items():
            responses.setdefault(str(status), {"description": description})


def _schema(model: type[BaseModel], definitions: dict[str, Any]) -> dict[str, Any]:
    """A reference to `model`'s JSON schema, which goes into the document's components
    with the models it nests."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions.update(schema.pop("$defs", {}))
    definitions[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _query_parameters(model: type[BaseModel], names: Collection[str]) -> list[dict[str, Any]]:
    schema = model.model_json_schema()
    required = set(schema.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": field.get("description", ""),
            "schema": _parameter_schema(field),
        }
        for name, field in schema.get("properties", {}).items()
        if name in names
    ]


def _parameter_schema(field: dict[str, Any]) -> dict[str, Any]:
    """A model field's schema as a parameter's: an absent parameter is the field's None,
    so `X or null` is just X (a query string carries no null)."""
    schema = {key: value for key, value in field.items() if key not in ("title", "default")}
    options = [option for option in schema.pop("anyOf", []) if option != {"type": "null"}]
    if len(options) == 1:
        schema.update(options[0])
    elif options:
        schema["anyOf"] = options
    if field.get("default") is not None:
        schema["default"] = field["default"]
    return schema
