"""A client generated from the committed OpenAPI document (openapi-python-client) calls
every route of `tally serve` and parses every answer into its named model.

The client is generated afresh from functions/web/openapi.json, so this fails
when the document stops describing what the service answers, or when a route
has no generated call here.
"""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tally_dev import openapi
from tests.e2e.conftest import Server
from tests.support import message

pytestmark = pytest.mark.e2e
PACKAGE = "tally_client"


@pytest.fixture(scope="module")
def client_package(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    root = tmp_path_factory.mktemp("client")
    config = root / "config.yaml"
    config.write_text("post_hooks: []\n")  # no formatter run: ruff need not be on PATH
    generator = Path(sys.executable).with_name("openapi-python-client")
    subprocess.run(
        [
            str(generator),
            "generate",
            "--path",
            str(openapi.OUTPUT),
            "--meta",
            "none",
            "--output-path",
            str(root / PACKAGE),
            "--config",
            str(config),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def _operations(package: ModuleType) -> dict[str, ModuleType]:
    """Every generated operation module, as `<tag>.<operation>`."""
    api = importlib.import_module(f"{PACKAGE}.api")
    found = {}
    for tag in pkgutil.iter_modules(api.__path__):
        group = importlib.import_module(f"{PACKAGE}.api.{tag.name}")
        for operation in pkgutil.iter_modules(group.__path__):
            found[f"{tag.name}.{operation.name}"] = importlib.import_module(
                f"{PACKAGE}.api.{tag.name}.{operation.name}"
            )
    return found


def test_the_generated_client_calls_every_route(client_package: ModuleType, server: Server) -> None:
    models = importlib.import_module(f"{PACKAGE}.models")
    client = client_package.AuthenticatedClient(base_url=server.base_url, token=server.admin_key)
    operations = _operations(client_package)
    account = "generated-client"
    scope = {"x_account_id": account}
    events = [
        message("gc-m1", "2026-06-01T10:00:00Z", status="delivered", channel="chat"),
        {"id": "gc-d1", "kind": "dialog", "occurred_at": "2026-06-01T10:00:00Z", "type": 2},
        {
            "id": "gc-c1",
            "kind": "campaign",
            "occurred_at": "2026-06-01T09:00:00Z",
            "name": "June",
            "status": "completed",
        },
    ]
    created_key = models.CreateKeyRequest.from_dict({"scopes": ["stats:read"], "name": "gc"})
    calls: dict[str, dict[str, Any]] = {
        "ingest.post_events": {"body": models.IngestRequest.from_dict({"events": events})},
        "keys.create_key": {"body": created_key},
        "keys.list_keys": {},
        "billing.billing_status": {},
        "billing.credit_balance": {},
        "dashboard.stats": {"scope": models.StatsScope("24h")},
        "dashboard.stats_for_scope": {"scope": models.StatsForScopeScope("1w")},
        "usage_stats.message_stats": {"pretty": True},
        "channel_stats.channel_stats": {
            "channel": models.ChannelStatsChannel("chat"),
            "body": models.ChannelStatsRequest.from_dict(
                {"type": "daily", "start_time": "2026-06-01T00:00:00Z", "timezone": "Europe/Paris"}
            ),
        },
        "chat_stats.messages_sent_total": {"start_date": 1780000000},
        "chat_stats.messages_sent_per_day": {"limit": 10, "offset": 0},
        "chat_stats.dialogs_created_total": {"types": [2, 3]},
        "chat_stats.dialogs_created_per_day": {"types": [2]},
        "analytics.overview": {"start_date": "2026-05-01", "end_date": "2026-06-10"},
        "analytics.trends": {"metric": models.TrendsMetric("campaigns")},
        "analytics.top_campaigns": {"limit": 5},
        "analytics.best_send_times": {},
        "analytics.export": {"type_": models.ExportType("campaigns")},
    }
    answers: dict[str, Any] = {}
    for name, arguments in calls.items():
        response = operations[name].sync_detailed(client=client, **scope, **arguments)
        assert 200 <= response.status_code < 300, (name, response.status_code, response.content)
        answers[name] = response.parsed
    key_id = answers["keys.create_key"].key_id
    update = models.UpdateKeyRequest.from_dict({"name": "renamed"})
    changed = operations["keys.update_key"].sync_detailed(
        key_id, client=client, body=update, **scope
    )
    assert changed.status_code == 200
    assert changed.parsed.name == "renamed"
    revoked = operations["keys.revoke_key"].sync_detailed(key_id, client=client, **scope)
    assert revoked.status_code == 204

    assert set(operations) == {*calls, "keys.update_key", "keys.revoke_key"}
    assert answers["ingest.post_events"].accepted == 3
    assert isinstance(answers["billing.billing_status"], models.BillingStatus)
    assert isinstance(answers["analytics.overview"], models.Overview)
    assert isinstance(answers["usage_stats.message_stats"], models.UsageDocument)
    assert all(
        isinstance(entry, models.ChannelStatsEntry)
        for entry in answers["channel_stats.channel_stats"]
    )
    assert isinstance(answers["chat_stats.dialogs_created_total"], models.ChatTotal)
    assert answers["analytics.export"].startswith("Campaign Name")
