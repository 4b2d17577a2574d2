"""The audit log: what it records, how auditors read it, and that tampering is detected.

Runs on both engines: the tampering is done in the engine's own storage, the
way someone with access to the database or the cluster would do it.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest

from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.audit_chain import GENESIS_HASH, entry_hash
from registry.files.heads import HeadsFile
from registry.services import open_services
from registry.services.bulk_worker import BulkWorker
from registry.storage.sqlite.database import SCHEMA
from tests.conftest import (
    RECOVERY,
    bearer,
    es_cluster,
    issue_key,
    report_data,
    sqlite_path,
    store_env,
    wait_until,
    without_review,
)
from tests.processes import Gunicorn, irontrace

PIN = "CAT0336DLTJF00123"
# How each tampering with entry 4 shows: the first entry that no longer fits the chain.
FIRST_BROKEN = {"edit": 4, "delete": 4, "reorder": 3}


def entries(server, **filters) -> list[dict]:
    answer = server.get("/v1/audit", params=filters)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


def test_a_check_is_recorded_with_who_when_where_what_and_the_answer(app, server):
    report = server.post("/v1/reports", json=report_data()).json()
    border_key = issue_key(app, "border")
    border_id = border_key.split("_")[1]
    answer = server.http.post(server.url + "/v1/checks", json={"identifier": "cat-0336 dltjf 00123"},
                              headers=bearer(border_key), timeout=30).json()

    [entry] = entries(server, action="check", principal=border_id)
    assert entry["subject"] == answer["check_id"]
    assert entry["actor"] == {"principal": border_id, "role": "border", "agency": None, "address": "127.0.0.1"}
    assert entry["at"] >= report["created_at"]
    assert entry["details"] == {"query": {"identifier": "cat-0336 dltjf 00123", "reading_source": "typed"},
                                "verdict": "hit",
                                "matched_report_ids": [report["id"]], "hit_sources": ["local"]}


def test_report_writes_are_recorded_before_and_after(server):
    created = server.post("/v1/reports", json=report_data()).json()
    updated = server.patch(f"/v1/reports/{created['id']}", json={"status": "recovered", "recovery": RECOVERY},
                           headers={"If-Match": '"1"'}).json()
    created, updated = (without_review(report) for report in (created, updated))  # shown, never stored

    create, update = entries(server, subject=created["id"])
    assert (create["action"], create["details"]) == ("report.create", {"before": None, "after": created})
    assert (update["action"], update["details"]) == ("report.update", {"before": created, "after": updated})
    assert update["seq"] > create["seq"] and update["prev_hash"] != GENESIS_HASH


def test_key_changes_are_recorded_without_the_key(server):
    created = server.post("/v1/keys", json={"role": "dealer", "label": "Dealer 12"}).json()
    server.delete(f"/v1/keys/{created['key_id']}")

    log = entries(server, subject=created["key_id"])
    assert [e["action"] for e in log] == ["key.create", "key.revoke"]
    assert log[1]["details"]["key"]["state"] == "revoked"
    assert created["key"].split("_", 2)[2] not in json.dumps(log)
    assert created["key"] not in server.get("/v1/audit/export").text


def test_filters_pages_and_export(server):
    for n in range(5):
        server.post("/v1/checks", json={"identifier": f"ZZ{n:06d}"})
    checks = entries(server, action="check")
    assert len(checks) == 5
    first = server.get("/v1/audit", params={"action": "check", "limit": 2}).json()
    second = server.get("/v1/audit", params={"action": "check", "limit": 2, "cursor": first["next_cursor"]}).json()
    assert [e["seq"] for e in first["items"] + second["items"]] == [e["seq"] for e in checks[:4]]
    assert [e["seq"] for e in entries(server, since=checks[2]["at"], action="check")] == [
        e["seq"] for e in checks if e["at"] >= checks[2]["at"]]
    assert entries(server, until="2000-01-01T00:00:00Z") == []
    export = server.get("/v1/audit/export", params={"action": "check"})
    assert export.headers["Content-Type"].startswith("application/x-ndjson")
    assert [json.loads(line) for line in export.text.splitlines()] == checks
    assert server.get("/v1/audit", params={"since": "not a date"}).status_code == 422


def test_concurrent_appends_keep_one_unbroken_chain(app, server):
    def check(n: int) -> int:
        return server.post("/v1/checks", json={"identifier": f"PAR{n:05d}"}).status_code

    with ThreadPoolExecutor(8) as pool:
        assert set(pool.map(check, range(40))) == {200}
    stored = list(app.extensions[EXTENSION_KEY].engine.audit.iter_stored())
    assert [item.position for item in stored] == list(range(1, len(stored) + 1))
    verified = server.get("/v1/audit/verify").json()
    assert verified["intact"] and verified["entries"] == len(stored)


def test_appenders_with_storage_of_their_own_race_for_positions_and_keep_one_chain(app):
    """Two engines opened on one registry, as two server processes would: each thinks it knows
    the newest entry, so their appends collide and the loser must move on, not fork the chain."""
    first = app.extensions[EXTENSION_KEY]
    second = open_services(app.config["IRONTRACE"])
    actor = Actor(principal="race", role="border", address="127.0.0.1")
    try:
        def append(n: int) -> int:
            return (first if n % 2 else second).audit.record(actor, "check", f"race-{n}", {"n": n})["seq"]

        with ThreadPoolExecutor(8) as pool:
            positions = list(pool.map(append, range(60)))
        assert sorted(positions) == list(range(1, 61))
        assert first.audit.verify(Actor.operator()).intact
    finally:
        second.close()


def tamper(app, how: str, seq: int) -> None:
    """Change the stored log as an intruder with access to the engine would."""
    engine = app.extensions[EXTENSION_KEY].engine
    if engine.admin is None:
        with sqlite3.connect(sqlite_path(engine)) as db:
            if how == "edit":
                db.execute("UPDATE audit_log SET entry = json_set(entry, '$.details.verdict', 'hit') "
                           "WHERE seq = ?", (seq,))
            elif how == "delete":
                db.execute("DELETE FROM audit_log WHERE seq = ?", (seq,))
            else:  # reorder: swap an entry with the one before it
                db.execute("UPDATE audit_log SET seq = -1 WHERE seq = ?", (seq - 1,))
                db.execute("UPDATE audit_log SET seq = ? WHERE seq = ?", (seq - 1, seq))
                db.execute("UPDATE audit_log SET seq = ? WHERE seq = -1", (seq,))
        return
    es, index = es_cluster(engine).client, es_cluster(engine).audit_alias
    if how == "edit":
        source = es.get(index=index, id=str(seq))["_source"]
        source["entry"]["details"]["verdict"] = "hit"
        es.index(index=index, id=str(seq), document=source, refresh=True)
    elif how == "delete":
        es.delete(index=index, id=str(seq), refresh=True)
    else:
        earlier = es.get(index=index, id=str(seq - 1))["_source"]
        later = es.get(index=index, id=str(seq))["_source"]
        es.index(index=index, id=str(seq - 1), document=later)
        es.index(index=index, id=str(seq), document=earlier, refresh=True)


@pytest.mark.parametrize("how", FIRST_BROKEN)
def test_tampering_with_any_entry_is_detected_by_audit_verify(app, server, how):
    for n in range(6):  # no report matches: every verdict is no_match
        server.post("/v1/checks", json={"identifier": f"{PIN[:-2]}{n:02d}"})
    env = store_env(app)
    intact = irontrace("audit", "verify", env=env)
    assert intact.returncode == 0, intact.stderr
    assert "audit log intact" in intact.stdout

    tamper(app, how, seq=4)

    broken = irontrace("audit", "verify", env=env)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"BROKEN at entry {FIRST_BROKEN[how]}" in broken.stdout
    assert server.get("/v1/audit/verify").json()["broken_at"] == FIRST_BROKEN[how]


def test_removing_the_newest_entries_is_caught_by_an_anchor(app, server):
    for n in range(3):
        server.post("/v1/checks", json={"identifier": f"TAIL{n:04d}"})
    env = store_env(app)
    head = irontrace("audit", "verify", env=env).stdout.split("head ")[1].split(";")[0]
    last_seq = int(head.split(":")[0])
    tamper(app, "delete", seq=last_seq)

    assert irontrace("audit", "verify", env=env).returncode == 0  # a shorter chain is still a chain
    anchored = irontrace("audit", "verify", "--anchor", head, env=env)
    assert anchored.returncode == 1
    assert f"BROKEN at entry {last_seq}" in anchored.stdout


def test_entry_hash_covers_every_field_but_itself():
    entry = {"seq": 1, "at": "2026-01-01T00:00:00.000Z", "action": "check", "actor": {"principal": "k"},
             "subject": "c", "details": {"verdict": "hit"}, "prev_hash": GENESIS_HASH}
    sealed = {**entry, "hash": entry_hash(entry)}
    assert entry_hash(sealed) == sealed["hash"]
    for name in entry:
        assert entry_hash({**sealed, name: "changed"}) != sealed["hash"], name


def test_bulk_checks_are_recorded_with_their_file_and_what_matched(app, server):
    report = server.post("/v1/reports", json=report_data()).json()
    inventory = f"serial\n{PIN}\nZZZ000111\n".encode()
    server.post("/v1/checks/bulk", data=inventory, headers={"Content-Type": "text/csv"})
    [sync] = entries(server, action="bulk_check.sync")
    assert sync["details"]["sha256"] == hashlib.sha256(inventory).hexdigest()
    assert (sync["details"]["rows_total"], sync["details"]["hits"], sync["details"]["no_matches"]) == (2, 1, 1)
    assert sync["details"]["matched"] == [{"row": 2, "verdict": "hit", "external_ref": report["external_ref"],
                                           "agency": report["reporting_agency"]["name"]}]

    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()  # the job is run below, by a worker of the test's own
    job = server.post("/v1/bulk-checks", data=inventory, headers={"Content-Type": "text/csv"}).json()
    assert BulkWorker(services.bulk).run_once()
    log = entries(server, subject=job["id"])
    assert [e["action"] for e in log] == ["bulk_check.submit", "bulk_check.batch", "bulk_check.done"]
    assert log[1]["details"]["matched"] == sync["details"]["matched"]
    assert log[0]["actor"] == log[2]["actor"]  # the worker records on behalf of whoever submitted


# -- the chain covers what filters read ----------------------------------------------------


def set_stored(app, seq: int, **fields) -> None:
    """Change what the engine keeps for entry ``seq`` (an indexed column, or the entry itself) directly."""
    engine = app.extensions[EXTENSION_KEY].engine
    if engine.admin is None:
        with sqlite3.connect(sqlite_path(engine)) as db:
            for column, value in fields.items():
                stored = json.dumps(value) if column == "entry" and not isinstance(value, str) else value
                db.execute(f"UPDATE audit_log SET {column} = ? WHERE seq = ?", (stored, seq))
        return
    es, index = es_cluster(engine).client, es_cluster(engine).audit_alias
    source = es.get(index=index, id=str(seq))["_source"]
    es.index(index=index, id=str(seq), document={**source, **fields}, refresh=True)


@pytest.mark.parametrize(("column", "value"), [
    ("principal", "someone-else"), ("action", "key.create"), ("subject", "another-subject"),
    ("at", "2001-01-01T00:00:00.000Z"),
])
def test_changing_what_a_filter_reads_is_detected_like_an_edit(app, server, column, value):
    """Issue 12: changing ``principal`` hid 758 entries from ``?principal=`` while verify said intact."""
    key = issue_key(app, "border")
    for n in range(5):
        server.http.post(server.url + "/v1/checks", json={"identifier": f"FLT{n:06d}"}, headers=bearer(key),
                         timeout=30)
    [*_, fourth, _] = entries(server, principal=key.split("_")[1])
    set_stored(app, fourth["seq"], **{column: value})

    verified = server.get("/v1/audit/verify").json()
    assert (verified["intact"], verified["broken_at"]) == (False, fourth["seq"])
    assert f"the {column} kept for filters" in verified["reason"]
    cli = irontrace("audit", "verify", env=store_env(app))
    assert cli.returncode == 1 and f"BROKEN at entry {fourth['seq']}" in cli.stdout


# -- a corrupt entry is reported, never a crash -----------------------------------------------


CORRUPTIONS = {
    "not JSON": "{not json",
    "an array": [1, 2],
    "no hash": {"seq": 0, "at": "2026-11-26T08:00:00.000Z", "action": "check", "actor": {"principal": "k"},
                "subject": None, "details": {}, "prev_hash": GENESIS_HASH},
    "seq not a number": {"seq": "four", "at": "x", "action": "check", "actor": {"principal": "k"}, "subject": None,
                         "details": {}, "prev_hash": GENESIS_HASH, "hash": GENESIS_HASH},
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_a_corrupt_entry_is_reported_by_every_reader_and_the_log_goes_on(app, server, corruption):
    for n in range(5):
        server.post("/v1/checks", json={"identifier": f"CRP{n:06d}"})
    total = len(entries(server))
    set_stored(app, 3, entry=CORRUPTIONS[corruption])

    env = store_env(app)
    cli = irontrace("audit", "verify", env=env)
    assert cli.returncode == 1 and "Traceback" not in cli.stderr
    assert "BROKEN at entry 3: entry 3 cannot be read" in cli.stdout
    verified = server.get("/v1/audit/verify")
    assert verified.status_code == 200 and verified.json()["broken_at"] == 3
    listed = server.get("/v1/audit")
    assert listed.status_code == 200
    assert listed.json()["items"][2] == {"seq": 3, "corrupt": listed.json()["items"][2]["corrupt"]}
    exported = server.get("/v1/audit/export")
    lines = [json.loads(line) for line in exported.text.splitlines()]
    assert exported.status_code == 200 and len(lines) == total and lines[2]["seq"] == 3 and "corrupt" in lines[2]
    written = irontrace("audit", "export", env=env)
    assert written.returncode == 0 and len(written.stdout.splitlines()) == total

    set_stored(app, total, entry=CORRUPTIONS[corruption])  # the newest entry, which the next one links to
    assert server.post("/v1/checks", json={"identifier": "CRP-AFTER"}).status_code == 200


# -- the published head catches cutting and emptying -------------------------------------------


def drop_log(app, how: str, keep: int) -> None:
    """Cut the log to its first ``keep`` entries, empty it, or drop it, as an intruder in the database would."""
    engine = app.extensions[EXTENSION_KEY].engine
    if engine.admin is None:
        with sqlite3.connect(sqlite_path(engine)) as db:
            if how == "drop":
                db.execute("DROP TABLE audit_log")
            else:
                db.execute("DELETE FROM audit_log WHERE seq > ?", (keep if how == "cut" else 0,))
        if how == "drop":
            engine.reports.database.connection().executescript(SCHEMA)  # as the next start does
        return
    cluster = es_cluster(engine)
    es = cluster.client
    if how == "drop":
        es.indices.delete(index=f"{cluster.audit_alias}-v1")
        cluster.init_indices()  # as the next process to use it does
        return
    es.indices.refresh(index=cluster.audit_alias)
    doomed = es.search(index=cluster.audit_alias, query={"range": {"seq": {"gt": keep if how == "cut" else 0}}},
                       size=1000, source=False)["hits"]["hits"]
    es.bulk(operations=[{"delete": {"_index": cluster.audit_alias, "_id": hit["_id"]}} for hit in doomed], refresh=True)


@pytest.mark.parametrize("how", ["cut", "empty", "drop"])
def test_cutting_emptying_or_dropping_the_log_is_caught_by_the_published_head(app, server, how):
    app.extensions[EXTENSION_KEY].stop_workers()  # the maintenance round publishes heads too: no race with it
    for n in range(6):
        server.post("/v1/checks", json={"identifier": f"HEAD{n:05d}"})
    services = app.extensions[EXTENSION_KEY]
    published = services.audit.publish_head(0)
    assert published is not None and published.seq == len(entries(server))
    heads = services.audit.heads
    assert heads.latest() == published

    drop_log(app, how, keep=3)

    verified = server.get("/v1/audit/verify").json()
    assert (verified["intact"], verified["broken_at"]) == (False, published.seq)
    assert "published at" in verified["reason"] and verified["published"]["hash"] == published.hash
    cli = irontrace("audit", "verify", env=store_env(app))
    assert cli.returncode == 1 and f"BROKEN at entry {published.seq}" in cli.stdout
    # A log that no longer holds its published head is never vouched for again.
    server.post("/v1/checks", json={"identifier": "HEAD-AFTER"})
    assert services.audit.publish_head(0) is None and heads.latest() == published


def test_the_published_head_moves_on_only_with_the_log(app, server):
    app.extensions[EXTENSION_KEY].stop_workers()  # the maintenance round publishes heads too: no race with it
    audit = app.extensions[EXTENSION_KEY].audit
    server.post("/v1/checks", json={"identifier": "HEAD-1"})
    first = audit.publish_head(0)
    assert first is not None and (first.seq, first.hash) == audit.log.head()
    assert audit.publish_head(0) is None  # unchanged: not published twice
    server.post("/v1/checks", json={"identifier": "HEAD-2"})
    second = audit.publish_head(0)
    assert second is not None and second.seq > first.seq
    assert server.get("/v1/audit/verify").json()["intact"]


def test_verify_over_http_takes_the_anchor_the_command_line_takes(app, server):
    for n in range(3):
        server.post("/v1/checks", json={"identifier": f"ANC{n:05d}"})
    report = server.get("/v1/audit/verify").json()
    anchor = f"{report['head_seq']}:{report['head_hash']}"
    assert server.get("/v1/audit/verify", params={"anchor": anchor}).json()["intact"]
    wrong = server.get("/v1/audit/verify", params={"anchor": f"{report['head_seq']}:{'f' * 64}"}).json()
    assert (wrong["intact"], wrong["reason"]) == (False, "entry differs from the anchor given")
    tamper(app, "delete", seq=report["head_seq"])
    cut = server.get("/v1/audit/verify", params={"anchor": anchor}).json()
    assert (cut["intact"], cut["broken_at"]) == (False, report["head_seq"])
    for malformed in ("3", "x:abc", f"-1:{'0' * 64}", f"3:{'0' * 63}"):
        answer = server.get("/v1/audit/verify", params={"anchor": malformed})
        assert answer.status_code == 422, malformed


def test_audit_export_on_the_command_line_matches_the_api(app, server):
    key = issue_key(app, "border")
    for n in range(3):
        server.http.post(server.url + "/v1/checks", json={"identifier": f"EXP{n:05d}"}, headers=bearer(key),
                         timeout=30)
    env = store_env(app)
    everything = irontrace("audit", "export", env=env)
    assert everything.returncode == 0
    assert [json.loads(line) for line in everything.stdout.splitlines()] == [
        json.loads(line) for line in server.get("/v1/audit/export").text.splitlines()]
    checks = irontrace("audit", "export", "--action", "check", "--principal", key.split("_")[1], env=env)
    assert [json.loads(line)["subject"] for line in checks.stdout.splitlines()] == [
        e["subject"] for e in entries(server, action="check", principal=key.split("_")[1])]
    assert "exported 3 audit entries" in checks.stderr


def test_every_serving_process_publishes_the_head_regularly(tmp_path):
    """Gunicorn as deployed, publishing every 0.2 s: the heads file follows the log, one line per head,
    and emptying the log behind the server's back is caught by the next verify."""
    env = {"IRONTRACE_DB": str(tmp_path / "served.db"), "IRONTRACE_MAINTENANCE_SECONDS": "0.2"}
    heads = HeadsFile(f"{env['IRONTRACE_DB']}.audit-heads.ndjson")
    with Gunicorn(env, workers=3) as server:
        for n in range(5):
            server.http.post(server.url + "/v1/checks", json={"identifier": f"PUB{n:05d}"}, timeout=30)
        head = server.http.get(server.url + "/v1/audit/verify", timeout=60).json()
        published = wait_until(heads.latest, lambda latest: latest is not None and latest.seq >= head["head_seq"],
                               "the head's publication")
        assert published.hash == head["head_hash"]
        lines = [json.loads(line) for line in heads.path.read_text().splitlines()]
        assert [line["seq"] for line in lines] == sorted({line["seq"] for line in lines})  # never twice
        with sqlite3.connect(env["IRONTRACE_DB"]) as db:
            db.execute("DELETE FROM audit_log")
        emptied = server.http.get(server.url + "/v1/audit/verify", timeout=60).json()
        assert (emptied["intact"], emptied["entries"], emptied["broken_at"]) == (False, 0, published.seq)
