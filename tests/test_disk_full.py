"""Full storage: writes answer 507 with Retry-After, /readyz says so, the log says so once, nothing confirmed is lost.

How storage is made full, deterministically and through the engines' real failure paths:
- SQLite, in-process on both engines' test: the file's size cap (``SQLITE_MAX_SIZE_MB``, SQLite's
  ``max_page_count``), which makes SQLite refuse a write with ``SQLITE_FULL``, the very error a
  full disk gives (SQLite reports ENOSPC as ``SQLITE_FULL``), so the service's path is the same.
- Elasticsearch: the ``read_only_allow_delete`` block on the test's own indices, which is what the
  cluster itself sets when a node's disk passes the flood-stage watermark.
- And a real full disk: gunicorn serving a SQLite file on a small tmpfs, filled up, then grown
  (``mount -o remount,size=``). Mounting needs root, which CI has; elsewhere that test is skipped
  saying so (under ``CI=true`` it fails instead).
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path

import pytest

from registry import create_app
from tests.conftest import LiveServer, backend_settings, close_storage, es_cluster, issue_key, report_data
from tests.processes import Gunicorn

FULL = 507
MAX_WRITES = 3000  # bounds every fill loop
UNLIMITED = {"RATE_LIMIT_PER_MINUTE": 10**9, "RATE_LIMIT_BURST": 10**9}  # the test writes as fast as it can
PADDING = "Cab glass cracked, boom repainted, tracks worn on the left side. " * 60  # ~4 KB per report


def padded_report(n: int) -> dict:
    return report_data(f"FILL-{n:05d}", identifiers=[{"type": "serial", "value": f"FILL{n:07d}"}],
                       description=PADDING[:3900])


def write_until_full(http_post, url: str) -> tuple[list[str], list]:
    """Create reports until three answers in a row are 507; the ids confirmed (201), and the 507s."""
    confirmed, refusals = [], []
    for n in range(MAX_WRITES):
        answer = http_post(url + "/v1/reports", json=padded_report(n), timeout=30)
        if answer.status_code == 201:
            confirmed.append(answer.json()["id"])
            refusals.clear()
        else:
            assert answer.status_code == FULL, answer.text
            refusals.append(answer)
            if len(refusals) == 3:
                return confirmed, refusals
    raise AssertionError(f"storage was not full after {MAX_WRITES} reports")


def assert_full_answer(answer) -> None:
    assert answer.status_code == FULL
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert int(answer.headers["Retry-After"]) >= 1
    problem = answer.json()
    assert problem["title"] == "Insufficient storage" and "full" in problem["detail"]


def assert_not_ready_for_full_storage(answer) -> None:
    assert answer.status_code == 503 and int(answer.headers["Retry-After"]) >= 1
    assert answer.json()["reason"] == "storage_full"


@pytest.fixture
def full_storage(backend, tmp_path, request):
    """A served app whose storage can be made full (``fill``) and freed (``free``)."""
    settings = backend_settings(backend, tmp_path, request)
    if backend == "sqlite":
        settings.update(SQLITE_MAX_SIZE_MB=1, DISK_RESERVE_MB=1)
    app = create_app({**settings, **UNLIMITED, "STORAGE_ERROR_LOG_SECONDS": 3600})
    yield backend, app, settings
    close_storage(app)


def set_full_disk_block(app, blocked: bool) -> None:
    """What Elasticsearch does to indices when its disk passes the flood-stage watermark (and undoes)."""
    cluster = es_cluster(app.extensions["irontrace"].engine)
    cluster.client.indices.put_settings(index=f"{cluster.prefix}-*",
                                        settings={"index.blocks.read_only_allow_delete": True if blocked else None})


def test_full_storage_answers_507_and_loses_nothing_confirmed(full_storage, caplog):
    backend, app, settings = full_storage
    with LiveServer(app, issue_key(app)) as server:
        before = [server.post("/v1/reports", json=report_data(f"KEEP-{n}")).json()["id"] for n in range(3)]
        with caplog.at_level(logging.WARNING, logger="registry.api.problems"):
            if backend == "sqlite":
                confirmed, refusals = write_until_full(server.http.post, server.url)
            else:
                set_full_disk_block(app, True)
                confirmed, refusals = [], [server.post("/v1/reports", json=padded_report(n)) for n in range(3)]
            more = [server.post("/v1/reports", json=padded_report(MAX_WRITES + n)) for n in range(20)]
        for answer in [*refusals, *more]:
            assert_full_answer(answer)
        storage_lines = [r for r in caplog.records if r.getMessage().startswith("storage failure")]
        assert len(storage_lines) == 1, "a full disk is logged once per interval, not per request"
        assert not any(r.exc_info for r in caplog.records)
        assert_not_ready_for_full_storage(server.get("/readyz"))
        assert "irontrace_storage_full 1.0" in server.get("/metrics").text
        for report_id in [*before, *confirmed]:  # reads still work, and every confirmed write is there
            assert server.get(f"/v1/reports/{report_id}").status_code == 200
        listed = server.get("/v1/reports", params={"limit": 500}).json()["items"]
        assert {r["id"] for r in listed} >= set(before) | set(confirmed[-400:])
        if backend == "elasticsearch":
            set_full_disk_block(app, False)
            assert server.post("/v1/reports", json=report_data("AFTER-1")).status_code == 201
            assert server.get("/readyz").status_code == 200
    if backend == "sqlite":  # the operator raises the cap and restarts: writing works again
        close_storage(app)
        grown = create_app({**settings, **UNLIMITED, "SQLITE_MAX_SIZE_MB": 0})
        try:
            with LiveServer(grown, issue_key(grown)) as server:
                assert server.get("/readyz").status_code == 200
                assert server.post("/v1/reports", json=report_data("AFTER-1")).status_code == 201
                assert all(server.get(f"/v1/reports/{i}").status_code == 200 for i in [*before, *confirmed])
        finally:
            close_storage(grown)


@pytest.fixture
def small_disk(tmp_path):
    """A real 8 MiB filesystem (tmpfs), unmounted afterwards."""
    if os.geteuid() != 0:
        reason = "mounting a small filesystem needs root"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_real_full_disk_under_gunicorn(small_disk: Path):
    env = {"IRONTRACE_DB": str(small_disk / "irontrace.db"), "IRONTRACE_DISK_RESERVE_MB": "1",
           "IRONTRACE_STORAGE_ERROR_LOG_SECONDS": "3600", "IRONTRACE_BULK_WORKER_THREADS": "0"}
    with Gunicorn(env, workers=2) as server:
        filler = small_disk / "filler"
        free = os.statvfs(small_disk).f_bavail * os.statvfs(small_disk).f_frsize
        filler.write_bytes(b"\0" * max(free - 3 * 1024 * 1024, 0))  # leave 3 MiB for the registry to fill
        confirmed, refusals = write_until_full(server.http.post, server.url)
        more = [server.http.post(server.url + "/v1/reports", json=padded_report(MAX_WRITES + n), timeout=30)
                for n in range(20)]
        for answer in [*refusals, *more]:
            assert_full_answer(answer)
        assert_not_ready_for_full_storage(server.http.get(server.url + "/readyz", timeout=30))
        for report_id in confirmed:
            assert server.http.get(f"{server.url}/v1/reports/{report_id}", timeout=30).status_code == 200
        lines = server.log_lines()
        storage_lines = [line for line in lines if line["message"].startswith("storage failure")]
        assert 1 <= len(storage_lines) <= server.workers, "once per interval in each worker, not per request"
        assert not any("traceback" in line for line in lines)

        subprocess.run(["mount", "-o", "remount,size=32m", str(small_disk)], check=True)  # space freed
        assert server.http.get(server.url + "/readyz", timeout=30).status_code == 200
        assert server.http.post(server.url + "/v1/reports", json=report_data("AFTER-1"), timeout=30).status_code == 201

    with Gunicorn(env, workers=1) as restarted:  # and after a restart, every confirmed report is still there
        for report_id in confirmed:
            assert restarted.http.get(f"{restarted.url}/v1/reports/{report_id}", timeout=30).status_code == 200
