"""The HTTP API against its own OpenAPI document: schemathesis generates requests from it
(the /v1/query body is the Query tool's schema) and checks every response conforms, with no
server errors, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from serving import LiveServer, live_server_fixture, served_db_fixture  # noqa: F401

# Schema-valid bodies the API may still refuse with a documented 400: the Query tool's schema is
# the strict subset model providers accept (no maxItems, no cross-field rules), and nl2sql's
# validator enforces the rest; a blank question fits the schema but is not a question.
SEMANTIC = [schemathesis.checks.positive_data_acceptance]

OPERATIONS = [
    ("POST", "/v1/ask"),
    ("POST", "/v1/query"),
    ("GET", "/v1/schema"),
    ("GET", "/healthz"),
]


@pytest.fixture(scope="module")
def api_schema(live_server: LiveServer) -> Any:
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")


def test_every_route_is_checked(api_schema: Any) -> None:
    documented = {(op.ok().method.upper(), op.ok().path) for op in api_schema.get_all_operations()}
    assert documented == set(OPERATIONS)


CASES = [(method, path, schemathesis.GenerationMode.POSITIVE) for method, path in OPERATIONS] + [
    # Only routes with a body have invalid requests to make.
    ("POST", "/v1/ask", schemathesis.GenerationMode.NEGATIVE),
    ("POST", "/v1/query", schemathesis.GenerationMode.NEGATIVE),
]


@pytest.mark.parametrize(("method", "path", "mode"), CASES)
def test_the_api_keeps_its_documented_contract(
    api_schema: Any, live_server: LiveServer, method: str, path: str, mode: Any
) -> None:
    """Positive: schema-valid requests; negative: invalid ones, which must get a 4xx."""
    operation = api_schema[path][method]
    headers = live_server.auth("unscoped")

    @given(case=operation.as_strategy(mode))
    @settings(
        max_examples=30,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def check(case: Any) -> None:
        case.call_and_validate(headers=headers, timeout=30, excluded_checks=SEMANTIC)

    check()
