"""A border post's replica, over real HTTP: the centre and the replica each served by gunicorn in
processes of their own, the replica kept by ``irontrace replica`` commands run as an operator would.

The story: the link is cut (the centre stopped) and the replica still
answers a hit, saying it is a replica and how old its copy is (a warning once stale); it refuses
report writes; once the link is back a sync forwards the offline checks (exactly once, also when
the sync is interrupted between the centre taking them and the replica noting it), raising the
centre's webhook, and a report recovered at the centre stops hitting; a revoked key stops syncing.
A sync killed mid-way through the feed, while the centre keeps changing, resumes without loss or
duplicates.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
from pathlib import Path

import requests

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.stamps import iso_at, new_id, utc_now
from registry.storage.sqlite import open_sqlite
from registry.vocabulary import BORDER, REPLICA
from tests.conftest import (
    RECOVERY,
    TEST_LIMITS,
    Browser,
    FileClock,
    LiveServer,
    audit_entry,
    bearer,
    close_storage,
    create_user,
    report_data,
    store_env,
    upsert,
    wait_until,
)
from tests.processes import BIN, Gunicorn, irontrace

PIN = "CAT0336DLTJF00123"


def new_key(env: dict[str, str], role: str) -> str:
    created = irontrace("keys", "create", "--role", role, env=env)
    assert created.returncode == 0, created.stderr
    return created.stdout.strip().splitlines()[-1]


def replica_state(path: Path) -> dict | None:
    """The replica's state as stored (``None`` before ``replica init`` made the file a replica)."""
    try:
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT value FROM meta WHERE name = 'replica'").fetchone()
    except sqlite3.OperationalError:  # the file is being created
        return None
    return json.loads(row[0]) if row else None


def centre_env(app, clock: FileClock) -> dict[str, str]:
    return {**store_env(app), "IRONTRACE_CLOCK_FILE": str(clock.path), "IRONTRACE_WEBHOOK_POLL_SECONDS": "3600",
            "IRONTRACE_WEBHOOK_ALLOW_PRIVATE": "true"}


def test_border_post_replica(tmp_path: Path, clock: FileClock) -> None:
    """The whole story with an embedded centre (what the centre's engine does is covered by the feed and
    forwarding tests of ``test_changes`` on both engines, and by the killed sync below)."""
    centre_settings = {"IRONTRACE_DB": str(tmp_path / "centre.db"), "IRONTRACE_CLOCK_FILE": str(clock.path),
                       "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "centre-heads.ndjson"),
                       "IRONTRACE_WEBHOOK_POLL_SECONDS": "3600", "IRONTRACE_WEBHOOK_ALLOW_PRIVATE": "true"}
    replica_db = tmp_path / "replica.db"
    replica_env = {"IRONTRACE_DB": str(replica_db), "IRONTRACE_CLOCK_FILE": str(clock.path),
                   "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "replica-heads.ndjson"),
                   "IRONTRACE_REPLICA_STALE_MINUTES": "60"}
    replica_key = new_key(centre_settings, REPLICA)
    with Gunicorn(centre_settings, workers=1) as centre:
        stolen = centre.http.post(centre.url + "/v1/reports", json=report_data()).json()
        other = centre.http.post(centre.url + "/v1/reports", json=report_data(
            "KZ-TRK-2025-000002", identifiers=[{"type": "serial", "value": "SANY75C0099"}])).json()
        webhook = centre.http.post(centre.url + "/v1/webhooks", json={
            "url": "http://127.0.0.1:9/hooks", "events": ["check.matched"]}).json()
        init = irontrace("replica", "init", "--from", centre.url, env={**replica_env, "IRONTRACE_KEY": replica_key})
        assert init.returncode == 0, init.stderr
        assert "installed the centre's snapshot: 2 reports" in init.stdout
        centre_port, centre_url = centre.port, centre.url

    # The link is cut: the replica answers from its copy, and says so.
    border = new_key(replica_env, BORDER)
    with Gunicorn(replica_env, workers=1) as post:
        checked = requests.post(post.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(border), timeout=30)
        answer = checked.json()
        assert answer["verdict"] == "hit" and answer["matches"][0]["report_id"] == stolen["id"]
        assert answer["replica"]["centre"] == centre_url and answer["replica"]["stale"] is False
        assert answer["registry_as_of"] == answer["replica"]["registry_as_of"] is not None
        refused = requests.post(post.url + "/v1/reports", json=report_data("KZ-NEW-1"), headers=post.http.headers,
                                timeout=30)
        assert refused.status_code == 403 and centre_url in refused.json()["detail"]
        not_validated = requests.post(f"{post.url}/v1/reports/{stolen['id']}/validation", headers=post.http.headers,
                                      timeout=30)
        assert not_validated.status_code == 403 and centre_url in not_validated.json()["detail"]
        clock.advance(2 * 3600)  # two hours without a sync
        stale = requests.post(post.url + "/v1/checks", json={"identifier": "SANY75C0099"}, headers=bearer(border),
                              timeout=30).json()
        assert stale["verdict"] == "hit" and stale["replica"]["stale"] is True
        assert "2.0 hours old" in stale["replica"]["warning"]
        offline = [answer["check_id"], stale["check_id"]]

    # The link is back (the centre at the same address); the agency recovers its machine.
    centre = Gunicorn(centre_settings, workers=1)
    centre.port, centre.url = centre_port, centre_url
    with centre:  # __enter__ starts it
        recovered = centre.http.patch(f"{centre.url}/v1/reports/{stolen['id']}",
                                      json={"status": "recovered", "recovery": RECOVERY}, headers={"If-Match": '"1"'})
        assert recovered.status_code == 200, recovered.text
        synced = irontrace("replica", "sync", env={**replica_env, "IRONTRACE_KEY": replica_key})
        assert synced.returncode == 0, synced.stderr
        assert "forwarded 2 checks" in synced.stdout and "1 removals" in synced.stdout

        # A sync that died after the centre took the checks, before the replica noted it, sends them again.
        with sqlite3.connect(replica_db) as db:
            db.execute("UPDATE meta SET value = json_set(value, '$.forwarded', 0) WHERE name = 'replica'")
        again = irontrace("replica", "sync", env={**replica_env, "IRONTRACE_KEY": replica_key})
        assert again.returncode == 0 and "forwarded 2 checks" in again.stdout

        entries = centre.http.get(centre.url + "/v1/audit", params={"action": "check.forwarded", "limit": 100}
                                  ).json()["items"]
        assert sorted(e["subject"] for e in entries) == sorted(offline)  # once each
        assert {e["details"]["answered_by"]["checked_at"] for e in entries} == {answer["checked_at"],
                                                                                  stale["checked_at"]}
        assert all(e["actor"]["role"] == REPLICA for e in entries)
        deliveries = centre.http.get(f"{centre.url}/v1/webhooks/{webhook['id']}/deliveries").json()["items"]
        assert sorted(json.loads(d["body"])["data"]["check_id"] for d in deliveries
                      if d["type"] == "check.matched") == sorted(offline)

        with Gunicorn(replica_env, workers=1) as post:
            after = requests.post(post.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(border),
                                  timeout=30).json()
            assert after["verdict"] == "no_match" and after["replica"]["stale"] is False
            assert requests.post(post.url + "/v1/checks", json={"identifier": "SANY75C0099"}, headers=bearer(border),
                                 timeout=30).json()["matches"][0]["report_id"] == other["id"]

        # Revoking the replica's key stops its sync.
        revoked = irontrace("keys", "revoke", replica_key.split("_")[1], env=centre_settings)
        assert revoked.returncode == 0, revoked.stderr
        refused_sync = irontrace("replica", "sync", "--follow", env={**replica_env, "IRONTRACE_KEY": replica_key})
        assert refused_sync.returncode != 0 and "refused this replica's key" in refused_sync.stderr


def test_sync_killed_mid_feed_resumes_without_loss_or_duplicates(app, tmp_path: Path, clock: FileClock) -> None:
    services = app.extensions[EXTENSION_KEY]
    operator = Actor.operator()
    now = utc_now()
    created = [{**report_data(f"KZ-KILL-{i:04d}", identifiers=[{"type": "serial", "value": f"KILLSER{i:05d}"}]),
                "id": new_id(), "version": 1, "created_at": now, "updated_at": now} for i in range(60)]
    upsert(services.engine, created)  # as an import stores them: one batch
    centre_settings = centre_env(app, clock)
    replica_db = tmp_path / "replica.db"
    replica_env = {"IRONTRACE_DB": str(replica_db), "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "heads.ndjson"),
                   "IRONTRACE_REPLICA_PAGE_SIZE": "1", "IRONTRACE_KEY": new_key(centre_settings, REPLICA)}
    with Gunicorn(centre_settings, workers=1) as centre:
        init = subprocess.Popen([str(BIN / "irontrace"), "replica", "init", "--from", centre.url, "--via", "feed"],
                                env={**os.environ, **replica_env}, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        wait_until(lambda: replica_db.exists() and (replica_state(replica_db) or {}).get("cursor"), bool,
                   "the first page applied", timeout=120)
        os.killpg(init.pid, signal.SIGKILL)
        init.wait(timeout=10)
        assert replica_state(replica_db)["as_of"] is None  # killed before it was complete
        for report in created[::6]:
            services.reports.update(operator, report["id"], {"color": "green"}, 1)
        # The sync resumes while the centre keeps changing; a last sync takes what it did not see yet.
        resumed = subprocess.Popen([str(BIN / "irontrace"), "replica", "sync"],
                                   env={**os.environ, **replica_env, "IRONTRACE_REPLICA_PAGE_SIZE": "7"},
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for report in created[3::6]:
            services.reports.update(operator, report["id"], {"status": "recovered", "recovery": RECOVERY}, 1)
        assert resumed.wait(timeout=120) == 0
        last = irontrace("replica", "sync", env=replica_env)
        assert last.returncode == 0, last.stderr

    with sqlite3.connect(replica_db) as db:
        held = dict(db.execute("SELECT id, version FROM reports").fetchall())
        syncs = [json.loads(row[0])["details"] for row in db.execute(
            "SELECT entry FROM audit_log WHERE action = 'replica.sync' ORDER BY seq")]
    active = {r["id"]: r["version"] for r in (services.reports.get(operator, c["id"]) for c in created)
              if r["status"] == "stolen"}
    assert held == active  # nothing lost, nothing recovered left behind, every change at its newest version
    # Each applied page starts where the one before ended: none applied twice, none skipped.
    assert [s["after"] for s in syncs[1:]] == [s["next"] for s in syncs[:-1]]


def test_an_interrupted_snapshot_download_resumes_or_starts_over_on_a_newer_one(tmp_path: Path,
                                                                               clock: FileClock) -> None:
    """A new replica downloads the centre's snapshot file.  Interrupted half-way, the next `replica init`
    asks only for the rest (Range, If-Range); if the centre has made a newer snapshot since, it gets that
    one whole.  Either way the feed then brings what was written after the snapshot."""
    centre_settings = {"IRONTRACE_DB": str(tmp_path / "centre.db"), "IRONTRACE_CLOCK_FILE": str(clock.path),
                       "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "centre-heads.ndjson"),
                       "IRONTRACE_REPLICA_SNAPSHOT_MAX_AGE_MINUTES": "60"}
    replica_key = new_key(centre_settings, REPLICA)
    with Gunicorn(centre_settings, workers=1) as centre:
        for i in range(30):
            created = centre.http.post(centre.url + "/v1/reports", json=report_data(
                f"KZ-SNAP-{i:03d}", identifiers=[{"type": "serial", "value": f"SNAPSER{i:05d}"}]))
            assert created.status_code == 201, created.text
        first = requests.get(centre.url + "/v1/changes/snapshot", headers=bearer(replica_key), timeout=60)
        assert first.status_code == 200, first.text
        half = len(first.content) // 2
        late = centre.http.post(centre.url + "/v1/reports", json=report_data(
            "KZ-SNAP-LATE", identifiers=[{"type": "serial", "value": "SNAPLATE0001"}])).json()

        def interrupted_init(name: str, in_snapshot: int, from_feed: int) -> tuple[Path, dict]:
            """``replica init`` run where an earlier one was cut off half-way through the first snapshot."""
            replica_db = tmp_path / f"{name}.db"
            Path(f"{replica_db}.snapshot").write_bytes(first.content[:half])
            Path(f"{replica_db}.snapshot.etag").write_text(first.headers["ETag"])
            env = {"IRONTRACE_DB": str(replica_db), "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / f"{name}.ndjson"),
                   "IRONTRACE_KEY": replica_key}
            init = irontrace("replica", "init", "--from", centre.url, env=env)
            assert init.returncode == 0, init.stderr
            assert f"installed the centre's snapshot: {in_snapshot} reports" in init.stdout
            assert f"applied {from_feed} reports" in init.stdout
            hit = irontrace("check", "SNAPSER00007", env=env)
            assert hit.returncode == 3, hit.stdout + hit.stderr  # a hit, answered from the copy
            reads = centre.http.get(centre.url + "/v1/audit", params={"action": "changes.snapshot", "limit": 100})
            assert reads.status_code == 200, reads.text
            read = reads.json()["items"][-1]["details"]
            return replica_db, read

        resumed_db, resumed = interrupted_init("resumed", 30, 1)  # the late report comes through the feed
        assert resumed["from_byte"] == half and resumed["snapshot"] == first.headers["ETag"].strip('"')

        clock.advance(2 * 3600)  # past the snapshot's age: the centre makes a new one, the old file goes
        restarted_db, restarted = interrupted_init("restarted", 31, 0)  # the new snapshot holds it
        assert restarted["from_byte"] == half and restarted["snapshot"] != resumed["snapshot"]
        assert [p.stem for p in (tmp_path / "centre.db.snapshots").glob("*.db")] == [restarted["snapshot"]]

    for replica_db in (resumed_db, restarted_db):
        with sqlite3.connect(replica_db) as db:
            assert db.execute("SELECT count(*) FROM reports").fetchone()[0] == 31
            assert db.execute("SELECT count(*) FROM reports WHERE id = ?", (late["id"],)).fetchone()[0] == 1
        assert not Path(f"{replica_db}.snapshot").exists() and not Path(f"{replica_db}.snapshot.etag").exists()


def test_check_page_shows_how_current_the_replica_is(tmp_path: Path, clock: FileClock) -> None:
    """A border officer at the post's web app is told the answer came from the replica, and warned once
    its copy is older than IRONTRACE_REPLICA_STALE_MINUTES."""
    settings = {"DB": str(tmp_path / "replica.db"), "CLOCK_FILE": str(clock.path), "REPLICA_STALE_MINUTES": 60,
                "AUDIT_HEADS_FILE": str(tmp_path / "heads.ndjson"), **TEST_LIMITS}
    engine = open_sqlite(settings["DB"])
    assert engine.replica is not None
    engine.replica.follow("https://centre.example")
    now = utc_now()
    report = {**report_data(), "id": new_id(), "version": 1, "created_at": now, "updated_at": now}
    engine.replica.apply([report], [], "MQ", iso_at(clock.now), audit_entry("replica.sync"))
    engine.close()
    app = create_app(settings)
    try:
        with LiveServer(app) as live:
            browser = Browser(live)
            browser.sign_in(create_user(app, BORDER))
            fresh = browser.submit("/", {"identifier": PIN}).text
            assert 'id="replica-note"' in fresh and "https://centre.example" in fresh
            assert "out of date" not in fresh
            clock.advance(61 * 60)
            stale = browser.submit("/", {"identifier": PIN}).text
            assert "out of date" in stale and "notice-error" in stale
    finally:
        close_storage(app)
