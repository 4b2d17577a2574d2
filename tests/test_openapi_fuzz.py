"""Schemathesis against the service's own OpenAPI document, over real HTTP, with a valid key.

For every operation in the document it generates valid requests and invalid
ones, and asserts that no answer is a 5xx and that every answer matches what
the document says, its status included (every status an operation answers
must be documented).  Then it sends every operation the inputs an attacker
sent (issue 12): JSON nested 100,000 deep, 5,000-digit integers and lone
surrogates in every body field, and out-of-range moments, forged cursors and
such in every parameter, and holds the answers to the same checks.  Runs once
per engine.  (Operations are driven one by one here rather than through
``schemathesis.pytest.from_fixture``, which does not work with pytest 9.)
"""

from __future__ import annotations

import base64
import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from registry import create_app
from tests.conftest import LiveServer, backend_settings, close_storage, issue_key

EXAMPLES_PER_OPERATION = 20  # per generation mode, per operation, per engine
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance, status_code_conformance,
          allow_header_conformance]
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


# What an attacker sends (raw JSON text for bodies; text for parameters and headers).
HOSTILE_JSON = ["[" * 100_000, "1" * 5000, '"\\ud800ABC12345"', '{"a": ' * 40 + "1" + "}" * 40, "-" + "9" * 4500]
HOSTILE_TEXT = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "9" * 5000, "١٢", "\ud800",
                base64.urlsafe_b64encode(json.dumps([2**70, "x"]).encode()).decode(), "-1", "%00", "a" * 5000]


def resolved(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def hostile_requests(document: dict, path: str, method: str, operation: dict):
    """(path, params, headers, body) for each hostile input in each place the operation reads one."""
    concrete = path.replace("{report_id}", "01a21362-0000-7000-8000-000000000000").replace(
        "{job_id}", "nope").replace("{key_id}", "nope")
    for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
        if "json" not in media_type:
            continue
        fields = list(resolved(document, content["schema"]).get("properties", {}))
        for value in HOSTILE_JSON:
            yield concrete, {}, {"Content-Type": media_type, "If-Match": "*"}, value
            for field in fields:
                yield concrete, {}, {"Content-Type": media_type, "If-Match": "*"}, f'{{"{field}": {value}}}'
    for parameter in operation.get("parameters", []):
        for value in HOSTILE_TEXT:
            raw = value.encode("utf-8", "surrogatepass")  # a lone surrogate goes out as its three bytes
            if parameter["in"] == "query":
                yield f"{concrete}?{parameter['name']}={requests.utils.quote(raw, safe='')}", {}, {}, None
            elif parameter["in"] == "header":
                yield concrete, {}, {parameter["name"]: raw.decode("latin-1")}, b"{}"
            elif parameter["in"] == "path":
                yield path.replace("{" + parameter["name"] + "}", requests.utils.quote(raw, safe="")), {}, {}, None


def test_hostile_inputs_in_every_place_of_every_operation(unlimited_server):
    server = unlimited_server
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    document = server.get("/openapi.json").json()
    sent = 0
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "post", "patch", "delete"):
                continue
            api_operation = schema[path][method.upper()]
            for concrete, params, headers, body in hostile_requests(document, path, method, operation):
                answer = server.http.request(method, server.url + concrete, params=params, headers=headers,
                                             data=body.encode() if isinstance(body, str) else body, timeout=60)
                assert answer.status_code < 500, (method, concrete, params, headers, answer.text[:300])
                api_operation.validate_response(answer)
                sent += 1
    assert sent > 400
