"""Settings, read from the environment once, on first use (never at import time)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cache

DEFAULT_OPERATOR_PREFIXES = {"+2135": "ooredoo", "+2136": "mobilis", "+2137": "djeezy"}


@dataclass(frozen=True)
class Settings:
    events_table: str = "EventsTable"
    counters_table: str = "CountersTable"
    keys_table: str = "KeysTable"
    quarantine_table: str = "QuarantineTable"
    operator_prefixes: dict[str, str] = field(
        default_factory=lambda: dict(DEFAULT_OPERATOR_PREFIXES)
    )
    # A revoked key keeps working on a warm container for at most this long.
    key_cache_seconds: float = 30.0
    key_cache_size: int = 1024

    @property
    def default_operators(self) -> list[str]:
        return list(dict.fromkeys(self.operator_prefixes.values()))


@cache
def get_settings() -> Settings:
    env = os.environ
    prefixes = env.get("TALLY_OPERATOR_PREFIXES")
    return Settings(
        events_table=env.get("TALLY_EVENTS_TABLE", "EventsTable"),
        counters_table=env.get("TALLY_COUNTERS_TABLE", "CountersTable"),
        keys_table=env.get("TALLY_KEYS_TABLE", "KeysTable"),
        quarantine_table=env.get("TALLY_QUARANTINE_TABLE", "QuarantineTable"),
        operator_prefixes=json.loads(prefixes) if prefixes else dict(DEFAULT_OPERATOR_PREFIXES),
        key_cache_seconds=float(env.get("TALLY_KEY_CACHE_SECONDS", "30")),
    )


def reset_settings() -> None:
    """Forget cached settings (tests and the local runtime change the environment)."""
    get_settings.cache_clear()
