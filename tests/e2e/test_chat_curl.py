"""The chat seed's own `curl -X GET -d '...'` examples against a running `tally serve`."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.e2e.conftest import Server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("curl") is None, reason="needs the curl binary"),
]

# Verbatim from seed 001 (the 11-digit end_date is the seed's; it is clamped to now).
SEED_EXAMPLES = {
    "/admin/stats/messages/sent-total": "start_date=1676894034&end_date=16768967370",
    "/admin/stats/messages/sent-per-day": "start_date=1676894034&end_date=16768967370",
    "/admin/stats/dialogs/created-total": "start_date=1676894057&end_date=16768967671&types[]=2&types[]=3",
    "/admin/stats/dialogs/created-per-day": "start_date=1676894057&end_date=16768967671&types[]=2&types[]=4",
}


def curl(server: Server, key: str, path: str, data: str) -> tuple[int, object]:
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "-X",
            "GET",
            "-H",
            f"CB-Administration-API-Key: {key}",
            "-d",
            data,
            "-w",
            "\n%{http_code}",
            server.base_url + path,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def test_seed_curl_examples(
    server: Server, http: requests.Session, account_key: tuple[str, str]
) -> None:
    _, key = account_key
    now = datetime.now(UTC)
    stamp = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    day = (now - timedelta(minutes=5)).date().isoformat()
    events = [
        {
            "id": f"c{n}",
            "kind": "message",
            "occurred_at": stamp,
            "channel": "chat",
            "status": "sent",
        }
        for n in range(3)
    ]
    events += [
        {"id": f"d{n}", "kind": "dialog", "occurred_at": stamp, "type": dialog_type}
        for n, dialog_type in enumerate((1, 2, 2, 3, 4))
    ]
    ingest = server.ingest(events, key)
    assert ingest.status_code == 200, ingest.text
    expected = {
        "/admin/stats/messages/sent-total": {"total": 3},
        "/admin/stats/messages/sent-per-day": {day: 3},
        "/admin/stats/dialogs/created-total": {"total": 3},  # types 2 and 3
        "/admin/stats/dialogs/created-per-day": {day: 3},  # types 2 and 4
    }
    deadline = time.monotonic() + 30
    answers: dict[str, object] = {}
    while time.monotonic() < deadline:
        answers = {}
        for path, data in SEED_EXAMPLES.items():
            status, body = curl(server, key, path, data)
            assert status == 200, body
            answers[path] = body
        if answers == expected:
            break
        time.sleep(0.2)
    assert answers == expected
