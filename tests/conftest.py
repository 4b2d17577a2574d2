"""Shared fixtures: real SQLite files, a real Elasticsearch node, real HTTP servers.

Every test that asks for ``app`` (and so ``server`` and ``services``) runs
once per storage backend: this is the conformance suite that holds the
embedded default and Elasticsearch to the same behaviour.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import re
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, settings
from werkzeug.serving import make_server

from registry import create_app
from registry.access import ADMIN, Actor
from registry.api.extension import EXTENSION_KEY
from registry.audit_chain import IMPORT_BATCH_ACTION
from registry.config import load_settings
from registry.records import AuditEntry, Document, ImportOutcome, Report
from registry.services import Services
from registry.stamps import utc_now
from registry.storage.interfaces import Engine
from search.keys import IdentifierKeys

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
BACKENDS = ("sqlite", "elasticsearch")
TEST_REFRESH_INTERVAL = "100ms"  # writes wait for a refresh; keep that wait short in tests

# Property tests judge answers, never speed: no per-example deadline or slowness check (a loaded
# machine would fail them at random), and under CI the same examples every run.
settings.register_profile(
    "irontrace",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=os.environ.get("CI", "").lower() == "true",
)
settings.load_profile("irontrace")


ES_URL_VARIABLE = "IRONTRACE_TEST_ES_URL"
ES_FAILURE_VARIABLE = "IRONTRACE_TEST_ES_FAILURE"  # why the shared node did not start (set for workers)


def _start_node() -> Any:
    sys.path.insert(0, str(SCRIPTS))
    from es_node import start_node

    return start_node()


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist, start one Elasticsearch node in the controller for every worker.

    Workers inherit its URL (or the reason it did not start) through the environment, so two
    workers never start two nodes on two cores.
    """
    parallel = getattr(config.option, "numprocesses", None)
    if hasattr(config, "workerinput") or not parallel or os.environ.get(ES_URL_VARIABLE):
        return
    try:
        node = _start_node()
    except Exception as exc:  # fetch, JDK, start-up: any reason the node is not there
        os.environ[ES_FAILURE_VARIABLE] = f"cannot start an Elasticsearch node: {exc}"
        return
    config.add_cleanup(node.stop)
    os.environ[ES_URL_VARIABLE] = node.url


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with a test marked ``slow`` first, then files by their number of tests, most first.

    Under ``--dist loadfile`` a long file started last leaves the other workers idle while it runs
    (tests/test_cluster.py did, for minutes).  xdist hands out files in this order only with
    ``--no-loadscope-reorder`` (pyproject's addopts); its own reordering, by number of tests alone,
    put the slow files in the middle of the queue.
    """
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    tests_in = collections.Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path not in slow_files, -tests_in[item.path]))


@pytest.fixture(scope="session")
def es_url() -> Iterator[str]:
    """A real cluster for the session: ``IRONTRACE_TEST_ES_URL`` (set by the controller under
    xdist), else a node started here.

    Under ``CI=true`` a node that cannot start fails the run with the reason;
    elsewhere the Elasticsearch half of the suite is skipped, saying why.
    """
    url = os.environ.get(ES_URL_VARIABLE)
    if url:
        yield url
        return
    node = None
    reason = os.environ.get(ES_FAILURE_VARIABLE)
    if reason is None:
        try:
            node = _start_node()
        except Exception as exc:  # fetch, JDK, start-up: any reason the node is not there
            reason = f"cannot start an Elasticsearch node: {exc}"
    if node is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)  # only outside CI: under CI=true the run failed just above
    try:
        yield node.url
    finally:
        node.stop()


def settings_for(url: str, **overrides: Any) -> dict[str, Any]:
    """Settings for an Elasticsearch-backed app with indices of its own (and a heads file of its own,
    in the temporary directory rather than the working one)."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    return load_settings({
        "ES_URL": url,
        "ES_INDEX_PREFIX": prefix,
        "ES_REFRESH_INTERVAL": TEST_REFRESH_INTERVAL,
        "AUDIT_HEADS_FILE": os.path.join(tempfile.gettempdir(), f"irontrace-{prefix}-audit-heads.ndjson"),
        **overrides,
    })


def store_env(app) -> dict[str, str]:
    """Environment that points ``irontrace`` commands and workers at the same registry as ``app``."""
    settings = app.config["IRONTRACE"]
    heads = {"IRONTRACE_AUDIT_HEADS_FILE": settings["AUDIT_HEADS_FILE"]}
    if settings.get("ES_URL"):
        return {"IRONTRACE_ES_URL": settings["ES_URL"], "IRONTRACE_ES_INDEX_PREFIX": settings["ES_INDEX_PREFIX"],
                **heads}
    return {"IRONTRACE_DB": settings["DB"], **heads}


def audit_entry(action: str = IMPORT_BATCH_ACTION, subject: str | None = None, **details: Any) -> AuditEntry:
    """An audit entry by the operator, as a service would hand one to an engine with a write."""
    return {"at": utc_now(), "action": action, "actor": Actor.operator().as_record(), "subject": subject,
            "details": details}


def es_cluster(engine: Engine):
    """The cluster connection behind an Elasticsearch engine's stores."""
    return engine.reports.cluster  # type: ignore[attr-defined]


def drop_indices(engine: Engine) -> None:
    """Remove the indices of one test's prefix, then close the client."""
    cluster = es_cluster(engine)
    names = list(cluster.client.indices.get(index=f"{cluster.prefix}-*"))
    if names:
        cluster.client.indices.delete(index=",".join(names))
    engine.close()


def upsert(engine: Engine, reports: list[Report]) -> list[ImportOutcome]:
    """Store reports as an import does (prepared, then upserted with the batch's entry), without
    validating them."""
    return engine.reports.upsert_prepared(engine.reports.prepare(reports), audit_entry(source="tests"))


def candidates(engine: Engine, keys: IdentifierKeys | None, description: str | None) -> list[Report]:
    """The candidates of one check."""
    return engine.candidates.find_candidates_many([(keys, description)])[0]


def sqlite_path(engine: Engine) -> str:
    """The file behind an embedded engine."""
    return engine.reports.database.path  # type: ignore[attr-defined]


def stored_check(engine: Engine, check_id: str) -> Document:
    """The check record an engine kept, read from its own storage."""
    if engine.admin is not None:
        cluster = es_cluster(engine)
        return cluster.client.get(index=cluster.checks_alias, id=check_id)["_source"]["document"]
    row = engine.checks.database.connection().execute(  # type: ignore[attr-defined]
        "SELECT document FROM checks WHERE id = ?", (check_id,)).fetchone()
    assert row is not None, f"no check record {check_id}"
    return json.loads(row[0])


# Tests call every endpoint with bad keys far more often than a client would, and do upkeep
# (recovery, the published head) by calling it, not on a timer: tests of those set their own.
# Webhook receivers in tests listen on 127.0.0.1, which production settings refuse.
TEST_LIMITS = {"AUTH_FAILURE_BURST": 100_000, "MAINTENANCE_SECONDS": 3600, "WEBHOOK_ALLOW_PRIVATE": True}


def backend_settings(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "sqlite":
        return {"DB": str(tmp_path / "irontrace.db"), **TEST_LIMITS}
    return settings_for(request.getfixturevalue("es_url"), **TEST_LIMITS)


def close_storage(app) -> None:
    """Close what the app opened (workers, sources, storage), dropping its indices first."""
    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()
    if services.engine.admin is not None:  # Elasticsearch: the test's indices go with it
        drop_indices(services.engine)
    services.close()


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def app(backend: str, tmp_path: Path, request: pytest.FixtureRequest):
    app = create_app(backend_settings(backend, tmp_path, request))
    yield app
    close_storage(app)


@pytest.fixture
def services(app) -> Services:
    return app.extensions[EXTENSION_KEY]


def issue_key(app, role: str = ADMIN, agency: str | None = None, **options: Any) -> str:
    """A real API key of ``role``, issued through the service as ``irontrace keys create`` does."""
    key, _ = app.extensions[EXTENSION_KEY].keys.create(Actor.operator(), role, agency, **options)
    return key


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class LiveServer:
    """The app served over real HTTP on a loopback port, in a background thread.

    ``http`` carries an admin key unless told otherwise: the tests of one
    capability act as the administrator; the access-control tests pick keys
    per request.
    """

    def __init__(self, app, key: str | None = None) -> None:
        self.app = app
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self.http = requests.Session()
        if key:
            self.http.headers.update(bearer(key))

    def __enter__(self) -> LiveServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._thread.join(timeout=10)
        self.http.close()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url + path, timeout=30, **kwargs)

    def patch(self, path: str, **kwargs) -> requests.Response:
        return self.http.patch(self.url + path, timeout=30, **kwargs)

    def delete(self, path: str, **kwargs) -> requests.Response:
        return self.http.delete(self.url + path, timeout=30, **kwargs)


@pytest.fixture
def server(app) -> Iterator[LiveServer]:
    with LiveServer(app, issue_key(app)) as live:
        yield live


class FileClock:
    """The time a test's services count by (``CLOCK_FILE``): it stands still until the test moves it,
    in every process reading the file alike."""

    START = dt.datetime(2026, 11, 26, 8, 0, tzinfo=dt.UTC).timestamp()

    def __init__(self, path: Path, now: float = START) -> None:
        self.path = path
        self.set(now)

    @property
    def now(self) -> float:
        return float(self.path.read_text())

    def set(self, now: float) -> None:
        partial = self.path.with_suffix(".partial")
        partial.write_text(repr(now))
        os.replace(partial, self.path)  # readers see the old time or the new, never an empty file

    def advance(self, seconds: float) -> None:
        self.set(self.now + seconds)


@pytest.fixture
def clock(tmp_path: Path) -> FileClock:
    """A clock the service reads from a file (``CLOCK_FILE``), moved by the test, never by sleeping."""
    return FileClock(tmp_path / "clock")


def wait_until(fetch: Callable[[], Any], done: Callable[[Any], bool], what: str, timeout: float = 180) -> Any:
    """Poll ``fetch`` until ``done`` holds for what it returns (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout} s: {value}")
        time.sleep(0.05)


RECOVERY = {"date": "2026-11-26", "place": "Zhibek Zholy border post", "country": "KZ",
            "agency": "Border Service of Kazakhstan", "note": "On a low-loader bound for the border."}


def without_review(report: dict) -> dict:
    """A report as stored: without the review date and flag the API shows with it."""
    return {k: v for k, v in report.items() if k not in ("review_at", "review_due")}


def report_data(ref: str = "KZ-TRK-2025-000001", **overrides) -> dict:
    """A valid report as an agency would submit it; override any top-level field."""
    data = {
        "external_ref": ref,
        "status": "stolen",
        "category": "excavator",
        "manufacturer": "Caterpillar",
        "model": "336D L",
        "year": 2019,
        "color": "yellow",
        "identifiers": [
            {"type": "pin", "value": "CAT0336DLTJF00123", "location": "plate on the left side of the frame"},
            {"type": "engine", "value": "C9-4RT05521"},
        ],
        "description": "Yellow tracked excavator with a hydraulic breaker, cab window cracked.",
        "incident": {"date": "2025-11-20", "country": "KZ", "region": "Turkestan", "place": "Tulkubas impound lot"},
        "value": {"amount": 95000000, "currency": "KZT"},
        "reporting_agency": {"name": "Police Department of Turkestan Region", "country": "KZ",
                             "contact": "+7 7252 00 00 00"},
    }
    data.update(overrides)
    return data


CSRF_FIELD = re.compile(r'name="csrf_token"(?: type="hidden")? value="([^"]+)"')
TEST_PASSWORD = "correct horse battery staple"


def create_user(app, role: str = ADMIN, agency: str | None = None, username: str | None = None) -> str:
    """A real account of ``role`` (password ``TEST_PASSWORD``), created as ``irontrace users create`` does."""
    name = username or f"{role}-{uuid.uuid4().hex[:8]}"
    app.extensions[EXTENSION_KEY].users.create(Actor.operator(), name, role, TEST_PASSWORD, agency)
    return name


def csrf_token(page: str) -> str:
    """The CSRF token a page's form carries."""
    found = CSRF_FIELD.search(page)
    assert found, "the page has no form with a CSRF token"
    return found[1]


class Browser:
    """A person's browser without the browser: cookies, and forms posted with their CSRF token."""

    def __init__(self, server: LiveServer) -> None:
        self.url = server.url
        self.http = requests.Session()

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def submit(self, path: str, data: dict | None = None, form_at: str | None = None, **kwargs) -> requests.Response:
        """Open the page holding the form (``form_at``, else ``path``) and post it with its token."""
        token = csrf_token(self.get(form_at or path).text)
        return self.http.post(self.url + path, data={"csrf_token": token, **(data or {})}, timeout=30, **kwargs)

    def sign_in(self, username: str, password: str = TEST_PASSWORD) -> requests.Response:
        return self.submit("/login", {"username": username, "password": password})
