"""Abuse resistance over real HTTP: rate limits, size limits, headers, CORS, clean errors."""

from __future__ import annotations

import pytest
import requests

from registry import create_app
from registry.api.rate_limit import RateLimiter
from tests.conftest import LiveServer, bearer, close_storage, issue_key

PIN = "CAT0336DLTJF00123"
ORIGIN = "https://console.customs.example"


@pytest.fixture
def limited(tmp_path):
    app = create_app({"DB": str(tmp_path / "limited.db"), "RATE_LIMIT_PER_MINUTE": 60, "RATE_LIMIT_BURST": 3,
                      "MAX_CONTENT_LENGTH": 4096, "CORS_ORIGINS": [ORIGIN]})
    with LiveServer(app, issue_key(app)) as live:
        yield app, live
    close_storage(app)


def test_a_key_over_its_rate_gets_429_with_retry_after_and_others_are_unaffected(limited):
    app, server = limited
    answers = [server.post("/v1/checks", json={"identifier": PIN}) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
    assert answers[-1].json()["title"] == "Too many requests"
    other = requests.post(server.url + "/v1/checks", json={"identifier": PIN}, timeout=30,
                          headers=bearer(issue_key(app, "border")))
    assert other.status_code == 200


def test_token_bucket_refills_at_its_rate():
    now = [0.0]
    limiter = RateLimiter(per_minute=60, burst=2, clock=lambda: now[0])
    assert [limiter.acquire("k"), limiter.acquire("k")] == [0, 0]
    assert limiter.acquire("k") == 1
    now[0] = 1.0
    assert limiter.acquire("k") == 0
    assert limiter.acquire("other") == 0


def test_an_oversized_body_gets_413_as_a_problem(limited):
    _, server = limited
    answer = server.post("/v1/checks", json={"identifier": PIN, "description": "x" * 5000})
    assert answer.status_code == 413
    assert answer.headers["Content-Type"].startswith("application/problem+json")


@pytest.mark.parametrize("path", ["/healthz", "/v1/checks", "/v1/nowhere", "/docs"])
def test_security_headers_on_every_response(server, path):
    answer = requests.get(server.url + path, timeout=30)  # no key: errors need the headers too
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Referrer-Policy"] == "no-referrer"
    assert answer.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_cors_is_off_unless_configured(server):
    preflight = requests.options(server.url + "/v1/checks", timeout=30, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST"})
    assert "Access-Control-Allow-Origin" not in preflight.headers
    answer = server.post("/v1/checks", json={"identifier": PIN}, headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_configured_origins_get_cors_and_others_do_not(limited):
    _, server = limited
    preflight = requests.options(server.url + "/v1/checks", timeout=30, headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})
    assert preflight.status_code == 204
    assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
    answer = server.post("/v1/checks", json={"identifier": PIN}, headers={"Origin": ORIGIN})
    assert answer.headers["Access-Control-Allow-Origin"] == ORIGIN
    stranger = server.post("/v1/checks", json={"identifier": PIN}, headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in stranger.headers


@pytest.mark.parametrize(("method", "path", "kwargs"), [
    ("POST", "/v1/checks", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v1/checks", {"data": b"\xff\xfe\x00", "headers": {"Content-Type": "application/json"}}),
    ("POST", "/v1/reports", {"json": [1, 2, 3]}),
    ("PATCH", "/v1/reports/01a21362-0000-7000-8000-000000000000", {"data": b"[", "headers": {"If-Match": "*"}}),
    ("GET", "/v1/reports", {"params": {"cursor": "%%%", "limit": "-1"}}),
    ("GET", "/v1/audit", {"params": {"cursor": "eyJ4IjogMX0"}}),
    ("DELETE", "/v1/keys/%2E%2E%2Fetc%2Fpasswd", {}),
    ("POST", "/v1/keys", {"json": {"role": "admin", "expires": "9999-99-99"}}),
])
def test_bad_input_gets_a_clear_problem_without_internals(server, method, path, kwargs):
    answer = server.http.request(method, server.url + path, timeout=30, **kwargs)
    assert 400 <= answer.status_code < 500, answer.text
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    body = answer.json()
    assert body["status"] == answer.status_code and body["title"]
    for leak in ("Traceback", "File \"", ".py", "/work/", "site-packages", "sqlite3.", "elasticsearch."):
        assert leak not in answer.text
