"""Schema fuzzing: schemathesis against the OpenAPI document `tally serve` publishes.

Every operation of `GET /openapi.json` is called with generated parameters and
bodies and a valid admin key. The checks: no 5xx, every status is documented,
every body and Content-Type matches what the document says for that status.
`positive_data_acceptance` is left out on purpose: free-form string parameters
(`startDate`, a scope in the path) are documented as strings, and the service
rightly answers 400 to most generated strings.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.conftest import Server
from tests.support import api_routes, message

pytestmark = pytest.mark.e2e

# Bounded so the whole module stays well under two minutes on a shared machine.
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
# Statuses seen per operation, for the coverage checks that follow the fuzzing.
SEEN: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)


@pytest.fixture(scope="module")
def api(server: Server) -> Server:
    """The shared `tally serve`, with a few messages and a campaign so reads are not all zero."""
    events = [
        message(f"fuzz-m{n}", "2026-06-10T09:00:00Z", status="delivered", to="+213550000000")
        for n in range(5)
    ]
    events.append(
        {
            "id": "fuzz-c1",
            "kind": "campaign",
            "occurred_at": "2026-06-09T10:00:00Z",
            "name": "June",
            "status": "completed",
            "audience": 5,
        }
    )
    reply = server.ingest(events)
    assert reply.status_code == 200, reply.text
    return server


def _fresh_key_id(api: Server) -> str:
    reply = requests.post(
        f"{api.base_url}/v1/keys",
        json={"scopes": ["stats:read"], "name": "fuzz target"},
        headers=api.headers(),
        timeout=30,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["key_id"])


def _fuzz(operation: Any, api: Server) -> None:
    name = f"{operation.method.upper()} {operation.path}"

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        if "key_id" in (case.path_parameters or {}) and sum(SEEN[name].values()) % 2 == 0:
            # Random ids only ever reach the 404 branch; a real key reaches the 2xx one.
            case.path_parameters["key_id"] = _fresh_key_id(api)
        response = case.call_and_validate(
            base_url=api.base_url, headers=api.headers(), checks=CHECKS
        )
        SEEN[name][response.status_code] += 1

    run()


def test_every_operation_conforms_and_answers_a_documented_success(api: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(api_routes()), "an API route is missing from /openapi.json"
    failures = {}
    for operation in operations:
        try:
            _fuzz(operation, api)
        except Exception as error:
            failures[f"{operation.method.upper()} {operation.path}"] = str(error)
    assert failures == {}
    without_success = sorted(
        name for name, seen in SEEN.items() if not any(200 <= s < 300 for s in seen)
    )
    assert without_success == [], {name: SEEN[name] for name in without_success}
    total = sum(sum(counter.values()) for counter in SEEN.values())
    print(f"\nschemathesis: {total} requests over {len(operations)} operations")
