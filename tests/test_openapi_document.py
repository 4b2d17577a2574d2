"""The OpenAPI document and /docs: complete, true to the wire, and usable offline."""

from __future__ import annotations

import datetime as dt
import json
import re
from importlib.metadata import version

import pytest
import requests
import schemathesis
from urllib3.response import HTTPResponse

from registry import create_app
from registry.api import examples
from registry.api.docs import CONTENT_SECURITY_POLICY
from tests.conftest import LiveServer, close_storage, issue_key, report_data

METHODS = ("get", "post", "put", "patch", "delete")
JSON_TYPES = ("application/json", "application/merge-patch+json", "application/problem+json")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    app = create_app({"DB": str(tmp_path_factory.mktemp("doc") / "doc.db"), "BULK_WORKER_THREADS": 0})
    with LiveServer(app, issue_key(app)) as live:
        yield live
    close_storage(app)


@pytest.fixture(scope="module")
def document(served) -> dict:
    return served.get("/openapi.json").json()


def operations(document: dict):
    for path, item in document["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def test_info_version_is_the_package_version(document):
    assert document["info"]["version"] == version("irontrace")


def test_every_operation_has_a_unique_operation_id(document):
    ids = [operation.get("operationId") for _, _, operation in operations(document)]
    assert None not in ids and len(ids) == len(set(ids)) and len(ids) >= 21


def has_text(media_type: str, content: dict) -> bool:
    """Whether a body can be shown as an example: not a file's bytes (multipart, an Excel workbook)."""
    return media_type != "multipart/form-data" and content.get("schema", {}).get("format") != "binary"


def test_every_body_and_success_answer_has_an_example(document):
    missing = []
    for path, method, operation in operations(document):
        for media_type, content in operation.get("requestBody", {}).get("content", {}).items():
            if has_text(media_type, content) and "example" not in content:
                missing.append(f"{method} {path} request {media_type}")
        for status, response in operation["responses"].items():
            for media_type, content in (response.get("content") or {}).items():
                if status.startswith("2") and has_text(media_type, content) and "example" not in content:
                    missing.append(f"{method} {path} {status} {media_type}")
    assert missing == []


def synthetic(status: int, media_type: str, body: object) -> requests.Response:
    """A response carrying a documented example, for schemathesis to validate against the document."""
    response = requests.Response()
    response.status_code = status
    response._content = (json.dumps(body) if media_type in JSON_TYPES else str(body)).encode()
    response.headers["Content-Type"] = media_type
    response.raw = HTTPResponse(body=b"", headers={"Content-Type": media_type}, status=status, version=11,
                                preload_content=False)
    response.request = requests.Request("GET", "http://example.invalid/").prepare()
    response.elapsed = dt.timedelta(0)
    return response


def test_every_success_example_matches_its_schema(served, document):
    schema = schemathesis.openapi.from_url(served.url + "/openapi.json")
    checked = 0
    for path, method, operation in operations(document):
        api_operation = schema[path][method.upper()]
        for status, response in operation["responses"].items():
            for media_type, content in (response.get("content") or {}).items():
                if status.startswith("2") and "example" in content:
                    api_operation.validate_response(synthetic(int(status), media_type, content["example"]))
                    checked += 1
    assert checked >= 21


def test_request_examples_are_accepted_by_the_service(served):
    created = served.post("/v1/reports", json=examples.REPORT_INPUT)
    assert created.status_code == 201, created.text
    assert served.post("/v1/checks", json=examples.CHECK_REQUEST).json()["verdict"] == "possible_match"
    patched = served.patch(created.headers["Location"], json=examples.REPORT_PATCH,
                           headers={"If-Match": created.headers["ETag"],
                                    "Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200 and "description" not in patched.json()
    assert served.post("/v1/keys", json=examples.KEY_CREATE).status_code == 201


def test_versions_and_problems_are_documented(document):
    patch = document["paths"]["/v1/reports/{report_id}"]["patch"]
    [if_match] = [p for p in patch["parameters"] if p["name"] == "If-Match"]
    assert if_match["in"] == "header" and if_match["required"] is True
    assert {"409", "412", "428"} <= set(patch["responses"])
    for path, method in (("/v1/reports/{report_id}", "get"), ("/v1/reports/{report_id}", "patch"),
                         ("/v1/reports", "post")):
        assert "ETag" in document["paths"][path][method]["responses"][str(200 if method != "post" else 201)]["headers"]
    problem = document["components"]["schemas"]["Problem"]
    assert {"errors", "existing_id", "current_version", "job_status", "limit", "unit", "reason"} <= set(
        problem["properties"])
    assert problem.get("additionalProperties") is not False
    for path, method, operation in operations(document):
        responses = operation["responses"]
        assert "default" not in responses, "a catch-all would hide undocumented statuses"
        if operation.get("security") != []:
            assert {"401", "403", "429", "503"} <= set(responses), (method, path)
        if method in ("post", "patch", "delete"):
            assert "507" in responses, (method, path)
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(responses), (method, path)


def test_docs_work_offline_with_the_apps_own_origin_only(served):
    page = served.get("/docs")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    for directive in CONTENT_SECURITY_POLICY.split(";"):
        sources = directive.split()[1:]
        assert all(s in ("'self'", "'none'", "data:") for s in sources), directive
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert referenced and all(ref.startswith("/") and not ref.startswith("//") for ref in referenced)
    assert "<script>" not in page.text  # no inline script: the CSP would block it
    for ref in referenced:
        asset = requests.get(served.url + ref, timeout=30)  # no key: the page is public
        assert asset.status_code == 200 and asset.content, ref
        assert "Content-Security-Policy" in asset.headers
    assert requests.get(served.url + "/docs/assets/index.html", timeout=30).status_code == 404
    start = served.get("/docs/start.js").text
    assert "SwaggerUIBundle" in start and "http" not in start


def test_patch_with_the_example_etag_is_the_documented_flow(served):
    created = served.post("/v1/reports", json=report_data("DOC-ETAG-1"))
    assert created.headers["ETag"] == '"1"'
    stale = served.patch(created.headers["Location"], json={"color": "red"}, headers={"If-Match": '"0"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 1
