"""Settings: read from the environment and validated once, on first use (never at import time).

A plain pydantic model over `os.environ`, as the aws-lambda-handler-cookbook validates its
environment: every variable here is a flat string, so `pydantic-settings` (another
dependency in the layer and on the cold-start path) would add nothing. A malformed value
raises `SettingsError` naming the variable; `tally.http.lambda_handler` validates before
routing, so a bad deployment fails every invocation loudly (a Lambda error, which the
Errors alarm sees) instead of answering 500s one route at a time.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Also the template's AllowedPattern material (template.yaml, OperatorPrefixes and
# CorsAllowedOrigins); tests/unit/test_settings.py keeps the two in step.
PHONE_PREFIX_PATTERN = r"^\+[0-9]{1,15}$"
OPERATOR_NAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{0,63}$"
# scheme://host[:port], without a path (what a browser sends in `Origin`), or * for any.
ORIGIN_PATTERN = r"^(\*|https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?)$"
TABLE_NAME_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"

DEFAULT_OPERATOR_PREFIXES = {"+2135": "ooredoo", "+2136": "mobilis", "+2137": "djeezy"}

PhonePrefix = Annotated[str, Field(pattern=PHONE_PREFIX_PATTERN)]
OperatorName = Annotated[str, Field(pattern=OPERATOR_NAME_PATTERN)]
Origin = Annotated[str, Field(pattern=ORIGIN_PATTERN)]
TableName = Annotated[str, Field(pattern=TABLE_NAME_PATTERN)]


class SettingsError(ValueError):
    """A setting in the environment is malformed; the message names the variable."""


class Settings(BaseModel):
    """Field aliases are the environment variables (template.yaml, Globals)."""

    # Built on first validation, not at import (cold start).
    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True, populate_by_name=True)

    # Defaults are the tables' logical ids: their names in the local runtime and the tests.
    events_table: TableName = Field("EventsTable", alias="TALLY_EVENTS_TABLE")
    counters_table: TableName = Field("CountersTable", alias="TALLY_COUNTERS_TABLE")
    keys_table: TableName = Field("KeysTable", alias="TALLY_KEYS_TABLE")
    quarantine_table: TableName = Field("QuarantineTable", alias="TALLY_QUARANTINE_TABLE")
    operator_prefixes: dict[PhonePrefix, OperatorName] = Field(
        default_factory=lambda: dict(DEFAULT_OPERATOR_PREFIXES), alias="TALLY_OPERATOR_PREFIXES"
    )
    # A revoked key keeps working on a warm container for at most this long.
    key_cache_seconds: float = Field(30.0, ge=0, le=300, alias="TALLY_KEY_CACHE_SECONDS")
    key_cache_size: int = Field(1024, ge=1, alias="TALLY_KEY_CACHE_SIZE")
    # Browser origins allowed to read responses (CORS); empty: none.
    cors_origins: tuple[Origin, ...] = Field((), alias="TALLY_CORS_ORIGINS")
    # Processes the counters function spreads a large batch over (tally.fanout). Unset: one
    # per vCPU Lambda gives the function's memory, and one outside Lambda, where the tables
    # may live in this process's memory (moto).
    counter_processes: int | None = Field(None, ge=1, le=6, alias="TALLY_COUNTER_PROCESSES")
    lambda_memory_mb: int | None = Field(None, ge=128, alias="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")

    @field_validator("operator_prefixes", mode="before")
    @classmethod
    def _parse_json(cls, value: Any) -> Any:
        return json.loads(value) if isinstance(value, str) else value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(origin.strip() for origin in value.split(","))
        return value

    @property
    def processes(self) -> int:
        if self.counter_processes is not None:
            return self.counter_processes
        if self.lambda_memory_mb is None:
            return 1
        # "At 1,769 MB, a function has the equivalent of one vCPU" (Lambda developer guide).
        return max(1, min(6, round(self.lambda_memory_mb / 1769)))

    @property
    def default_operators(self) -> list[str]:
        return list(dict.fromkeys(self.operator_prefixes.values()))


def _problem(error: Any, given: dict[str, str]) -> str:
    where = ".".join(str(part) for part in error["loc"] if part != "[key]")
    value = given.get(str(error["loc"][0]), "")
    shown = f" (got {value!r})" if len(value) <= 200 else ""
    return f"{where}: {error['msg']}{shown}"


def load_settings(environ: dict[str, str]) -> Settings:
    """Settings from `environ`; an empty variable counts as unset."""
    given = {name: value for name, value in environ.items() if value != ""}
    try:
        return Settings.model_validate(given)
    except ValidationError as exc:
        problems = "; ".join(_problem(error, given) for error in exc.errors())
        raise SettingsError(f"invalid settings: {problems}") from None


@cache
def get_settings() -> Settings:
    return load_settings(dict(os.environ))


def reset_settings() -> None:
    """Forget cached settings (tests and the local runtime change the environment)."""
    get_settings.cache_clear()
