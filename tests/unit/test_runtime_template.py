"""The local runtime's reading of template.yaml and its API Gateway event building (no AWS)."""

from __future__ import annotations

import base64
import dataclasses
import json
import textwrap
from pathlib import Path

import pytest

from tally_dev import template as tpl
from tally_dev.gateway import Gateway, Request, build_event


@pytest.fixture(scope="module")
def template() -> tpl.Template:
    return tpl.load()


def route(template: tpl.Template, method: str, path: str) -> tpl.Route:
    return next(r for r in template.routes if r.method == method and r.path == path)


def test_tables_come_from_the_template_with_gsis_stream_and_ttl(template: tpl.Template) -> None:
    tables = {table.logical_id: table for table in template.tables}
    assert set(tables) == {"EventsTable", "CountersTable", "KeysTable", "QuarantineTable"}
    events = tables["EventsTable"].create_kwargs
    assert events["TableName"] == "EventsTable"
    assert events["BillingMode"] == "PAY_PER_REQUEST"
    assert [index["IndexName"] for index in events["GlobalSecondaryIndexes"]] == ["recent-activity"]
    assert events["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    assert tables["EventsTable"].ttl_attribute == "expires_at"
    assert tables["KeysTable"].ttl_attribute is None
    assert "StreamSpecification" not in tables["KeysTable"].create_kwargs
    assert (
        tables["KeysTable"].create_kwargs["GlobalSecondaryIndexes"][0]["IndexName"] == "by-account"
    )


def test_every_api_event_becomes_a_route(template: tpl.Template) -> None:
    raw = template.raw["Resources"]
    expected = {
        (str(event["Properties"]["Method"]).upper(), event["Properties"]["Path"], name)
        for name, resource in raw.items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in (resource["Properties"].get("Events") or {}).values()
        if event["Type"] == "Api"
    }
    assert {(r.method, r.path, r.handler.function) for r in template.routes} == expected
    ingest = route(template, "POST", "/v1/events")
    assert ingest.handler.path == tpl.PROJECT_ROOT / "functions" / "ingest" / "app.py"
    assert ingest.handler.attribute == "lambda_handler"


def test_stream_mapping_and_environment(template: tpl.Template) -> None:
    (mapping,) = template.stream_mappings
    assert mapping.handler.function == "CountersFunction"
    assert mapping.table == "EventsTable"
    assert mapping.batch_size == 1000
    assert mapping.batching_window == 5
    assert mapping.maximum_retry_attempts == 10
    assert mapping.on_failure == "CountersFailureQueue"
    assert template.environment["TALLY_EVENTS_TABLE"] == "EventsTable"
    assert template.environment["TALLY_KEYS_TABLE"] == "KeysTable"
    assert json.loads(template.environment["TALLY_OPERATOR_PREFIXES"])["+2135"] == "ooredoo"
    assert template.stage == "prod"


def test_static_segments_win_over_parameters(template: tpl.Template) -> None:
    matched, params = tpl.match(template.routes, "/v1/stats/messages")
    assert {r.handler.function for r in matched} == {"UsageStatsFunction"}
    assert params == {}
    matched, params = tpl.match(template.routes, "/v1/stats/1w")
    assert {r.handler.function for r in matched} == {"DashboardFunction"}
    assert params == {"scope": "1w"}
    assert tpl.match(template.routes, "/v1/stats/1w/extra") == ([], {})


def test_ordering_holds_whatever_the_declaration_order() -> None:
    handler = tpl.Handler("F", "functions/x", "app", "lambda_handler")
    routes = sorted(
        [
            tpl.Route("GET", "/a/{rest+}", handler),
            tpl.Route("GET", "/a/{id}/b", handler),
            tpl.Route("GET", "/a/{id}", handler),
            tpl.Route("GET", "/a/fixed", handler),
        ],
        key=lambda r: (r.specificity, r.method),
    )
    assert tpl.match(routes, "/a/fixed")[0][0].path == "/a/fixed"
    assert tpl.match(routes, "/a/7")[0][0].path == "/a/{id}"
    assert tpl.match(routes, "/a/7/b")[0][0].path == "/a/{id}/b"
    assert tpl.match(routes, "/a/7/c/d") == ([routes[-1]], {"rest": "7/c/d"})


def test_rest_proxy_event_from_a_request(template: tpl.Template) -> None:
    request = Request(
        method="GET",
        target="/v1/stats/1w?x=1&types%5B%5D=1&types%5B%5D=2&empty=",
        headers=[("Authorization", "Bearer k"), ("X-Multi", "a"), ("x-multi", "b")],
        source_ip="127.0.0.9",
    )
    event = build_event(
        request, route(template, "GET", "/v1/stats/{scope}"), {"scope": "1w"}, "prod"
    )
    assert event["resource"] == "/v1/stats/{scope}"
    assert event["path"] == "/v1/stats/1w"
    assert event["httpMethod"] == "GET"
    assert event["headers"] == {"Authorization": "Bearer k", "X-Multi": "b"}
    assert event["multiValueHeaders"] == {"Authorization": ["Bearer k"], "X-Multi": ["a", "b"]}
    assert event["queryStringParameters"] == {"x": "1", "types[]": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "x": ["1"],
        "types[]": ["1", "2"],
        "empty": [""],
    }
    assert event["pathParameters"] == {"scope": "1w"}
    assert event["stageVariables"] is None
    assert event["body"] is None
    assert event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["resourcePath"] == "/v1/stats/{scope}"
    assert context["httpMethod"] == "GET"
    assert context["path"] == "/prod/v1/stats/1w"
    assert context["stage"] == "prod"
    assert context["identity"]["sourceIp"] == "127.0.0.9"
    assert isinstance(context["requestTimeEpoch"], int)
    assert context["requestId"]


def test_empty_query_and_path_parameters_are_none(template: tpl.Template) -> None:
    event = build_event(Request("GET", "/v1/keys"), route(template, "GET", "/v1/keys"), {}, "prod")
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None
    assert event["pathParameters"] is None
    assert event["headers"] is None


def test_text_bodies_stay_text_binary_bodies_are_base64(template: tpl.Template) -> None:
    target = route(template, "GET", "/admin/stats/dialogs/created-per-day")
    form = Request(
        "GET",
        "/admin/stats/dialogs/created-per-day",
        [("Content-Type", "application/x-www-form-urlencoded")],
        b"types[]=1&types[]=2",
    )
    event = build_event(form, target, {}, "prod")
    assert event["body"] == "types[]=1&types[]=2"
    assert event["isBase64Encoded"] is False

    binary = Request(
        "POST", "/v1/events", [("Content-Type", "application/octet-stream")], b"\xff\x00"
    )
    event = build_event(binary, route(template, "POST", "/v1/events"), {}, "prod")
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"


def test_a_route_added_to_the_template_is_served(tmp_path: Path) -> None:
    (tmp_path / "functions" / "hello").mkdir(parents=True)
    (tmp_path / "functions" / "hello" / "app.py").write_text(
        textwrap.dedent(
            """
            import json

            def lambda_handler(event, context):
                body = {"resource": event["resource"], "name": event["pathParameters"]["name"]}
                return {"statusCode": 200, "headers": {"Content-Type": "application/json"},
                        "body": json.dumps(body)}
            """
        )
    )
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              HelloFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/hello/
                  Handler: app.lambda_handler
                  Events:
                    Hello:
                      Type: Api
                      Properties:
                        RestApiId: !Ref Api
                        Path: /hello/{name}
                        Method: get
            """
        )
    )
    gateway = Gateway(tpl.load(tmp_path / "template.yaml"))
    reply = gateway.invoke("GET", "/hello/world")
    assert reply.status == 200
    assert reply.json() == {"resource": "/hello/{name}", "name": "world"}
    # Without GatewayResponses in the template: API Gateway's own default for both.
    for method, path in (("POST", "/hello/world"), ("GET", "/nope")):
        missing = gateway.invoke(method, path)
        assert missing.status == 403
        assert missing.json() == {"message": "Missing Authentication Token"}
        assert dict(missing.headers)["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert "Allow" not in dict(missing.headers)


def test_unknown_routes_and_methods_answer_the_templates_gateway_response(
    template: tpl.Template,
) -> None:
    (api,) = (r for r in template.raw["Resources"].values() if r["Type"] == "AWS::Serverless::Api")
    configured = api["Properties"]["GatewayResponses"]
    expected = configured["MISSING_AUTHENTICATION_TOKEN"]
    gateway = Gateway(template)
    for method, path in (("GET", "/v2/nothing"), ("PUT", "/v1/events"), ("GET", "/v1/keys/k")):
        reply = gateway.invoke(method, path)
        assert reply.status == int(expected["StatusCode"]), (method, path)
        assert reply.body.decode() == expected["ResponseTemplates"]["application/json"]
        headers = dict(reply.headers)
        assert headers["Content-Type"] == "application/json"
        assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
        assert headers["x-amzn-RequestId"]
        assert "Allow" not in headers


def test_gateway_responses_fall_back_to_default_4xx_then_api_gateways_own() -> None:
    custom = tpl.GatewayResponse(418, {"X": "1"}, "{}")
    base = tpl.load()
    only_default = dataclasses.replace(
        base, gateway_responses={"DEFAULT_4XX": tpl.GatewayResponse(0, {"X": "2"}, "{}")}
    )
    assert only_default.gateway_response("REQUEST_TOO_LARGE").status == 413
    assert only_default.gateway_response("REQUEST_TOO_LARGE").headers == {"X": "2"}
    own = dataclasses.replace(base, gateway_responses={"REQUEST_TOO_LARGE": custom})
    assert own.gateway_response("REQUEST_TOO_LARGE") == custom
    bare = dataclasses.replace(base, gateway_responses={})
    assert json.loads(bare.gateway_response("REQUEST_TOO_LARGE").body) == {
        "message": "Request Too Long"
    }


def test_a_missing_handler_module_is_a_502_problem(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        textwrap.dedent(
            """
            Resources:
              GoneFunction:
                Type: AWS::Serverless::Function
                Properties:
                  CodeUri: functions/gone/
                  Handler: app.lambda_handler
                  Events:
                    Gone:
                      Type: Api
                      Properties: {Path: /gone, Method: get}
            """
        )
    )
    reply = Gateway(tpl.load(tmp_path / "template.yaml")).invoke("GET", "/gone")
    assert reply.status == 502
    assert "GoneFunction" in reply.json()["detail"]
