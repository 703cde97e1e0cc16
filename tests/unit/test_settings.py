"""Settings are validated once, with errors naming the variable; the template refuses what
the settings would refuse (AllowedPattern), so a bad value never reaches a function."""

from __future__ import annotations

import json
import re

import pytest

from tally.config import (
    DEFAULT_OPERATOR_PREFIXES,
    OPERATOR_NAME_PATTERN,
    ORIGIN_PATTERN,
    PHONE_PREFIX_PATTERN,
    SettingsError,
    load_settings,
    reset_settings,
)
from tally_dev import template as tpl
from tests.support import FakeContext, handler_module, proxy_event

PARAMETERS = tpl.load().raw["Parameters"]


def _body(pattern: str) -> str:
    return pattern.removeprefix("^").removesuffix("$")


def test_defaults_are_the_local_table_names_and_the_template_prefixes() -> None:
    settings = load_settings({})
    assert (settings.events_table, settings.counters_table, settings.keys_table) == (
        "EventsTable",
        "CountersTable",
        "KeysTable",
    )
    assert settings.operator_prefixes == DEFAULT_OPERATOR_PREFIXES
    assert json.loads(PARAMETERS["OperatorPrefixes"]["Default"]) == DEFAULT_OPERATOR_PREFIXES
    assert settings.cors_origins == ()
    assert settings.default_operators == ["ooredoo", "mobilis", "djeezy"]


def test_values_are_parsed_from_the_environment() -> None:
    settings = load_settings(
        {
            "TALLY_KEYS_TABLE": "tally-KeysTable-1A2B",
            "TALLY_OPERATOR_PREFIXES": '{"+33": "orange", "+336": "sfr"}',
            "TALLY_CORS_ORIGINS": "https://app.example.com, http://localhost:5173",
            "TALLY_KEY_CACHE_SECONDS": "0",
            "UNRELATED": "ignored",
        }
    )
    assert settings.keys_table == "tally-KeysTable-1A2B"
    assert settings.operator_prefixes == {"+33": "orange", "+336": "sfr"}
    assert settings.cors_origins == ("https://app.example.com", "http://localhost:5173")
    assert settings.key_cache_seconds == 0


def test_an_empty_variable_counts_as_unset() -> None:
    settings = load_settings({"TALLY_OPERATOR_PREFIXES": "", "TALLY_CORS_ORIGINS": ""})
    assert settings.operator_prefixes == DEFAULT_OPERATOR_PREFIXES
    assert settings.cors_origins == ()


@pytest.mark.parametrize(
    ("environment", "processes"),
    [
        ({}, 1),  # outside Lambda the tables may be this process's memory (moto)
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}, 1),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1769"}, 1),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3538"}, 2),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "5307"}, 3),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240"}, 6),
        ({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "10240", "TALLY_COUNTER_PROCESSES": "2"}, 2),
        ({"TALLY_COUNTER_PROCESSES": "4"}, 4),
    ],
)
def test_the_counters_function_runs_a_process_per_vcpu_of_its_memory(
    environment: dict[str, str], processes: int
) -> None:
    assert load_settings(environment).processes == processes


def test_the_template_default_memory_gives_the_counters_function_three_processes() -> None:
    memory = PARAMETERS["CountersMemorySize"]["Default"]
    assert load_settings({"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory)}).processes == 3


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("TALLY_OPERATOR_PREFIXES", '{"+2135": "ooredoo"', "Expecting ',' delimiter"),
        ("TALLY_OPERATOR_PREFIXES", '["+2135"]', "valid dictionary"),
        ("TALLY_OPERATOR_PREFIXES", '{"2135": "ooredoo"}', "should match pattern"),
        ("TALLY_OPERATOR_PREFIXES", '{"+2135": "Ooredoo Mobile"}', "should match pattern"),
        ("TALLY_CORS_ORIGINS", "https://app.example.com/", "should match pattern"),
        ("TALLY_KEY_CACHE_SECONDS", "soon", "valid number"),
        ("TALLY_KEY_CACHE_SECONDS", "-1", "greater than or equal to 0"),
        ("TALLY_EVENTS_TABLE", "no spaces", "should match pattern"),
        ("TALLY_COUNTER_PROCESSES", "0", "greater than or equal to 1"),
        ("TALLY_COUNTER_PROCESSES", "7", "less than or equal to 6"),
    ],
)
def test_a_malformed_value_names_the_variable_and_the_reason(
    variable: str, value: str, reason: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({variable: value})
    message = str(raised.value)
    assert message.startswith(f"invalid settings: {variable}")
    assert reason in message
    assert repr(value) in message


def test_a_malformed_setting_fails_the_invocation_instead_of_answering_500(
    env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before, every ingest answered 500 with a malformed OperatorPrefixes. Now the Lambda
    invocation fails (API Gateway answers 502 and the Errors alarm fires) with the variable
    named, before any route, key lookup or DynamoDB call."""
    monkeypatch.setenv("TALLY_OPERATOR_PREFIXES", "{'+2135': 'ooredoo'}")
    reset_settings()
    ingest = handler_module("ingest")
    with pytest.raises(SettingsError, match="TALLY_OPERATOR_PREFIXES"):
        ingest.lambda_handler(proxy_event("POST", "/v1/events", key="tk_x"), FakeContext())


# --- The template's AllowedPattern matches what the settings accept -------------------


def test_the_operator_prefixes_pattern_is_built_from_the_settings_patterns() -> None:
    pair = rf'\s*"{_body(PHONE_PREFIX_PATTERN)}"\s*:\s*"{_body(OPERATOR_NAME_PATTERN)}"\s*'
    assert PARAMETERS["OperatorPrefixes"]["AllowedPattern"] == rf"^\{{({pair}(,{pair})*|\s*)\}}$"


def test_the_cors_origins_pattern_is_built_from_the_settings_pattern() -> None:
    origin = _body(ORIGIN_PATTERN)
    assert PARAMETERS["CorsAllowedOrigins"]["AllowedPattern"] == f"^({origin}(,{origin})*)?$"


@pytest.mark.parametrize(
    ("parameter", "variable", "value", "valid"),
    [
        (
            "OperatorPrefixes",
            "TALLY_OPERATOR_PREFIXES",
            PARAMETERS["OperatorPrefixes"]["Default"],
            True,
        ),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", "{}", True),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", '{"+33":"orange","+336": "sfr"}', True),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", '{"+2135": "ooredoo",}', False),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", "{'+2135': 'ooredoo'}", False),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", '{"+2135": "Ooredoo"}', False),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", '{"2135": "ooredoo"}', False),
        ("OperatorPrefixes", "TALLY_OPERATOR_PREFIXES", '{"+2135": 5}', False),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "", True),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "*", True),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "https://a.example.com", True),
        (
            "CorsAllowedOrigins",
            "TALLY_CORS_ORIGINS",
            "https://a.example,http://localhost:5173",
            True,
        ),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "https://a.example/app", False),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "a.example.com", False),
        ("CorsAllowedOrigins", "TALLY_CORS_ORIGINS", "https://a.example,", False),
    ],
)
def test_the_template_and_the_settings_accept_the_same_values(
    parameter: str, variable: str, value: str, valid: bool
) -> None:
    assert bool(re.fullmatch(PARAMETERS[parameter]["AllowedPattern"], value)) is valid
    if valid:
        load_settings({variable: value})
    else:
        with pytest.raises(SettingsError, match=variable):
            load_settings({variable: value})
