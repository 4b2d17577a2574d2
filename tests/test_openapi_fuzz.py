"""Schemathesis against the service's own OpenAPI document, over real HTTP, with a valid key.

For every operation in the document it generates valid requests and invalid
ones, and asserts that no answer is a 5xx and that every answer matches what
the document says.  Runs once per engine.  (Operations are driven one by one
here rather than through ``schemathesis.pytest.from_fixture``, which does not
work with pytest 9.)
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from registry import create_app
from tests.conftest import LiveServer, backend_settings, close_storage, issue_key

EXAMPLES_PER_OPERATION = 20  # per generation mode, per operation, per engine
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
UNLIMITED = {"RATE_LIMIT_PER_MINUTE": 10**9, "RATE_LIMIT_BURST": 10**9}  # fuzz the operations, not the limiter


@pytest.fixture
def unlimited_server(backend, tmp_path, request):
    """The app served with an admin key and no effective rate limit: every generated request is answered."""
    app = create_app({**backend_settings(backend, tmp_path, request), **UNLIMITED})
    try:
        with LiveServer(app, issue_key(app)) as live:
            yield live
    finally:
        close_storage(app)


def operations(server) -> list:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
def test_no_server_errors_and_answers_match_the_document(unlimited_server, mode):
    server = unlimited_server
    found = operations(server)
    assert {op.label for op in found} >= {"POST /v1/checks", "POST /v1/reports", "GET /v1/audit", "POST /v1/keys"}
    for operation in found:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def call_and_validate(case):
            case.call_and_validate(session=server.http, checks=CHECKS)

        try:
            call_and_validate()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE  # an operation that takes no input has no invalid one
