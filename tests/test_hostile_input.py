"""Input an attacker sends, on both engines over real HTTP: every answer is a clear 4xx problem, never a 500.

The inputs are those that gave 500s when the service was attacked (issue 12): JSON
nested 100,000 deep, integers of 5,000 digits and lone surrogates on every JSON
endpoint and in JSON/NDJSON uploads, forged cursors, moments outside what UTC
timestamps hold, non-ASCII digits in If-Match; and the HTTP edges: 415 for a body
that is not JSON, 405 with Allow, one title per status.
"""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict

import pytest
import requests

from registry import create_app
from registry.access import DEALER
from registry.api.problems import TITLES
from registry.vocabulary import FINAL_JOB_STATUSES
from tests.conftest import LiveServer, backend_settings, bearer, close_storage, issue_key, report_data, wait_until
from tests.test_access import routes

NESTED = "[" * 100_000
HUGE_INTEGER = "1" * 5000
LONE_SURROGATE = '"\\ud800ABC12345"'
LEAKS = ("Traceback", 'File "', ".py", "/work/", "site-packages", "sqlite3.", "elasticsearch.", "RecursionError")


def assert_problem(answer: requests.Response, *statuses: int) -> dict:
    assert answer.status_code in statuses, (answer.status_code, answer.text[:500])
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    for leak in LEAKS:
        assert leak not in answer.text
    problem = answer.json()
    assert problem["status"] == answer.status_code and problem["title"] == TITLES[answer.status_code]
    return problem


def json_bodies_with(value: str) -> dict[str, str]:
    """``value`` (raw JSON text) as the whole body, and in the field each JSON endpoint reads first."""
    return {
        "whole body": value,
        "identifier": f'{{"identifier": {value}}}',
        "report field": json.dumps(report_data("HOSTILE-1")).replace('"Caterpillar"', value),
        "key label": f'{{"role": "border", "label": {value}}}',
    }


@pytest.fixture
def report(server) -> dict:
    return server.post("/v1/reports", json=report_data()).json()


@pytest.mark.parametrize("value", [NESTED, HUGE_INTEGER, LONE_SURROGATE], ids=["nested", "5000 digits", "surrogate"])
def test_hostile_json_on_every_json_endpoint_is_a_400(server, report, value):
    for where, body in json_bodies_with(value).items():
        for method, path, content_type in (
            ("POST", "/v1/checks", "application/json"),
            ("POST", "/v1/reports", "application/json"),
            ("POST", "/v1/keys", "application/json"),
            ("POST", "/v1/changes/checks", "application/json"),
            ("PATCH", f"/v1/reports/{report['id']}", "application/merge-patch+json"),
        ):
            answer = server.http.request(method, server.url + path, data=body.encode(), timeout=30,
                                         headers={"Content-Type": content_type, "If-Match": '"1"'})
            assert_problem(answer, 400), (where, method, path)
    assert server.get(f"/v1/reports/{report['id']}").json()["version"] == 1  # nothing was changed
    assert server.get("/v1/keys").json()["items"][-1]["role"] == "admin"  # no key was issued


@pytest.fixture
def job_server(backend, tmp_path, request):
    """A server that runs jobs in its own process on Elasticsearch too (by default `irontrace worker` does)."""
    app = create_app({**backend_settings(backend, tmp_path, request), "BULK_WORKER_THREADS": 1})
    with LiveServer(app, issue_key(app)) as live:
        yield live
    close_storage(app)


@pytest.mark.parametrize("value", [NESTED, HUGE_INTEGER, LONE_SURROGATE], ids=["nested", "5000 digits", "surrogate"])
@pytest.mark.parametrize("path", ["/v1/bulk-checks", "/v1/checks/bulk"])
def test_hostile_json_uploads_are_refused_or_answered_row_by_row(job_server, value, path):
    server = job_server
    as_array = server.post(path, data=f'[{{"serial": {value}}}]'.encode(), headers={"Content-Type": "application/json"})
    assert "not valid JSON" in assert_problem(as_array, 400)["detail"]
    lines = f'{{"serial": "CAT0336DLTJF00123"}}\n{{"serial": {value}}}\n'.encode()
    as_ndjson = server.post(path, data=lines, headers={"Content-Type": "application/x-ndjson"})
    if path == "/v1/bulk-checks":  # a job: the bad line is a row with an error, the file goes ahead
        assert as_ndjson.status_code == 202, as_ndjson.text
        job = wait_until(lambda: server.get(as_ndjson.headers["Location"]).json(),
                         lambda job: job["status"] in FINAL_JOB_STATUSES, "the job's end")
        assert (job["status"], job["rows_done"], job["errors"]) == ("done", 2, 1), job
    else:
        assert as_ndjson.status_code == 200, as_ndjson.text
        first, second = as_ndjson.json()["results"]
        assert first["error"] is None and "not valid JSON" in second["error"]


def test_numbers_too_large_for_a_field_are_422(server):
    body = json.dumps(report_data("BIG-1")).replace('"amount": 95000000', '"amount": ' + "9" * 4000)
    problem = assert_problem(server.post("/v1/reports", data=body, headers={"Content-Type": "application/json"}), 422)
    assert problem["errors"][0]["field"] == "value.amount"


# One Arabic ligature (U+FDFA) is 15 letters once normalized: five are past the 64 an identifier may have
# (64 of them made 960 letters and ~540,000 lookup keys).
EXPANDING = "\ufdfa" * 5


def test_an_identifier_that_expands_under_normalization_is_refused_on_every_path(server):
    checked = server.post("/v1/checks", json={"identifier": EXPANDING})
    assert "75 letters and digits once normalized" in assert_problem(checked, 422)["errors"][0]["message"]
    registered = server.post("/v1/reports", json=report_data("EXPANDS-1", identifiers=[
        {"type": "pin", "value": EXPANDING}]))
    assert "once normalized" in assert_problem(registered, 422)["errors"][0]["message"]
    assert server.get("/v1/reports", params={"q": "EXPANDS-1"}).json()["items"] == []
    rows = f'{{"serial": "CAT0336DLTJF00123"}}\n{{"serial": "{EXPANDING}"}}\n'.encode()
    first, second = server.post("/v1/checks/bulk", data=rows, headers={
        "Content-Type": "application/x-ndjson"}).json()["results"]
    assert first["error"] is None and "once normalized" in second["error"]


def encoded(position: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


# Positions no engine issues: out of 64 bits, negative, of no cursor's shape, not encodable, not base64.
FORGED_CURSORS = [
    encoded(2**70), encoded(-5), encoded([2**64, "x"]), encoded([-1, "x"]), encoded({"seq": 1}), encoded("\ud800"),
    base64.urlsafe_b64encode(b'"\\ud800"').decode(), "%%%", "eyJ4IjogMX0", encoded(1.5), encoded(True),
]


@pytest.mark.parametrize("path", ["/v1/reports", "/v1/audit", "/v1/bulk-checks", "/v1/changes"])
def test_forged_cursors_are_400(server, report, path):
    parameter = "after" if path == "/v1/changes" else "cursor"
    for cursor in FORGED_CURSORS:
        assert_problem(server.get(path, params={parameter: cursor}), 400)


OUT_OF_RANGE_MOMENTS = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0000-01-01", "99999-01-01",
                        "2026-02-30", "2026-01-01T25:00:00"]


def test_moments_outside_utc_timestamps_are_refused(server):
    for moment in OUT_OF_RANGE_MOMENTS:
        for name in ("since", "until"):
            assert_problem(server.get("/v1/audit", params={name: moment}), 422)
            assert_problem(server.get("/v1/audit/export", params={name: moment}), 422)
    for expires in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "99999-01-01"):
        assert_problem(server.post("/v1/keys", json={"role": "border", "expires": expires}), 400, 422)


@pytest.mark.parametrize("tag", ['"١٢"', '"²"', '"𝟙"', '"' + "1" * 5000 + '"', '"99999999999999999999"', "W/", '""'])
def test_if_match_that_names_no_version_is_412(server, report, tag):
    answer = server.patch(f"/v1/reports/{report['id']}", json={"color": "red"},
                          headers={"If-Match": tag.encode().decode("latin-1")})
    assert_problem(answer, 412)
    assert server.get(f"/v1/reports/{report['id']}").json()["version"] == 1


@pytest.mark.parametrize(("content_type", "body"), [
    ("application/x-www-form-urlencoded", b"identifier=CAT0336DLTJF00123"),
    ("text/plain", b'{"identifier": "CAT0336DLTJF00123"}'),
    (None, b'{"identifier": "CAT0336DLTJF00123"}'),
])
def test_bodies_that_are_not_json_get_415_on_json_endpoints(server, report, content_type, body):
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in (("POST", "/v1/checks"), ("POST", "/v1/reports"), ("POST", "/v1/keys"),
                         ("POST", "/v1/changes/checks"), ("PATCH", f"/v1/reports/{report['id']}")):
        answer = server.http.request(method, server.url + path, data=body, timeout=30,
                                     headers={**headers, "If-Match": '"1"'})
        assert "reads JSON" in assert_problem(answer, 415)["detail"]
    assert server.post("/v1/checks", json={"identifier": "CAT0336DLTJF00123"}).status_code == 200


def test_every_endpoint_answers_405_with_allow_for_other_methods(app, server, report):
    served: dict[str, set[str]] = defaultdict(set)
    for route in routes(app):
        method, path = route.split(" ", 1)
        served[path].add(method)
    for path, methods in served.items():
        concrete = path.replace("{id}", report["id"])
        for method in {"GET", "POST", "PUT", "PATCH", "DELETE"} - methods:
            answer = server.http.request(method, server.url + concrete, timeout=30)
            assert_problem(answer, 405)
            allowed = {m.strip() for m in answer.headers["Allow"].split(",")}
            assert methods <= allowed, (path, method, answer.headers["Allow"])


def test_each_status_has_one_title_whoever_answers(app, server, report):
    """Problems from werkzeug, webargs, the domain and the HTTP edge: the same title per status."""
    dealer = bearer(issue_key(app, DEALER))
    answers = [
        server.get("/v1/nowhere"), server.get("/v1/reports/nope"),  # routing 404, domain 404
        server.post("/v1/checks", data=b"{", headers={"Content-Type": "application/json"}),  # webargs 400
        server.get("/v1/reports", params={"cursor": "%%%"}),  # domain 400
        server.post("/v1/checks", json={}), server.post("/v1/reports", json={"status": "x"}),  # 422 both ways
        server.get("/v1/reports", params={"limit": "0"}),
        server.http.put(server.url + "/v1/checks", timeout=30),  # 405
        requests.get(server.url + "/v1/reports", timeout=30),  # 401
        requests.get(server.url + "/v1/reports", headers=dealer, timeout=30),  # 403
        server.post("/v1/checks", data=b"x", headers={"Content-Type": "text/plain"}),  # 415
        server.patch(f"/v1/reports/{report['id']}", json={"color": "red"}),  # 428
        server.patch(f"/v1/reports/{report['id']}", json={"color": "red"}, headers={"If-Match": '"7"'}),  # 412
    ]
    titles: dict[int, set[str]] = defaultdict(set)
    for answer in answers:
        titles[answer.status_code].add(answer.json()["title"])
    assert {status: {TITLES[status]} for status in titles} == dict(titles)
    assert set(titles) == {400, 401, 403, 404, 405, 412, 415, 422, 428}


def test_a_dealer_cannot_tell_an_existing_report_from_a_missing_one(app, server, report):
    dealer = bearer(issue_key(app, DEALER))
    missing = "01a21362-0000-7000-8000-000000000000"
    for if_match in ('"1"', "*"):
        existing = server.http.patch(f"{server.url}/v1/reports/{report['id']}", json={"color": "red"},
                                     headers={**dealer, "If-Match": if_match}, timeout=30)
        absent = server.http.patch(f"{server.url}/v1/reports/{missing}", json={"color": "red"},
                                   headers={**dealer, "If-Match": if_match}, timeout=30)
        assert existing.status_code == absent.status_code == 403
        assert re.sub(report["id"], missing, existing.text) == absent.text
