"""The change feed (``GET /v1/changes``), on both engines, over real HTTP: commit order, removals,
resuming, forged cursors, who may read it, and the audit entry of every read."""

from __future__ import annotations

import json
import sqlite3
import time

import pytest

from registry.access import Actor
from registry.storage.cursors import encode_cursor
from registry.storage.sqlite import open_sqlite
from registry.vocabulary import REPLICA
from tests.conftest import RECOVERY, bearer, es_cluster, issue_key, report_data, sqlite_path

PIN = "CAT0336DLTJF00123"  # the first identifier of ``report_data``


def read_all(server, headers: dict[str, str], after: str | None = None, limit: int = 2) -> tuple[list[dict], str]:
    """Every change after ``after``, a page of ``limit`` at a time; the last ``next``."""
    changes: list[dict] = []
    while True:
        page = server.get("/v1/changes", params={"limit": limit, **({"after": after} if after else {})},
                          headers=headers)
        assert page.status_code == 200, page.text
        body = page.json()
        changes += body["changes"]
        after = body["next"]
        if not body["more"]:
            return changes, after


def test_feed_in_commit_order_with_removals_and_resume(server, app) -> None:
    replica = bearer(issue_key(app, REPLICA))
    created = [server.post("/v1/reports", json=report_data(f"KZ-FEED-{i}", identifiers=[
        {"type": "serial", "value": f"FEEDSER{i:05d}"}])).json() for i in range(5)]
    first, cursor = read_all(server, replica)
    assert [c["report_id"] for c in first] == [r["id"] for r in created]
    assert all(c["op"] == "upsert" and c["report"]["version"] == 1 for c in first)

    # The second report changes, the fourth is recovered: they move to the end, the fourth as a removal.
    second, fourth = created[1], created[3]
    assert server.patch(f"/v1/reports/{second['id']}", json={"color": "red"},
                        headers={"If-Match": '"1"'}).status_code == 200
    assert server.patch(f"/v1/reports/{fourth['id']}", json={"status": "recovered", "recovery": RECOVERY},
                        headers={"If-Match": '"1"'}).status_code == 200
    later, cursor_after = read_all(server, replica, cursor)
    assert [(c["op"], c["report_id"]) for c in later] == [("upsert", second["id"]), ("remove", fourth["id"])]
    assert later[0]["report"]["color"] == "red" and "report" not in later[1]

    # Nothing new: the same cursor comes back, and nothing is read twice.
    assert read_all(server, replica, cursor_after) == ([], cursor_after)
    # From the start, the feed holds each report once, at its newest write.
    everything, _ = read_all(server, replica, limit=100)
    assert [c["report_id"] for c in everything] == [created[i]["id"] for i in (0, 2, 4, 1, 3)]


def test_forged_cursors_are_refused(server, app) -> None:
    replica = bearer(issue_key(app, REPLICA))
    server.post("/v1/reports", json=report_data())
    _, cursor = read_all(server, replica)
    for forged in ("not-a-cursor", encode_cursor("x"), encode_cursor(-1), encode_cursor(10**6), encode_cursor(2**70)):
        answer = server.get("/v1/changes", params={"after": forged}, headers=replica)
        assert answer.status_code == 400, (forged, answer.text)
    assert server.get("/v1/changes", params={"after": cursor}, headers=replica).status_code == 200


def test_only_replicas_and_admins_read_the_feed(server, app) -> None:
    for role in ("border", "dealer", "auditor"):  # a border post's people check; they do not hold copies
        assert server.get("/v1/changes", headers=bearer(issue_key(app, role))).status_code == 403


def test_every_read_is_audited(server, app, services) -> None:
    key = issue_key(app, REPLICA)
    server.post("/v1/reports", json=report_data())
    read_all(server, bearer(key), limit=1)
    reads = services.audit.list(Actor.operator(), _filter("changes.read"), 100, None).items
    assert [r["details"]["upserts"] for r in reads] == [1]
    assert all(r["actor"]["role"] == REPLICA for r in reads)


def test_a_snapshot_holds_what_a_border_post_may_hold(server, app, tmp_path) -> None:
    """An embedded centre hands a new replica a ready registry file: its active reports with their index
    rows, as of the feed position it records, and nothing else (no keys, users, checks or audit
    entries); resumable with Range.  A centre on Elasticsearch makes none (404): replicas copy it through
    the feed."""
    replica = bearer(issue_key(app, REPLICA))
    kept = server.post("/v1/reports", json=report_data("KZ-SNAP-1")).json()
    gone = server.post("/v1/reports", json=report_data("KZ-SNAP-2", identifiers=[
        {"type": "serial", "value": "SNAPGONE0001"}])).json()
    assert server.patch(f"/v1/reports/{gone['id']}", json={"status": "recovered", "recovery": RECOVERY},
                        headers={"If-Match": '"1"'}).status_code == 200
    assert server.post("/v1/checks", json={"identifier": PIN}).json()["verdict"] == "hit"
    answer = server.get("/v1/changes/snapshot", headers=replica)
    if app.config["IRONTRACE"].get("ES_URL"):
        assert answer.status_code == 404 and "feed" in answer.json()["detail"]
        return
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/vnd.sqlite3"
    snapshot = tmp_path / "snapshot.db"
    snapshot.write_bytes(answer.content)
    with sqlite3.connect(snapshot) as db:
        assert [row[0] for row in db.execute("SELECT id FROM reports")] == [kept["id"]]
        for table in ("api_keys", "users", "checks", "check_terms", "audit_log", "bulk_jobs", "webhooks",
                      "confirmations", "sightings"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
        seq = db.execute("SELECT seq FROM reports").fetchone()[0]
        for table in ("identifier_terms", "identifier_suffixes", "report_skeletons", "description_terms"):
            assert {row[0] for row in db.execute(f"SELECT report_seq FROM {table}")} == {seq}, table
        mark = json.loads(db.execute("SELECT value FROM meta WHERE name = 'snapshot'").fetchone()[0])
    assert mark["position"] == 3 and mark["reports"] == 1  # three report writes: both reports, the recovery
    half = len(answer.content) // 2
    rest = server.get("/v1/changes/snapshot", headers={**replica, "Range": f"bytes={half}-",
                                                       "If-Range": answer.headers["ETag"]})
    assert rest.status_code == 206 and rest.content == answer.content[half:]
    assert server.get("/v1/changes/snapshot", headers=bearer(issue_key(app, "border"))).status_code == 403


def _filter(action: str):
    from registry.records import AuditFilter

    return AuditFilter(action=action)


def forwarded_check(check_id: str, report_id: str) -> dict:
    """A hit as a replica recorded it."""
    return {"check_id": check_id, "checked_at": "2026-11-26T08:00:00.000Z", "query": {"identifier": PIN},
            "verdict": "hit", "matched_report_ids": [report_id], "hit_sources": ["local"],
            "checker": {"principal": "key:post7", "role": "border", "agency": None, "address": "10.0.0.7"},
            "terms": [], "replica": {"centre": "http://centre", "registry_as_of": "2026-11-26T07:59:00.000Z",
                                     "stale": False, "warning": None}}


def test_forwarded_checks_are_kept_once_with_their_events(server, app, services) -> None:
    report = server.post("/v1/reports", json=report_data()).json()
    webhook = server.post("/v1/webhooks", json={"url": "http://127.0.0.1:9/hooks", "events": ["check.matched"]}
                          ).json()
    replica = bearer(issue_key(app, REPLICA))
    batch = {"checks": [forwarded_check("fwd-1", report["id"]), forwarded_check("fwd-2", report["id"])]}
    first = server.post("/v1/changes/checks", json=batch, headers=replica)
    assert first.json() == {"recorded": ["fwd-1", "fwd-2"], "already_recorded": []}
    again = server.post("/v1/changes/checks", json=batch, headers=replica)  # a sync that lost the answer
    assert again.json() == {"recorded": [], "already_recorded": ["fwd-1", "fwd-2"]}
    entries = services.audit.list(Actor.operator(), _filter("check.forwarded"), 100, None).items
    assert sorted(e["subject"] for e in entries) == ["fwd-1", "fwd-2"]
    assert entries[0]["details"]["answered_by"]["checker"]["principal"] == "key:post7"
    deliveries = server.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["items"]
    assert sorted(json.loads(d["body"])["data"]["check_id"] for d in deliveries) == ["fwd-1", "fwd-2"]
    assert server.post("/v1/changes/checks", json=batch).status_code == 403  # admins do not forward


def test_a_registry_made_before_the_feed_enters_its_reports(app, services) -> None:
    """SQLite enters them when the file is opened (a migration step); Elasticsearch when `irontrace es
    init` runs."""
    report = services.reports.create(Actor.operator(), report_data())
    engine = services.engine
    if engine.admin is None:
        with sqlite3.connect(sqlite_path(engine)) as db:
            db.execute("DELETE FROM report_feed")  # as a file of schema 2, written before the feed
            db.execute("UPDATE meta SET value = '2' WHERE name = 'schema_version'")
        reopened = open_sqlite(sqlite_path(engine))
        changes = reopened.changes.read(0, 10)
        reopened.close()
    else:
        cluster = es_cluster(engine)
        cluster.client.indices.delete(index=f"{cluster.changes_alias}-v1")
        engine.admin.init()
        changes = engine.changes.read(0, 10)
    assert [(c.report_id, c.report["version"]) for c in changes] == [(report["id"], 1)]


@pytest.mark.parametrize("backend", ["elasticsearch"])
def test_a_write_the_feed_could_not_take_reaches_it_through_recovery(app, services) -> None:
    """Elasticsearch: the feed's touch is part of the write's intent; while the feed refuses it the
    intent stays, and recovery enters the report before appending the write's entry (once)."""
    operator, engine = Actor.operator(), services.engine
    report = services.reports.create(operator, report_data())
    cluster = es_cluster(engine)
    cluster.client.indices.put_settings(index=cluster.changes_alias, settings={"index.blocks.write": True})
    try:
        # stored: the answer is 200
        services.reports.update(operator, report["id"], {"status": "recovered", "recovery": RECOVERY}, 1)
    finally:
        cluster.client.indices.put_settings(index=cluster.changes_alias, settings={"index.blocks.write": False})
    assert [c.report["status"] for c in engine.changes.read(0, 10)] == ["stolen"]
    assert engine.audit.pending() == 1
    assert engine.audit.complete_pending(time.time() + 3600) == 1
    assert [c.report["status"] for c in engine.changes.read(0, 10)] == ["recovered"]
    updates = services.audit.list(operator, _filter("report.update"), 10, None).items
    assert [u["subject"] for u in updates] == [report["id"]] and engine.audit.pending() == 0
