"""Backups and restores on both engines: the restore drill, and what a restore refuses.

The drill: a small registry serves writes and checks over real HTTP while
``irontrace backup`` (SQLite) or ``irontrace es snapshot`` (Elasticsearch)
runs in its own process; the registry is then destroyed and restored with the
real commands.  The restored audit chain verifies (held to the head the
restore published), the checks asked before the backup give the same answers,
and the restored registry takes writes.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.cli import main as cli_main
from registry.files.heads import HeadsFile
from tests.conftest import LiveServer, close_storage, es_cluster, issue_key, report_data, store_env, wait_until
from tests.processes import irontrace

SLOW_SECONDS = 120  # cluster-state changes (deleting indices, snapshots) on a busy shared node
PINS = [f"CAT0336DLTJF{n:05d}" for n in range(100, 106)]
READINGS = [*PINS, "CAT0336DLTJFOO101", "CAT0336DLTJF0102", "ZZZ9999999"]  # exact, misread, shortened, none


def registered(live: LiveServer, ref: str, pin: str) -> dict:
    response = live.post("/v1/reports", json=report_data(
        ref, identifiers=[{"type": "pin", "value": pin}], description=f"Excavator {pin}"))
    assert response.status_code == 201, response.text
    return response.json()


def answer(live: LiveServer, reading: str) -> tuple[str, list[str]]:
    response = live.post("/v1/checks", json={"identifier": reading})
    assert response.status_code == 200, response.text
    body = response.json()
    return body["verdict"], sorted(m["report_id"] for m in body["matches"])


def command(*args: str, env: dict[str, str]) -> Result:
    """An ``irontrace`` command in this process (a restore needs no process of its own to be tested)."""
    return CliRunner().invoke(cli_main, list(args), env=env)


class Load(threading.Thread):
    """Writes (new reports) and checks over HTTP, one after another, until stopped."""

    def __init__(self, live: LiveServer) -> None:
        super().__init__(daemon=True)
        self.live, self.writes, self.checks, self.failures = live, 0, 0, []  # type: ignore[var-annotated]
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                registered(self.live, f"LOAD-{self.writes:04d}", f"KMTPC300C55A{self.writes:05d}")
                self.writes += 1
                answer(self.live, PINS[self.writes % len(PINS)])
                self.checks += 1
            except AssertionError as exc:
                self.failures.append(str(exc))

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=60)


def back_up(backend: str, env: dict[str, str], tmp_path: Path) -> str:
    """The backup command for the engine; the backup's name (a file, or a snapshot)."""
    if backend == "sqlite":
        target = str(tmp_path / "backup.db")
        done = irontrace("backup", target, env=env)
        assert done.returncode == 0, done.stderr
        assert "backed up" in done.stdout
        return target
    done = irontrace("es", "snapshot", env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout.split()[1]  # "snapshot NAME in REPOSITORY: ..."


def destroy(app, backend: str) -> None:
    """Lose the registry: the SQLite file and its WAL, or every index of the prefix."""
    settings = app.config["IRONTRACE"]
    if backend == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(settings["DB"] + suffix).unlink(missing_ok=True)
        return
    app.extensions[EXTENSION_KEY].stop_workers()  # the service is down while its cluster is rebuilt
    cluster = es_cluster(app.extensions[EXTENSION_KEY].engine)
    es = cluster.client.options(request_timeout=SLOW_SECONDS)
    es.indices.delete(index=",".join(es.indices.get(index=f"{cluster.prefix}-*")))


def refuses_a_backup_that_contradicts_a_published_head(app, backend: str, backup: str, env: dict[str, str],
                                                        report: dict) -> None:
    """A head published for entry 2 that the backup's entry 2 does not match: the restore is refused
    (on Elasticsearch after the aliases moved: they move back) and the registry serves on unchanged."""
    services = app.extensions[EXTENSION_KEY]
    heads = Path(app.config["IRONTRACE"]["AUDIT_HEADS_FILE"])
    held = heads.read_bytes() if heads.exists() else b""
    indices = sorted(es_cluster(services.engine).client.indices.get(index=f"{es_cluster(services.engine).prefix}-*")
                     ) if backend == "elasticsearch" else []
    heads.write_bytes(held + json.dumps({"seq": 2, "hash": "f" * 64, "at": "2026-11-26T08:00:00Z"}).encode() + b"\n")
    try:
        refused = command(*restore_command(backend, backup, "--force"), env=env)
    finally:
        heads.write_bytes(held)
    assert refused.exit_code == 1 and "audit chain is broken at entry 2" in refused.output, refused.output
    assert "differs from the head published at 2026-11-26T08:00:00Z" in refused.output
    assert services.reports.get(Actor.operator(), report["id"])["version"] == report["version"]
    if backend == "elasticsearch":
        cluster = es_cluster(services.engine)
        assert sorted(cluster.client.indices.get(index=f"{cluster.prefix}-*")) == indices


def restore_command(backend: str, backup: str, *options: str) -> list[str]:
    return ["restore", *options, backup] if backend == "sqlite" else ["es", "restore", *options, backup]


def test_restore_drill(app, backend, tmp_path):
    env = store_env(app)
    with LiveServer(app, issue_key(app)) as live:
        reports = [registered(live, f"KZ-TRK-2026-{n:06d}", pin) for n, pin in enumerate(PINS)]
        asked = {reading: answer(live, reading) for reading in READINGS}
        assert {verdict for verdict, _ in asked.values()} >= {"hit", "possible_match", "no_match"}
        load = Load(live)
        load.start()
        wait_until(lambda: load.writes, lambda writes: writes >= 3, "writes before the backup")
        backup = back_up(backend, env, tmp_path)
        written_during = load.writes
        load.stop()
        assert load.failures == [] and load.writes > 3 and load.checks > 3, (load.failures, load.writes)

    refused = command(*restore_command(backend, backup), env=env)
    assert refused.exit_code == 1 and "--force" in refused.output  # a registry is there
    refuses_a_backup_that_contradicts_a_published_head(app, backend, backup, env, reports[0])

    destroy(app, backend)
    restored = command(*restore_command(backend, backup), env=env)
    assert restored.exit_code == 0, restored.output
    assert "audit log intact" in restored.output

    again = create_app(app.config["IRONTRACE"])
    try:
        services = again.extensions[EXTENSION_KEY]
        verification = services.audit.verify(Actor.operator())
        assert verification.intact, verification.to_dict()
        assert verification.published is not None and verification.published.restored_from
        assert verification.published.seq == verification.chain.head_seq
        with LiveServer(again, issue_key(again)) as live:
            assert {reading: answer(live, reading) for reading in READINGS} == asked
            for report in reports:
                assert live.get(f"/v1/reports/{report['id']}").json()["version"] == report["version"]
            assert registered(live, "KZ-TRK-2026-900000", "CAT0336DLTJF00999")["version"] == 1
            assert answer(live, "CAT0336DLTJF00999")[0] == "hit"
            loaded = live.get("/v1/reports", params={"limit": 200}).json()["items"]
            assert 3 <= len([r for r in loaded if r["external_ref"].startswith("LOAD-")]) <= written_during + 1
        assert services.audit.verify(Actor.operator()).intact
    finally:
        if backend == "elasticsearch":
            cluster = es_cluster(again.extensions[EXTENSION_KEY].engine)
            cluster.client.options(request_timeout=SLOW_SECONDS).snapshot.delete(repository=app.config["IRONTRACE"]["ES_SNAPSHOT_REPOSITORY"],
                                           snapshot=backup)
            again.extensions[EXTENSION_KEY].close()  # the fixture drops the indices
        else:
            close_storage(again)


def let_go(app) -> None:
    """Stop the app and close every connection its threads left (some only go with a collection)."""
    app.extensions[EXTENSION_KEY].close()
    gc.collect()


@pytest.fixture
def embedded(tmp_path):
    """A served embedded registry with a few reports, and its backup."""
    app = create_app({"DB": str(tmp_path / "irontrace.db"), "MAINTENANCE_SECONDS": 3600})
    env = store_env(app)
    with LiveServer(app, issue_key(app)) as live:
        for n, pin in enumerate(PINS[:3]):
            registered(live, f"KZ-TRK-2026-{n:06d}", pin)
    done = command("backup", str(tmp_path / "backup.db"), env=env)
    assert done.exit_code == 0, done.output
    yield app, env, tmp_path / "backup.db"
    close_storage(app)


def test_a_registry_in_use_is_never_replaced(embedded):
    app, env, backup = embedded
    database = app.config["IRONTRACE"]["DB"]
    before = Path(database).read_bytes()
    holder = subprocess.Popen(  # another process with the file open, having read it, as a server's worker
        [sys.executable, "-c", f"import sqlite3, sys; db = sqlite3.connect({database!r}); "
                               "db.execute('SELECT count(*) FROM reports').fetchone(); print('open', flush=True); "
                               "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        refused = command("restore", "--force", str(backup), env=env)
    finally:
        holder.communicate("", timeout=30)
    assert refused.exit_code == 1 and "in use by another process" in refused.output
    assert Path(database).read_bytes() == before
    assert not Path(database + ".restoring").exists()


def test_a_backup_with_a_broken_chain_is_not_restored(embedded, tmp_path):
    app, env, backup = embedded
    tampered = tmp_path / "tampered.db"
    shutil.copy(backup, tampered)
    with sqlite3.connect(tampered) as db:
        entry = json.loads(db.execute("SELECT entry FROM audit_log WHERE seq = 2").fetchone()[0])
        entry["details"]["after"]["status"] = "recovered"
        db.execute("UPDATE audit_log SET entry = ? WHERE seq = 2", (json.dumps(entry),))
    let_go(app)
    target = Path(app.config["IRONTRACE"]["DB"])
    before = target.read_bytes()
    refused = command("restore", "--force", str(tampered), env=env)
    assert refused.exit_code == 1 and "audit chain is broken at entry 2" in refused.output
    assert target.read_bytes() == before and not Path(f"{target}.restoring").exists()


def test_a_restore_says_how_far_it_rolled_the_log_back(embedded):
    app, env, backup = embedded
    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()  # the maintenance round publishes heads too: no race with it
    with LiveServer(app, issue_key(app)) as live:
        registered(live, "KZ-TRK-2026-000777", "CAT0336DLTJF00777")  # after the backup
    published = services.audit.publish_head(0.0)
    assert published is not None
    # A replica snapshot holding the report written after the backup, which the restore takes back.
    snapshot = services.engine.feed_snapshots.fresh(0.0, 1.0, "1970-01-01T00:00:01.000Z")
    let_go(app)
    done = command("restore", "--force", str(backup), env=env)
    assert done.exit_code == 0, done.output
    assert not Path(snapshot.path).exists()  # never handed to a new replica
    assert f"rolled back from the published head {published.seq}" in done.output
    head = HeadsFile(app.config["IRONTRACE"]["AUDIT_HEADS_FILE"]).latest()
    assert head is not None and head.rolled_back_from == published.seq and head.restored_from == "backup.db"
    verified = command("audit", "verify", env=env)
    assert verified.exit_code == 0, verified.output
    assert f"a restore of backup.db that rolled the log back from the head {published.seq}" in verified.output


def test_a_backup_of_a_newer_release_is_refused(embedded, tmp_path):
    app, env, backup = embedded
    newer = tmp_path / "newer.db"
    shutil.copy(backup, newer)
    with sqlite3.connect(newer) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
    let_go(app)
    os.remove(app.config["IRONTRACE"]["DB"])
    refused = command("restore", str(newer), env=env)
    assert refused.exit_code == 1 and "schema version 99" in refused.output
    assert not Path(app.config["IRONTRACE"]["DB"]).exists()

