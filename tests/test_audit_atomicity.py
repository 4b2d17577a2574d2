"""A write and its audit entry succeed or fail together, on both engines, through faults and kills.

SQLite commits both in one transaction: a write whose entry is refused is not made, and a
killed process leaves both or neither.  Elasticsearch writes a durable intent first, the
entry after; a write whose entry could not be appended gets it from recovery, exactly once,
and a write refused leaves nothing.  Faults are real: a trigger in the SQLite file, blocked
Elasticsearch indices, a file-size limit on the server process (a full disk as it sees one),
``kill -9`` of gunicorn and of ``irontrace import``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.audit_chain import IMPORT_BATCH_ACTION
from registry.demo import generate_reports
from registry.errors import StorageUnavailable
from registry.records import AuditFilter
from registry.services import Services
from registry.services.bulk_worker import BulkWorker
from registry.storage.sqlite.counters import counters_path
from tests.conftest import (
    LiveServer,
    backend_settings,
    close_storage,
    es_cluster,
    issue_key,
    report_data,
    sqlite_path,
    store_env,
    wait_until,
    without_review,
)
from tests.processes import BIN, Gunicorn, ProcessGroup

OPERATOR = Actor.operator()
GRACE_SECONDS = 60.0
REFUSE_AUDIT = ("CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'the audit log refuses new entries'); END")


@pytest.fixture
def audited(backend, tmp_path, request, clock):
    """The service with its clock in a file (recovery waits out the grace period on it), no
    bulk-check worker of its own: tests run jobs when they want them run."""
    app = create_app({**backend_settings(backend, tmp_path, request), "CLOCK_FILE": str(clock.path),
                      "AUDIT_OUTBOX_GRACE_SECONDS": GRACE_SECONDS, "BULK_WORKER_THREADS": 0})
    try:
        with LiveServer(app, issue_key(app)) as live:
            yield app, live
    finally:
        close_storage(app)


def entries(services: Services, **filters) -> list[dict]:
    return list(services.audit.export(OPERATOR, AuditFilter(**filters)))


def stored_check_ids(services: Services) -> set[str]:
    engine = services.engine
    if engine.admin is None:
        rows = engine.checks.database.connection().execute("SELECT id FROM checks")  # type: ignore[attr-defined]
        return {row[0] for row in rows}
    cluster = es_cluster(engine)
    cluster.client.indices.refresh(index=cluster.checks_alias)
    hits = cluster.client.search(index=cluster.checks_alias, size=10000, source=False)["hits"]["hits"]
    return {hit["_id"] for hit in hits}


def assert_every_write_has_its_entry(services: Services) -> None:
    """The log and the stores agree: every stored report version, check record and key has its
    one entry, every entry its write, and the chain is whole."""
    log = entries(services)
    assert services.audit.verify(OPERATOR).intact
    assert services.audit.log.pending() == 0
    created: Counter[str] = Counter()
    updated: Counter[str] = Counter()
    for entry in log:
        if entry["action"] == "report.create":
            created[entry["subject"]] += 1
        elif entry["action"] == "report.update":
            updated[entry["subject"]] += 1
        elif entry["action"] == IMPORT_BATCH_ACTION:
            created.update(entry["details"]["created"])
            updated.update(entry["details"]["updated"])
    reports = {r["id"]: r for r in services.reports.export(OPERATOR)}
    assert set(created) == set(reports) and set(created.values()) <= {1}
    for report_id, report in reports.items():
        assert updated[report_id] == report["version"] - 1, report["external_ref"]
    assert set(updated) <= set(reports)
    checks = Counter(e["subject"] for e in log if e["action"] == "check")
    assert set(checks) == stored_check_ids(services) and set(checks.values()) <= {1}
    issued = Counter(e["subject"] for e in log if e["action"] == "key.create")
    assert set(issued) == {k["key_id"] for k in services.keys.list(OPERATOR)} and set(issued.values()) <= {1}


def one_write_of_each(server, report: dict, new_ref: str) -> list[requests.Response]:
    """A check (issue 12: a record left without its entry), a key (one left active without
    ``key.create``), a PATCH of ``report`` at version 1 and a new report."""
    return [
        server.post("/v1/checks", json={"identifier": "CAT0336DLTJF00123"}),
        server.post("/v1/keys", json={"role": "dealer"}),
        server.patch(f"/v1/reports/{report['id']}", json={"color": "red"}, headers={"If-Match": '"1"'}),
        server.post("/v1/reports", json=report_data(new_ref)),
    ]


# -- SQLite: the write and its entry in one transaction ---------------------------------------


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_makes_no_write_whose_entry_the_log_refuses(audited):
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    report = server.post("/v1/reports", json=report_data()).json()
    database = sqlite_path(services.engine)
    with sqlite3.connect(database) as db:
        db.execute(REFUSE_AUDIT)
    before = (len(entries(services)), stored_check_ids(services), services.keys.list(OPERATOR))

    failed = [*one_write_of_each(server, report, "NEVER-STORED"),
              server.post("/v1/bulk-checks", data=b"serial\nA1\n", headers={"Content-Type": "text/csv"})]
    assert [a.status_code for a in failed] == [500] * 5
    assert all(a.headers["Content-Type"] == "application/problem+json" for a in failed)
    with pytest.raises(sqlite3.IntegrityError):
        services.imports.import_rows(OPERATOR, enumerate([report_data("IMPORTED")], start=1))
    assert (len(entries(services)), stored_check_ids(services), services.keys.list(OPERATOR)) == before
    assert server.get(f"/v1/reports/{report['id']}").json()["version"] == 1
    assert server.get("/v1/reports").json()["items"] == [report]

    with sqlite3.connect(database) as db:
        db.execute("DROP TRIGGER refuse_audit")
    assert server.patch(f"/v1/reports/{report['id']}", json={"color": "red"},
                        headers={"If-Match": '"1"'}).status_code == 200
    assert_every_write_has_its_entry(services)


# -- Elasticsearch: intent, write, entry; recovery ------------------------------------------


def block_writes(app, alias: str, blocked: bool) -> None:
    cluster = es_cluster(app.extensions[EXTENSION_KEY].engine)
    cluster.client.indices.put_settings(index=getattr(cluster, alias), settings={"index.blocks.write": blocked})


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_elasticsearch_gives_a_write_whose_entry_could_not_be_appended_its_entry_by_recovery(audited, clock):
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    report = server.post("/v1/reports", json=report_data()).json()
    block_writes(app, "audit_alias", True)
    try:
        written = one_write_of_each(server, report, "STORED-BEFORE-ITS-ENTRY")
        services.imports.import_rows(OPERATOR, enumerate([report_data("IMPORTED")], start=1))
    finally:
        block_writes(app, "audit_alias", False)
    assert [a.status_code for a in written] == [200, 201, 200, 201]  # stored, with their entries on the way
    assert services.audit.log.pending() == 6  # + the sightings of the new report

    assert services.audit.log.complete_pending(clock.now) == 0  # within the grace period a writer may be alive
    clock.advance(GRACE_SECONDS + 1)
    assert services.audit.log.complete_pending(clock.now) == 6
    assert services.audit.log.complete_pending(clock.now) == 0  # and never twice
    assert_every_write_has_its_entry(services)


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_elasticsearch_makes_no_write_it_could_not_announce(audited):
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    report = server.post("/v1/reports", json=report_data()).json()
    keys_before = services.keys.list(OPERATOR)
    block_writes(app, "outbox_alias", True)
    try:
        refused = one_write_of_each(server, report, "NEVER-STORED")
    finally:
        block_writes(app, "outbox_alias", False)
    assert [a.status_code for a in refused] == [503] * 4 and all(a.headers["Retry-After"] for a in refused)
    assert services.keys.list(OPERATOR) == keys_before
    assert server.get("/v1/reports").json()["items"] == [report]
    assert services.audit.log.pending() == 0
    assert_every_write_has_its_entry(services)


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_elasticsearch_recovery_completes_what_a_crash_left_exactly_once(audited, clock):
    """The states a crash between the steps leaves, written as the crashed process left them."""
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    cluster = es_cluster(services.engine)
    es = cluster.client
    report = server.post("/v1/reports", json=report_data()).json()
    updated = server.patch(f"/v1/reports/{report['id']}", json={"color": "red"}, headers={"If-Match": '"1"'}).json()
    es.indices.refresh(index=cluster.audit_alias)
    [appended] = es.search(index=cluster.audit_alias, query={"term": {"action": "report.update"}},
                           source=["intent", "entry"])["hits"]["hits"]

    def leave_intent(slot: str, intent: str, kind: str, entry: dict, probe: dict) -> None:
        es.index(index=cluster.outbox_alias, id=slot, refresh=True, document={
            "intent": intent, "kind": kind, "created": clock.now, "document": {"entry": entry, "probe": probe}})

    # Killed after appending the entry, before dropping the intent.
    leave_intent(f"report:{report['id']}", appended["_source"]["intent"], "report.update",
                 appended["_source"]["entry"], {"doc_id": "x", "report_id": report["id"], "version": 2,
                                                "digest": "d"})
    # Killed after announcing a change, before making it.
    unmade = {**updated, "version": 3, "color": "green"}
    leave_intent(f"report:{uuid.uuid4()}", uuid.uuid4().hex, "report.update",
                 services.audit.entry(OPERATOR, "report.update", report["id"], {"before": updated, "after": unmade}),
                 {"doc_id": es.search(index=cluster.reports_alias)["hits"]["hits"][0]["_id"],
                  "report_id": report["id"], "version": 3, "digest": "not-what-is-stored"})
    assert services.audit.log.pending() == 1  # the first one's entry is in the log already

    # A writer of a subject whose stale intent stands completes it first, then writes.
    clock.advance(GRACE_SECONDS + 1)
    third = server.patch(f"/v1/reports/{report['id']}", json={"color": "blue"}, headers={"If-Match": '"2"'})
    assert third.status_code == 200
    assert services.audit.log.complete_pending(clock.now) == 0
    log = entries(services, subject=report["id"])
    assert [e["action"] for e in log] == ["report.create", "report.update", "report.update"]
    assert [e["details"]["after"]["color"] for e in log[1:]] == ["red", "blue"]
    assert_every_write_has_its_entry(services)


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_elasticsearch_a_job_finished_just_before_a_crash_still_raises_its_event(audited, clock):
    """The event's delivery cannot share the finished job's request (a lost compare-and-set must not
    leave it), so it travels in the job's intent: here the delivery's write fails after the job's, as a
    crash between the two would leave it, and recovery makes it, once."""
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    cluster = es_cluster(services.engine)
    hook = server.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks",
                                             "events": ["bulk_check.finished"]}).json()
    job = server.post("/v1/bulk-checks", data=b"serial\nA1\n", headers={"Content-Type": "text/csv"}).json()
    blocked = {"index.blocks.write": True}
    cluster.client.indices.put_settings(index=cluster.deliveries_alias, settings=blocked)
    try:
        with pytest.raises(StorageUnavailable):
            BulkWorker(services.bulk).run_once()
    finally:
        cluster.client.indices.put_settings(index=cluster.deliveries_alias, settings={"index.blocks.write": None})
    assert server.get(f"/v1/bulk-checks/{job['id']}").json()["status"] == "done"

    def deliveries() -> list[dict]:
        cluster.client.indices.refresh(index=cluster.deliveries_alias)
        return server.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"]

    assert deliveries() == []
    clock.advance(GRACE_SECONDS + 1)
    services.audit.log.complete_pending(clock.now)
    services.audit.log.complete_pending(clock.now)  # a second round replays nothing more
    assert [d["type"] for d in deliveries()] == ["bulk_check.finished"]
    assert [e["action"] for e in entries(services, subject=job["id"])].count("bulk_check.done") == 1
    assert services.audit.log.pending() == 0


# -- a full disk ---------------------------------------------------------------------------


def test_sqlite_on_a_full_disk_no_patch_is_kept_without_its_entry(tmp_path):
    """Issue 12: on a full disk a PATCH answered 500 but its version was kept with no entry."""
    database = tmp_path / "full.db"
    env = {"IRONTRACE_DB": str(database)}
    with Gunicorn(env, workers=2) as server:
        report = server.http.post(server.url + "/v1/reports", json=report_data(), timeout=30).json()
    files = [database, Path(f"{database}-wal"), Path(counters_path(str(database)))]
    limit = max(f.stat().st_size for f in files if f.exists()) + 256 * 1024  # room for a few writes, then full

    statuses = []
    with Gunicorn(env, workers=2, max_file_bytes=limit) as server:
        location = f"{server.url}/v1/reports/{report['id']}"
        version = 1
        for attempt in range(400):
            answer = server.http.patch(location, json={"color": f"color-{attempt}"},
                                       headers={"If-Match": f'"{version}"'}, timeout=60)
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                version += 1
            else:
                assert answer.status_code == 503 and answer.headers["Retry-After"], answer.text
            if statuses.count(503) >= 5:
                break
    assert statuses.count(503) >= 5, "the disk never filled up"

    with Gunicorn(env, workers=1) as server:  # the disk has room again
        stored = server.http.get(f"{server.url}/v1/reports/{report['id']}", timeout=30).json()
        assert stored["version"] == 1 + statuses.count(200)
        log = server.http.get(server.url + "/v1/audit", params={"subject": report["id"], "limit": 500},
                              timeout=30).json()["items"]
        assert len(log) == stored["version"]  # its creation and one entry per kept version, no more
        assert log[-1]["details"]["after"] == without_review(stored)
        assert server.http.get(server.url + "/v1/audit/verify", timeout=120).json()["intact"]


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_elasticsearch_at_flood_stage_no_write_is_kept_without_its_entry(audited):
    """What Elasticsearch does when its disk fills: every index of the registry becomes read-only."""
    app, server = audited
    services: Services = app.extensions[EXTENSION_KEY]
    report = server.post("/v1/reports", json=report_data()).json()
    cluster = es_cluster(services.engine)
    indices = f"{cluster.prefix}-*"
    cluster.client.indices.put_settings(index=indices, settings={"index.blocks.read_only_allow_delete": True})
    try:
        full = [server.patch(f"/v1/reports/{report['id']}", json={"color": "red"}, headers={"If-Match": '"1"'}),
                server.post("/v1/reports", json=report_data("FULL")),
                server.post("/v1/checks", json={"identifier": "CAT0336DLTJF00123"})]
    finally:
        cluster.client.indices.put_settings(index=indices, settings={"index.blocks.read_only_allow_delete": None})
    assert [a.status_code for a in full] == [507, 507, 507]  # storage full, as a full disk answers
    assert server.get(f"/v1/reports/{report['id']}").json()["version"] == 1
    assert_every_write_has_its_entry(services)


# -- kill -9 -------------------------------------------------------------------------------


@pytest.fixture
def deployment(backend, tmp_path, request, clock):
    """The environment of a gunicorn deployment on either engine, sharing the test's clock, and the
    test's own view of the same storage."""
    app = create_app({**backend_settings(backend, tmp_path, request), "CLOCK_FILE": str(clock.path),
                      "AUDIT_OUTBOX_GRACE_SECONDS": GRACE_SECONDS, "BULK_WORKER_THREADS": 0})
    # The clock stands still, so no rate limit would ever refill: these tests are not about limits.
    env = {**store_env(app), "IRONTRACE_CLOCK_FILE": str(clock.path),
           "IRONTRACE_AUDIT_OUTBOX_GRACE_SECONDS": str(GRACE_SECONDS), "IRONTRACE_RATE_LIMIT_BURST": "1000000"}
    try:
        yield app, env
    finally:
        close_storage(app)


def traffic(server: Gunicorn, writer: int, stop: threading.Event, done: list[int]) -> None:
    """Creates, two patches and a check per report, and a key now and then, until stopped."""
    with requests.Session() as http:
        http.headers.update(server.http.headers)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                serial = f"KILL{writer:02d}{n:05d}X"
                created = http.post(server.url + "/v1/reports", timeout=30, json=report_data(
                    f"K{writer}-{n}", identifiers=[{"type": "serial", "value": serial}]))
                location = server.url + created.headers["Location"]
                for version in (1, 2):
                    http.patch(location, json={"color": f"c{version}"}, headers={"If-Match": f'"{version}"'},
                               timeout=30)
                http.post(server.url + "/v1/checks", json={"identifier": serial}, timeout=30)
                if n % 3 == 0:
                    http.post(server.url + "/v1/keys", json={"role": "dealer"}, timeout=30)
                done.append(n)
            except (requests.RequestException, KeyError):
                return  # the server was killed under this request


def test_a_server_killed_mid_write_leaves_no_write_without_its_entry(deployment, clock):
    app, env = deployment
    server = Gunicorn(env, workers=3).start()
    stop, done = threading.Event(), []
    try:
        with ThreadPoolExecutor(6) as pool:
            for writer in range(6):
                pool.submit(traffic, server, writer, stop, done)
            wait_until(lambda: len(done), lambda count: count >= 30, "traffic")
            server.kill()  # SIGKILL to every process, requests in flight
            stop.set()
    finally:
        stop.set()
        server.stop()

    clock.advance(GRACE_SECONDS + 1)  # the crashed writers' intents are now recovery's
    with Gunicorn(env, workers=1) as restarted:  # recovery runs at start-up
        wait_until(lambda: restarted.http.get(restarted.url + "/v1/audit/verify", timeout=120).json(),
                   lambda verified: verified["pending"] == 0, "recovery")
    services: Services = app.extensions[EXTENSION_KEY]
    assert len(list(services.reports.export(OPERATOR))) >= 30
    assert_every_write_has_its_entry(services)


class Import(ProcessGroup):
    """``irontrace import FILE`` in a process group of its own."""

    def __init__(self, env: dict[str, str], file: Path) -> None:
        self.process = subprocess.Popen([str(BIN / "irontrace"), "import", str(file), "--workers", "1"],
                                        env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        start_new_session=True)


def test_a_killed_import_leaves_no_report_without_its_entry(deployment, clock, tmp_path):
    """Issue 12: a killed import left 45,000 reports with no entry, and the rerun called them unchanged."""
    app, env = deployment
    services: Services = app.extensions[EXTENSION_KEY]
    reports = list(generate_reports(20_000, seed=12))
    source = tmp_path / "registry.ndjson"
    source.write_text("".join(json.dumps(r) + "\n" for r in reports))

    importing = Import(env, source)
    try:
        wait_until(lambda: len(entries(services, action=IMPORT_BATCH_ACTION)), lambda batches: batches >= 1,
                   "a committed batch")
        importing.kill()
    finally:
        importing.stop()
    stored = len(list(services.reports.export(OPERATOR)))
    assert 0 < stored < len(reports), "killed midway"
    clock.advance(GRACE_SECONDS + 1)
    services.audit.log.complete_pending(clock.now)
    assert_every_write_has_its_entry(services)

    rerun = Import(env, source)
    assert rerun.process.wait(timeout=1200) == 0, rerun.process.stderr.read().decode()[-2000:]
    assert len(list(services.reports.export(OPERATOR))) == len(reports)
    assert_every_write_has_its_entry(services)
