"""Operating the service as shipped: metrics from every gunicorn worker, JSON logs with request ids,
configuration errors without tracebacks, and the Dockerfile's and compose file's own commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from registry.config import ConfigurationError, load_settings
from tests.conftest import Browser, wait_until
from tests.processes import BIN, GUNICORN_CONFIG, Gunicorn, free_port, irontrace

ROOT = GUNICORN_CONFIG.parent
CHECKS = 30
NO_MATCH_SAMPLE = re.compile(r'^irontrace_checks_total\{match_type="none",verdict="no_match"\} (\S+)$', re.M)
CHECK_REQUESTS_SAMPLE = re.compile(
    r'^irontrace_http_requests_total\{endpoint="/v1/checks",method="POST",status="200"\} (\S+)$', re.M)


def sample(pattern: re.Pattern, text: str) -> float:
    found = pattern.search(text)
    assert found, f"no sample {pattern.pattern} in:\n{text[-3000:]}"
    return float(found.group(1))


def check_once(url: str, key: str, reading: str) -> requests.Response:
    """A check on a connection of its own, so the checks spread over the workers."""
    return requests.post(url + "/v1/checks", json={"identifier": reading}, timeout=30,
                         headers={"Authorization": f"Bearer {key}", "Connection": "close"})


def wait_until_ready(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/readyz", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready within {timeout} s")


@pytest.fixture
def served(tmp_path):
    metrics = tmp_path / "metrics"
    env = {"IRONTRACE_DB": str(tmp_path / "ops.db"), "PROMETHEUS_MULTIPROC_DIR": str(metrics)}
    with Gunicorn(env, workers=3) as server:
        key = server.http.headers["Authorization"].split()[1]
        yield server, key, metrics


def test_metrics_sum_every_worker_and_survive_a_killed_one(served):
    server, key, metrics = served
    assert all(check_once(server.url, key, f"NOPE{n:06d}").status_code == 200 for n in range(CHECKS))
    scrapes = [requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {key}",
                                                               "Connection": "close"}, timeout=30)
               for _ in range(5)]
    for scrape in scrapes:  # whichever worker answers, it reports every worker's checks
        errors = [line for line in server.log_lines() if line.get("level") in ("error", "critical")]
        assert scrape.status_code == 200, (scrape.text[:2000], errors)
        assert scrape.headers["Content-Type"].startswith("text/plain")
        assert sample(NO_MATCH_SAMPLE, scrape.text) == CHECKS
        assert sample(CHECK_REQUESTS_SAMPLE, scrape.text) == CHECKS
        for series in ("irontrace_http_request_duration_seconds_bucket", "irontrace_bulk_jobs{status=\"queued\"}",
                       "irontrace_storage_up 1.0", "irontrace_http_requests_in_flight"):
            assert series in scrape.text

    served_checks = {line["pid"] for line in server.log_lines() if line.get("endpoint") == "/v1/checks"}
    victim = next(iter(served_checks))
    assert (metrics / f"gauge_livesum_{victim}.db").exists()
    os.kill(victim, signal.SIGKILL)  # gunicorn starts another; child_exit marks the dead one
    deadline = time.monotonic() + 30
    while (metrics / f"gauge_livesum_{victim}.db").exists():
        assert time.monotonic() < deadline, "the killed worker's live gauges were not cleaned up"
        time.sleep(0.1)
    after = requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    assert sample(NO_MATCH_SAMPLE, after.text) == CHECKS  # its counts were kept


def test_one_json_line_per_request_with_its_request_id_and_never_the_key(served):
    server, key, _ = served
    sent = requests.post(server.url + "/v1/checks", json={"identifier": "CAT0336DLTJF00123"}, timeout=30,
                         headers={"Authorization": f"Bearer {key}", "X-Request-ID": "border-post-7:0001"})
    assert sent.headers["X-Request-ID"] == "border-post-7:0001"
    forged = requests.get(server.url + "/v1/reports", headers={"X-Request-ID": "bad id {json}", "Authorization":
                                                                "Bearer itk_0000_secretthatmustnotleak"}, timeout=30)
    assert forged.status_code == 401 and re.fullmatch(r"[0-9a-f]{32}", forged.headers["X-Request-ID"])
    time.sleep(0.2)  # the line is written once the answer has been sent
    lines = server.log_lines()  # every line is JSON (log_lines fails otherwise)
    mine = [line for line in lines if line.get("request_id") == "border-post-7:0001"]
    assert len(mine) == 1
    line = mine[0]
    assert line["logger"] == "irontrace.request" and line["status"] == 200 and line["method"] == "POST"
    assert line["principal"] == key.split("_")[1] and line["role"] == "admin" and line["duration_ms"] >= 0
    refused = [line for line in lines if line.get("request_id") == forged.headers["X-Request-ID"]]
    assert len(refused) == 1 and refused[0]["status"] == 401 and refused[0]["principal"] is None
    text = server.log_text()
    assert key.split("_", 2)[2] not in text and "secretthatmustnotleak" not in text and "Bearer" not in text
    assert {"irontrace.request", "gunicorn.error"} <= {line["logger"] for line in lines}


def logged_requests(server: Gunicorn, request_id: str) -> list[dict]:
    """The access log's lines of one request, once written (after its answer has been sent)."""
    return wait_until(lambda: [line for line in server.log_lines() if line.get("request_id") == request_id], bool,
                      f"a line for request {request_id}", timeout=10)


def test_a_signed_in_persons_pages_are_logged_with_their_name_and_role_and_never_their_password(served):
    server, _, _ = served
    password = "PlateWornSmooth-at-the-Border-7"  # one token: it would show as sent, not encoded
    created = irontrace("users", "create", "officer-7", "--role", "border", env={**server.env,
                                                                                 "IRONTRACE_PASSWORD": password})
    assert created.returncode == 0, created.stderr
    browser = Browser(server)
    assert browser.sign_in("officer-7", password).url == server.url + "/"
    page = browser.get("/", headers={"X-Request-ID": "officer-7:0001"})
    assert page.status_code == 200
    [line] = logged_requests(server, "officer-7:0001")
    assert line["principal"] == "user:officer-7" and line["role"] == "border" and line["status"] == 200
    assert password not in server.log_text()


def test_metrics_are_for_admins_only(served, tmp_path):
    server, _, _ = served
    env = {"IRONTRACE_DB": str(tmp_path / "ops.db")}
    dealer = irontrace("keys", "create", "--role", "dealer", env=env).stdout.strip().splitlines()[-1]
    assert requests.get(server.url + "/metrics", timeout=30).status_code == 401
    assert requests.get(server.url + "/metrics", headers={"Authorization": f"Bearer {dealer}"},
                        timeout=30).status_code == 403


@pytest.mark.parametrize(("variable", "value", "expected"), [
    ("IRONTRACE_BULK_BATCH_SIZE", "lots", "a whole number"),
    ("IRONTRACE_CORS_ORIGINS", "[broken", "comma-separated list"),
    ("IRONTRACE_WORKERS", "-2", "at least 0"),
    ("IRONTRACE_LOG_LEVEL", "loud", "one of debug, info"),
    ("IRONTRACE_BULK_POLL_SECONDS", "soon", "a number"),
])
def test_a_configuration_error_names_the_variable_and_the_form_without_a_traceback(tmp_path, variable, value,
                                                                                   expected):
    env = {**os.environ, "IRONTRACE_DB": str(tmp_path / "conf.db"), "IRONTRACE_BIND": f"127.0.0.1:{free_port()}",
           variable: value}
    served = subprocess.run([str(BIN / "gunicorn"), "-c", str(GUNICORN_CONFIG), "registry:create_app()"],
                            env=env, capture_output=True, text=True, timeout=60)
    command = subprocess.run([str(BIN / "irontrace"), "check", "CAT0336DLTJF00123"], env=env,
                             capture_output=True, text=True, timeout=60)
    for ended in (served, command):
        assert ended.returncode != 0
        assert variable in ended.stderr and expected in ended.stderr and value in ended.stderr
        assert "Traceback" not in ended.stderr


def test_lists_may_be_comma_separated_or_json(monkeypatch):
    monkeypatch.setenv("IRONTRACE_CORS_ORIGINS", " https://a.example, https://b.example ,")
    assert load_settings()["CORS_ORIGINS"] == ["https://a.example", "https://b.example"]
    monkeypatch.setenv("IRONTRACE_CORS_ORIGINS", '["https://a.example"]')
    assert load_settings()["CORS_ORIGINS"] == ["https://a.example"]
    monkeypatch.setenv("IRONTRACE_CORS_ORIGINS", '["https://a.example", 7]')
    with pytest.raises(ConfigurationError, match="IRONTRACE_CORS_ORIGINS"):
        load_settings()


class ShippedCommand:
    """A command from the Dockerfile or compose.yaml, run as the container runs it (from the app's
    directory, with its environment), on a registry of the test's own."""

    def __init__(self, argv: list[str], db: Path) -> None:
        self.argv, self.port = argv, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "IRONTRACE_DB": str(db),
                    "IRONTRACE_BIND": f"127.0.0.1:{self.port}", "IRONTRACE_WORKERS": "1"}
        self.log = db.parent / f"shipped-{self.port}.log"

    def __enter__(self) -> ShippedCommand:
        with self.log.open("w") as log:
            self.process = subprocess.Popen(self.argv, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        wait_until_ready(self.url)
        return self

    def __exit__(self, *exc) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)

    def request_lines(self) -> list[dict]:
        lines = (json.loads(line) for line in self.log.read_text().splitlines() if line.startswith("{"))
        return [line for line in lines if line["logger"] == "irontrace.request"]


def compose_command() -> list[str]:
    service = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]["irontrace"]
    return [part.replace("$$", "$") for part in shlex.split(service["command"])]  # compose's own escaping


def dockerfile_command() -> list[str]:
    line = next(line for line in (ROOT / "Dockerfile").read_text().splitlines() if line.startswith("CMD "))
    return json.loads(line.removeprefix("CMD "))


def key_count(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return connection.execute("SELECT count(*) FROM api_keys").fetchone()[0]


def test_the_compose_service_loads_demo_keys_on_its_first_start_only_and_logs_every_request(tmp_path):
    db = tmp_path / "compose.db"
    for start in range(2):
        with ShippedCommand(compose_command(), db) as service:
            keys = key_count(db)
            requests.get(service.url + "/healthz", timeout=30)
            time.sleep(0.2)
            assert any(line["path"] == "/healthz" for line in service.request_lines()), "no access log"
        if start == 0:
            first_keys = keys
    assert first_keys == 5 and keys == first_keys  # one per role, issued once


def test_the_dockerfile_command_logs_every_request(tmp_path):
    argv = dockerfile_command()
    assert argv[:3] == ["gunicorn", "-c", "gunicorn.conf.py"]
    with ShippedCommand(argv, tmp_path / "docker.db") as service:
        answer = requests.get(service.url + "/healthz", headers={"X-Request-ID": "probe-1"}, timeout=30)
        time.sleep(0.2)
        assert answer.headers["X-Request-ID"] == "probe-1"
        assert [line["request_id"] for line in service.request_lines()].count("probe-1") == 1
