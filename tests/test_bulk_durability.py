"""A bulk check survives its worker being killed: the next worker resumes it, exactly once.

Real ``irontrace worker`` processes on both engines, SIGKILLed in the middle
of a job; the service that accepted the job runs no worker of its own.
"""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from tests.conftest import backend_settings, close_storage, report_data
from tests.processes import Worker

ROWS = 2000
REGISTERED = 20
KILL_AFTER_ROWS = 100
WORKER_SETTINGS = {
    "IRONTRACE_BULK_BATCH_SIZE": "20",
    "IRONTRACE_BULK_LEASE_SECONDS": "1",  # the dead worker's lease runs out quickly
    "IRONTRACE_BULK_POLL_SECONDS": "0.1",
}
DEADLINE_SECONDS = 120


@pytest.fixture
def app(backend, tmp_path, request):
    app = create_app({**backend_settings(backend, tmp_path, request), "BULK_WORKER_THREADS": 0})
    yield app
    close_storage(app)


def worker_env(app) -> dict[str, str]:
    """The same store as the app: its SQLite file, or its cluster and index prefix."""
    settings = app.config["IRONTRACE"]
    if settings.get("ES_URL"):
        store = {"IRONTRACE_ES_URL": settings["ES_URL"], "IRONTRACE_ES_INDEX_PREFIX": settings["ES_INDEX_PREFIX"]}
    else:
        store = {"IRONTRACE_DB": settings["DB"]}
    return {**store, **WORKER_SETTINGS}


def serial(n: int) -> str:
    """Every fourth row a registered serial, the others far from any."""
    return f"KILL{n % REGISTERED:06d}" if n % 4 == 0 else f"QZ{n:07d}XY"


def poll(server, location: str, until, what: str) -> dict:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while time.monotonic() < deadline:
        job = server.get(location).json()
        if until(job):
            return job
        time.sleep(0.02)
    raise AssertionError(f"{what} did not happen within {DEADLINE_SECONDS} s: {job}")


def test_a_killed_worker_s_job_is_resumed_with_every_row_exactly_once(app, server):
    reports = [(n, report_data(f"K-{n}", identifiers=[{"type": "serial", "value": f"KILL{n:06d}"}]))
               for n in range(REGISTERED)]
    app.extensions[EXTENSION_KEY].imports.import_rows(Actor.operator(), reports)
    serials = [serial(n) for n in range(ROWS)]
    out = io.StringIO()
    csv.writer(out).writerows([["serial", "line"], *[[s, str(n)] for n, s in enumerate(serials)]])
    created = server.post("/v1/bulk-checks", data=out.getvalue().encode(), headers={"Content-Type": "text/csv"})
    location = created.headers["Location"]

    first = Worker(worker_env(app)).__enter__()
    try:
        poll(server, location, lambda job: job["rows_done"] >= KILL_AFTER_ROWS, "progress")
        first.kill()
    finally:
        first.stop()
    at_kill = server.get(location).json()
    assert at_kill["status"] == "running" and KILL_AFTER_ROWS <= at_kill["rows_done"] < ROWS
    assert at_kill["eta_seconds"] > 0

    with Worker(worker_env(app), processes=2):  # the resuming worker checks batches in child processes
        job = poll(server, location, lambda job: job["status"] == "done", "completion")
    assert job["rows_done"] == ROWS and job["hits"] == ROWS // 4 and job["no_matches"] == ROWS * 3 // 4

    lines = server.get(location + "/results", headers={"Accept": "application/x-ndjson"}).text.splitlines()
    results = [json.loads(line) for line in lines]
    assert [r["row"] for r in results] == list(range(2, ROWS + 2))  # every row once, in input order
    assert [r["input"]["line"] for r in results] == [str(n) for n in range(ROWS)]
    assert [r["verdict"] for r in results] == ["hit" if n % 4 == 0 else "no_match" for n in range(ROWS)]
