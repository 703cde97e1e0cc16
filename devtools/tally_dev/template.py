"""Reads `template.yaml`, the single source of truth for tables, routes and the stream mapping.

Nothing here restates a schema or a route: everything the local runtime needs
is derived from the template, so a route or index added there is served and
created without touching this package.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PROJECT_ROOT = Path(__file__).resolve().parents[2]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"

_INTRINSICS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!FindInMap": "Fn::FindInMap",
    "!ImportValue": "Fn::ImportValue",
    "!GetAZs": "Fn::GetAZs",
    "!Base64": "Fn::Base64",
    "!Condition": "Condition",
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns CloudFormation short tags into their long (JSON) form."""


def _intrinsic(name: str) -> Any:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        elif isinstance(node, yaml.MappingNode):
            value = loader.construct_mapping(node, deep=True)
        else:
            raise yaml.constructor.ConstructorError(
                None, None, f"unexpected {name}", node.start_mark
            )
        return {name: value}

    return construct


for _tag, _name in _INTRINSICS.items():
    _CfnLoader.add_constructor(_tag, _intrinsic(_name))


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    create_kwargs: dict[str, Any]
    ttl_attribute: str | None


@dataclass(frozen=True)
class Handler:
    """Where a function's code lives: `<CodeUri>/<module>.py`, attribute `attribute`."""

    function: str
    code_uri: str
    module: str
    attribute: str
    root: Path = PROJECT_ROOT

    @property
    def path(self) -> Path:
        return self.root / self.code_uri / f"{self.module.replace('.', '/')}.py"

    @property
    def group(self) -> str:
        return Path(self.code_uri).name


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Handler

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.path.split("/") if part)

    @property
    def specificity(self) -> tuple[int, ...]:
        """Sort key: static segments before `{param}`, which come before greedy `{param+}`."""
        return tuple(_segment_rank(part) for part in self.segments)


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    if segment.startswith("{") and segment.endswith("}"):
        return 1
    return 0


@dataclass(frozen=True)
class StreamMapping:
    handler: Handler
    table: str
    batch_size: int
    batching_window: float
    maximum_retry_attempts: int
    starting_position: str
    on_failure: str | None


@dataclass(frozen=True)
class GatewayResponse:
    """An answer API Gateway gives itself (the API's `GatewayResponses`, or its default)."""

    status: int
    headers: dict[str, str]
    body: str


# API Gateway's own answers where the template does not customise them.
_DEFAULT_RESPONSES = {
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
}


@dataclass(frozen=True)
class Template:
    tables: list[TableSpec]
    routes: list[Route]
    stream_mappings: list[StreamMapping]
    environment: dict[str, str]
    stage: str
    gateway_responses: dict[str, GatewayResponse] = field(repr=False)
    raw: dict[str, Any] = field(repr=False)

    def gateway_response(self, response_type: str) -> GatewayResponse:
        """The answer for `response_type` as API Gateway picks it: the API's own, then its
        `DEFAULT_4XX`/`DEFAULT_5XX`, then API Gateway's default."""
        status, message = _DEFAULT_RESPONSES[response_type]
        family = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
        found = self.gateway_responses.get(response_type) or self.gateway_responses.get(family)
        if found is None:
            body = json.dumps({"message": message})
            return GatewayResponse(status, {"Content-Type": "application/json"}, body)
        # A response without StatusCode keeps the status of its type.
        return GatewayResponse(found.status or status, found.headers, found.body)


def load(path: Path = TEMPLATE_PATH) -> Template:
    raw = yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass
    resources: dict[str, Any] = raw.get("Resources", {})
    parameters = {
        name: str(spec.get("Default", "")) for name, spec in raw.get("Parameters", {}).items()
    }
    return Template(
        tables=_tables(resources),
        routes=sorted(
            _routes(resources, path.parent), key=lambda route: (route.specificity, route.method)
        ),
        stream_mappings=_stream_mappings(resources, path.parent),
        environment=_environment(raw, parameters),
        stage=_stage(resources, parameters),
        gateway_responses=_gateway_responses(resources),
        raw=raw,
    )


def _tables(resources: dict[str, Any]) -> list[TableSpec]:
    tables = []
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::DynamoDB::Table":
            continue
        props = resource.get("Properties", {})
        on_demand = props.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST"
        kwargs: dict[str, Any] = {
            "TableName": logical_id,
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
        }
        if on_demand:
            kwargs["BillingMode"] = "PAY_PER_REQUEST"
        else:
            kwargs["ProvisionedThroughput"] = props["ProvisionedThroughput"]
        for option, key in (
            ("GlobalSecondaryIndexes", "GlobalSecondaryIndexes"),
            ("LocalSecondaryIndexes", "LocalSecondaryIndexes"),
        ):
            if props.get(option):
                kwargs[key] = [
                    {
                        k: v
                        for k, v in index.items()
                        if not (on_demand and k == "ProvisionedThroughput")
                    }
                    for index in props[option]
                ]
        stream = props.get("StreamSpecification")
        view_type = stream.get("StreamViewType") if stream else None
        if view_type:
            kwargs["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view_type}
        ttl = props.get("TimeToLiveSpecification") or {}
        tables.append(
            TableSpec(
                logical_id=logical_id,
                create_kwargs=kwargs,
                ttl_attribute=ttl.get("AttributeName") if ttl.get("Enabled") else None,
            )
        )
    return tables


def _handler(logical_id: str, props: dict[str, Any], root: Path) -> Handler:
    spec = props.get("Handler", "app.lambda_handler")
    module, _, attribute = str(spec).rpartition(".")
    return Handler(
        function=logical_id,
        code_uri=str(props.get("CodeUri", "")).rstrip("/"),
        module=module,
        attribute=attribute,
        root=root,
    )


def _function_events(
    resources: dict[str, Any], kind: str
) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(function id, function properties, event properties) of every event of type `kind`."""
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.get("Properties", {})
        for event in (props.get("Events") or {}).values():
            if event.get("Type") == kind:
                yield logical_id, props, event.get("Properties", {})


def _routes(resources: dict[str, Any], root: Path) -> list[Route]:
    return [
        Route(
            method=str(event_props["Method"]).upper(),
            path="/" + str(event_props["Path"]).strip("/"),
            handler=_handler(logical_id, props, root),
        )
        for logical_id, props, event_props in _function_events(resources, "Api")
    ]


def _ref_target(value: Any) -> str | None:
    """The logical id named by `!Ref X` or `!GetAtt X.Attr`, else None."""
    if isinstance(value, dict):
        if "Ref" in value:
            return str(value["Ref"])
        if "Fn::GetAtt" in value:
            return str(value["Fn::GetAtt"][0])
    return None


def _stream_mappings(resources: dict[str, Any], root: Path) -> list[StreamMapping]:
    mappings = []
    for logical_id, props, ep in _function_events(resources, "DynamoDB"):
        on_failure = (ep.get("DestinationConfig") or {}).get("OnFailure") or {}
        mappings.append(
            StreamMapping(
                handler=_handler(logical_id, props, root),
                table=_ref_target(ep["Stream"]) or "",
                batch_size=int(ep.get("BatchSize", 100)),
                batching_window=float(ep.get("MaximumBatchingWindowInSeconds", 0)),
                # Lambda's default for streams is -1 (retry until the record expires).
                maximum_retry_attempts=int(ep.get("MaximumRetryAttempts", -1)),
                starting_position=str(ep.get("StartingPosition", "TRIM_HORIZON")),
                on_failure=_ref_target(on_failure.get("Destination")),
            )
        )
    return mappings


def _environment(raw: dict[str, Any], parameters: dict[str, str]) -> dict[str, str]:
    """Globals' environment with `!Ref Table` as the table's logical id (its local name)."""
    variables = (
        raw.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    resolved = {}
    for name, value in variables.items():
        target = _ref_target(value)
        if target is None:
            resolved[name] = str(value)
        else:
            resolved[name] = parameters.get(target, target)
    return resolved


def _stage(resources: dict[str, Any], parameters: dict[str, str]) -> str:
    for resource in resources.values():
        if resource.get("Type") == "AWS::Serverless::Api":
            stage = resource.get("Properties", {}).get("StageName", "prod")
            target = _ref_target(stage)
            return parameters.get(target, target) if target else str(stage)
    return "prod"


def _gateway_responses(resources: dict[str, Any]) -> dict[str, GatewayResponse]:
    """The `GatewayResponses` of the template's API: status, static headers, JSON template."""
    responses: dict[str, GatewayResponse] = {}
    for resource in resources.values():
        if resource.get("Type") != "AWS::Serverless::Api":
            continue
        for kind, spec in (resource.get("Properties", {}).get("GatewayResponses") or {}).items():
            headers = (spec.get("ResponseParameters") or {}).get("Headers") or {}
            templates = spec.get("ResponseTemplates") or {}
            responses[kind] = GatewayResponse(
                status=int(spec.get("StatusCode") or 0),
                # Static header values are quoted: "'application/json'".
                headers={name: str(value).strip("'") for name, value in headers.items()},
                body=str(templates.get("application/json", "")),
            )
    return responses


def match(routes: list[Route], path: str) -> tuple[list[Route], dict[str, str]]:
    """Routes of the most specific resource matching `path`, and its path parameters.

    `routes` must be sorted by specificity (as `load` returns them), so the first
    resource that matches is the one API Gateway would pick.
    """
    segments = [part for part in path.split("/") if part]
    for route in routes:
        params = _match_segments(route.segments, segments)
        if params is not None:
            same = [other for other in routes if other.path == route.path]
            return same, params
    return [], {}


def _match_segments(pattern: tuple[str, ...], segments: list[str]) -> dict[str, str] | None:
    params: dict[str, str] = {}
    for index, part in enumerate(pattern):
        rank = _segment_rank(part)
        if rank == 2:
            if index >= len(segments):
                return None
            params[part[1:-2]] = "/".join(segments[index:])
            return params
        if index >= len(segments):
            return None
        if rank == 1:
            params[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return params if len(pattern) == len(segments) else None
