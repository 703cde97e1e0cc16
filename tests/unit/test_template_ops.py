"""The template's operations resources: alarms that can deliver, the dashboard, access
logs, CORS in step with `tally.http`, and parameters that refuse what would break the service.

cfn-lint and `sam validate --lint` check the syntax; these check the intent."""

from __future__ import annotations

import json
import re
import tomllib
from typing import Any

import pytest

from tally_dev import template as tpl
from tests.support import ROOT

RAW = tpl.load().raw
RESOURCES: dict[str, Any] = RAW["Resources"]
PARAMETERS: dict[str, Any] = RAW["Parameters"]
ENVIRONMENT = RAW["Globals"]["Function"]["Environment"]["Variables"]
TOPIC = {"Ref": "AlarmTopic"}


def _of_type(kind: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


ALARMS = {name: res["Properties"] for name, res in _of_type("AWS::CloudWatch::Alarm").items()}
FUNCTIONS = set(_of_type("AWS::Serverless::Function"))
TABLES = set(_of_type("AWS::DynamoDB::Table"))


def _metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(namespace, name, dimensions) of an alarm's metric, or of each metric of its math."""
    if "MetricName" in alarm:
        return [alarm]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def _alarms_on(namespace: str, metric: str) -> list[dict[str, Any]]:
    return [
        alarm
        for alarm in ALARMS.values()
        if any(m["Namespace"] == namespace and m["MetricName"] == metric for m in _metrics(alarm))
    ]


def _dimension(metric: dict[str, Any], name: str) -> Any:
    return next(d["Value"] for d in metric["Dimensions"] if d["Name"] == name)


def test_every_alarm_notifies_the_topic_on_alarm_and_on_recovery() -> None:
    assert len(ALARMS) >= 2 * len(FUNCTIONS) + len(TABLES) + 5
    for name, alarm in ALARMS.items():
        assert alarm["AlarmActions"] == [TOPIC], name
        assert alarm["OKActions"] == [TOPIC], name
        assert alarm["TreatMissingData"] == "notBreaching", name


def test_the_topic_is_encrypted_with_a_key_cloudwatch_may_use() -> None:
    """CloudWatch cannot publish to a topic under the AWS-managed alias/aws/sns key."""
    key_ref = RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"]
    key = RESOURCES[key_ref["Ref"]]
    assert key["Type"] == "AWS::KMS::Key"
    assert key["Properties"]["EnableKeyRotation"] is True
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    cloudwatch = [
        s for s in statements if s["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    ]
    assert [(s["Effect"], set(s["Action"])) for s in cloudwatch] == [
        ("Allow", {"kms:Decrypt", "kms:GenerateDataKey*"})
    ]
    # The account keeps administering its key (a policy without it locks the key).
    assert any(s["Action"] == "kms:*" and "AWS" in s["Principal"] for s in statements)


def test_alarm_email_subscribes_only_when_set() -> None:
    subscription = RESOURCES["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert RAW["Conditions"]["HasAlarmEmail"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]
    }
    assert subscription["Properties"] == {
        "TopicArn": TOPIC,
        "Protocol": "email",
        "Endpoint": {"Ref": "AlarmEmail"},
    }
    assert PARAMETERS["AlarmEmail"]["Default"] == ""
    pattern = PARAMETERS["AlarmEmail"]["AllowedPattern"]
    assert re.fullmatch(pattern, "oncall@example.com")
    assert re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "oncall at example.com")


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_errors_and_throttles(metric: str) -> None:
    alarmed = [_dimension(alarm, "FunctionName") for alarm in _alarms_on("AWS/Lambda", metric)]
    assert sorted(alarmed, key=str) == sorted(({"Ref": f} for f in FUNCTIONS), key=str)
    for alarm in _alarms_on("AWS/Lambda", metric):
        assert (alarm["Statistic"], alarm["Threshold"]) == ("Sum", 0)
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"


def test_every_table_alarms_on_throttled_reads_and_writes() -> None:
    for table in TABLES:
        (alarm,) = [
            alarm
            for alarm in _alarms_on("AWS/DynamoDB", "ReadThrottleEvents")
            if all(_dimension(m, "TableName") == {"Ref": table} for m in _metrics(alarm))
        ]
        names = {m["MetricName"] for m in _metrics(alarm)}
        assert names == {"ReadThrottleEvents", "WriteThrottleEvents"}
        (returned,) = [query for query in alarm["Metrics"] if query["ReturnData"]]
        assert returned["Expression"] == "FILL(reads, 0) + FILL(writes, 0)"
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_api_p99_latency_iterator_age_failed_batches_and_quarantine_alarms() -> None:
    api_name = RESOURCES["TallyApi"]["Properties"]["Name"]
    (latency,) = _alarms_on("AWS/ApiGateway", "Latency")
    assert latency["ExtendedStatistic"] == "p99"
    assert _dimension(latency, "ApiName") == api_name
    assert _dimension(latency, "Stage") == {"Ref": "StageName"}
    (lag,) = _alarms_on("AWS/Lambda", "IteratorAge")
    assert _dimension(lag, "FunctionName") == {"Ref": "CountersFunction"}
    (queue,) = _alarms_on("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert _dimension(queue, "QueueName") == {"Fn::GetAtt": ["CountersFailureQueue", "QueueName"]}
    # The quarantine metric is Powertools': namespace and `service` dimension from Globals.
    namespace = ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
    (quarantine,) = _alarms_on(namespace, "RecordsQuarantined")
    assert _dimension(quarantine, "service") == ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]
    assert (quarantine["Statistic"], quarantine["Threshold"]) == ("Sum", 0)


# --- Dashboard -----------------------------------------------------------------------------


def _substitute(text: str) -> str:
    """A `Fn::Sub` string with every ${...} resolved to a placeholder, checking each names
    a parameter, a resource (or its attribute) or a pseudo parameter."""

    def placeholder(match: re.Match[str]) -> str:
        name = match.group(1)
        target = name.split(".", 1)[0]
        assert name.startswith("AWS::") or target in PARAMETERS or target in RESOURCES, name
        return re.sub(r"\W", "-", name)

    return re.sub(r"\$\{([^}!]+)\}", placeholder, text)


def test_the_dashboard_shows_what_an_operator_watches() -> None:
    (dashboard,) = _of_type("AWS::CloudWatch::Dashboard").values()
    body = json.loads(_substitute(dashboard["Properties"]["DashboardBody"]["Fn::Sub"]))
    shown = json.dumps(body["widgets"])
    for metric in (
        "EventsIngested",
        "CounterItemsWritten",
        "RecordsQuarantined",
        "IteratorAge",
        "4XXError",
        "5XXError",
        "Latency",
        "Errors",
        "Throttles",
        "ReadThrottleEvents",
        "WriteThrottleEvents",
        "ApproximateNumberOfMessagesVisible",
    ):
        assert metric in shown, metric
    assert all(widget["type"] == "metric" for widget in body["widgets"])


# --- API stage: access logs, CORS ----------------------------------------------------------

API = RESOURCES["TallyApi"]["Properties"]


def test_access_logs_are_json_lines_without_headers_in_a_retained_log_group() -> None:
    setting = API["AccessLogSetting"]
    group = RESOURCES[setting["DestinationArn"]["Fn::GetAtt"][0]]
    assert group["Type"] == "AWS::Logs::LogGroup"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    line = json.loads(setting["Format"])
    assert {"requestId", "ip", "httpMethod", "resourcePath", "status", "responseLatency"} <= set(
        line
    )
    # Keys travel in headers; no header, no key in the logs.
    assert not any("header" in value.lower() for value in line.values())
    # The stage can log only once the account's API Gateway CloudWatch role is set.
    assert RESOURCES["TallyApi"]["DependsOn"] == "ApiGatewayCloudWatchRoleReady"
    gate = RESOURCES["ApiGatewayCloudWatchRoleReady"]["Metadata"]["AccountSettings"]
    assert gate == {"Fn::If": ["CreateApiGatewayCloudWatchRole", {"Ref": "ApiGatewayAccount"}, ""]}
    assert RESOURCES["ApiGatewayCloudWatchLogsRole"]["DeletionPolicy"] == "Retain"


def _quoted(value: str) -> str:
    assert (value[:1], value[-1:]) == ("'", "'"), value
    return value[1:-1]


def test_the_preflight_allows_what_the_functions_answer(env: None) -> None:
    # Imported under the test environment: tally.http's Metrics reads its namespace once.
    from tally.http import CORS_MAX_AGE, SettingsCors

    cors = API["Cors"]
    allowed = {header.lower() for header in _quoted(cors["AllowHeaders"]).split(",")}
    assert allowed == {header.lower() for header in SettingsCors().allow_headers}
    assert {"authorization", "x-api-key", "cb-administration-api-key", "x-account-id"} <= allowed
    assert int(_quoted(cors["MaxAge"])) == CORS_MAX_AGE
    # One origin: itself; several: "*" (the responses name the caller's); none: no header.
    assert cors["AllowOrigin"] == {
        "Fn::If": [
            "CorsEnabled",
            {"Fn::If": ["CorsSingleOrigin", {"Fn::Sub": "'${CorsAllowedOrigins}'"}, "'*'"]},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert ENVIRONMENT["TALLY_CORS_ORIGINS"] == {"Ref": "CorsAllowedOrigins"}
    assert PARAMETERS["CorsAllowedOrigins"]["Default"] == ""


# --- Parameters ----------------------------------------------------------------------------


def test_every_parameter_is_described_and_constrained() -> None:
    for name, parameter in PARAMETERS.items():
        assert parameter.get("Description"), name
        assert "AllowedPattern" in parameter or "AllowedValues" in parameter, name
        default = str(parameter["Default"])
        if "AllowedPattern" in parameter:
            assert re.fullmatch(parameter["AllowedPattern"], default), name
        else:
            assert parameter["Default"] in parameter["AllowedValues"], name


@pytest.mark.parametrize(
    ("value", "valid"), [("prod", True), ("v1_beta", True), ("", False), ("pro d", False)]
)
def test_the_stage_name_follows_api_gateway_rules(value: str, valid: bool) -> None:
    assert bool(re.fullmatch(PARAMETERS["StageName"]["AllowedPattern"], value)) is valid


# --- samconfig.toml ------------------------------------------------------------------------


def test_samconfig_deploys_this_template_with_what_it_needs() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    deploy = config["default"]["deploy"]["parameters"]
    # Unnamed IAM roles need CAPABILITY_IAM; named ones would need CAPABILITY_NAMED_IAM.
    roles = [res for res in RESOURCES.values() if res["Type"] == "AWS::IAM::Role"]
    assert roles
    assert all("RoleName" not in role["Properties"] for role in roles)
    assert deploy["capabilities"] == "CAPABILITY_IAM"
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True
    assert config["default"]["global"]["parameters"]["stack_name"]
    # Overrides, if any are saved, must name parameters the template has.
    overrides = re.findall(r"(\w+)=", str(deploy.get("parameter_overrides", "")))
    assert set(overrides) <= set(PARAMETERS)
