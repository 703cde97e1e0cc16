"""Schema fuzzing: schemathesis against the OpenAPI document `tally serve` publishes.

Every operation of `GET /openapi.json` is called with generated parameters,
headers and bodies, first valid ones (positive mode), then invalid ones
(negative mode), with a valid admin key. The checks: no 5xx; every status is
documented; every body, Content-Type and header matches what the document says
for that status; invalid data is refused with a 4xx; a route that answered 2xx
refuses the same request without its key and with a wrong one (`ignored_auth`).
`positive_data_acceptance` is left out on purpose: dates are documented as
strings, and the service rightly answers 400 to most generated strings.
"""

from __future__ import annotations

import collections
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.api_surface import api_routes
from tests.e2e.conftest import Server
from tests.support import message

pytestmark = pytest.mark.e2e

# Bounded so the whole module stays well under two minutes on a shared machine.
EXAMPLES = {GenerationMode.POSITIVE: 30, GenerationMode.NEGATIVE: 20}
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
CHECKS = {
    GenerationMode.POSITIVE: [*CONFORMANCE, ignored_auth],
    GenerationMode.NEGATIVE: [*CONFORMANCE, negative_data_rejection],
}
# 413: more than 500 events in one ingest request (API Gateway answers 413 to large bodies too).
REJECTIONS = ["400", "401", "403", "404", "405", "406", "413", "415", "422"]
# Statuses seen per operation and mode, for the coverage checks that follow the fuzzing.
SEEN: dict[tuple[str, GenerationMode], collections.Counter[int]] = collections.defaultdict(
    collections.Counter
)


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


def _fuzz(operation: Any, api: Server, mode: GenerationMode) -> None:
    name = f"{operation.method.upper()} {operation.path}"
    seen = SEEN[(name, mode)]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        phases=[Phase.explicit, Phase.generate],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Any) -> None:
        positive = mode is GenerationMode.POSITIVE
        if positive and "key_id" in (case.path_parameters or {}) and sum(seen.values()) % 2 == 0:
            # Random ids only ever reach the 404 branch; a real key reaches the 2xx one.
            case.path_parameters["key_id"] = _fresh_key_id(api)
        response = case.call_and_validate(
            base_url=api.base_url, headers=api.headers(), checks=CHECKS[mode]
        )
        seen[response.status_code] += 1

    run()


def test_every_operation_conforms_refuses_bad_data_and_answers_a_success(api: Server) -> None:
    schema = schemathesis.openapi.from_url(f"{api.base_url}/openapi.json")
    schema.config.checks.negative_data_rejection.expected_statuses = REJECTIONS
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= len(api_routes()), "an API route is missing from /openapi.json"
    failures = {}
    for mode in EXAMPLES:
        for operation in operations:
            try:
                _fuzz(operation, api, mode)
            except Exception as error:
                failures[f"{mode.value} {operation.method.upper()} {operation.path}"] = str(error)
    assert failures == {}
    positive = {
        name: seen for (name, mode), seen in SEEN.items() if mode is GenerationMode.POSITIVE
    }
    without_success = sorted(
        name for name, seen in positive.items() if not any(200 <= s < 300 for s in seen)
    )
    assert without_success == [], {name: positive[name] for name in without_success}
    server_errors = sum(n for seen in SEEN.values() for status, n in seen.items() if status >= 500)
    assert server_errors == 0
    totals = {
        mode: sum(sum(s.values()) for (_, m), s in SEEN.items() if m is mode) for mode in EXAMPLES
    }
    print(
        f"\nschemathesis: {sum(totals.values())} requests over {len(operations)} operations"
        f" ({totals[GenerationMode.POSITIVE]} positive, {totals[GenerationMode.NEGATIVE]} negative),"
        f" {server_errors} server errors"
    )
