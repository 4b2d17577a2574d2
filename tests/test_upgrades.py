"""Upgrades: a SQLite file written by the previous release is migrated at open; an Elasticsearch reindex
keeps the writes made while it runs.

``tests/fixtures/registry-schema1.db.gz`` was written by the release before
schema 2 (commit 3b3c8df, before check records were indexed under their
reading's keys), with its own code::

    git archive 3b3c8df | tar -x -C /tmp/old
    cd /tmp/run && PYTHONPATH=/tmp/old IRONTRACE_DB=schema1.db python -c \\
        "import sys; from registry.cli import main; sys.argv[0] = 'irontrace'; main()" demo --count 30
    # then `check` LZGCR2V4XNX008317, KMTPC300C55A1704 and ZZZ9999000111 the same way,
    # and `PRAGMA journal_mode=DELETE; VACUUM` so it is one small file
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.errors import StorageUnavailable
from registry.storage.sqlite import open_sqlite
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.migrations import REGISTRY_STEPS, registry_version
from search.keys import sighting_terms
from search.query import CheckQuery
from tests.conftest import (
    LiveServer,
    close_storage,
    es_cluster,
    issue_key,
    report_data,
    settings_for,
    upsert,
    wait_until,
)

FIXTURE = Path(__file__).parent / "fixtures" / "registry-schema1.db.gz"


@pytest.fixture
def old_registry(tmp_path: Path) -> Path:
    path = tmp_path / "old.db"
    path.write_bytes(gzip.decompress(FIXTURE.read_bytes()))
    return path


def version_of(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()[0]


def test_the_previous_release_registry_opens_migrated_with_every_report(old_registry, tmp_path):
    with sqlite3.connect(old_registry) as db:
        written = [json.loads(row[0]) for row in db.execute("SELECT document FROM reports")]
        old_checks = db.execute("SELECT id, json_extract(document, '$.query.identifier') FROM checks").fetchall()
    assert version_of(old_registry) == "1" and len(written) > 20 and len(old_checks) == 3

    app = create_app({"DB": str(old_registry), "AUDIT_HEADS_FILE": str(tmp_path / "heads.ndjson"),
                      "MAINTENANCE_SECONDS": 3600})
    try:
        assert version_of(old_registry) == str(registry_version()) == "3"
        services = app.extensions[EXTENSION_KEY]
        for report in written:
            assert services.reports.get(Actor.operator(), report["id"])["version"] == report["version"]
            for identifier in report["identifiers"]:
                outcome = services.checks.check(Actor.operator(), CheckQuery(identifier=identifier["value"]))
                assert report["id"] in outcome.record["matched_report_ids"], (identifier, report["status"])
        assert services.audit.verify(Actor.operator()).intact
        # Step 2 kept the old checks under their readings' keys: a report of that serial finds them.
        for check_id, identifier in old_checks:
            seen = services.engine.checks.sightings(sighting_terms([identifier]), "2000-01-01", 10)
            assert check_id in [record["check_id"] for record in seen]
    finally:
        close_storage(app)


def test_a_registry_of_a_newer_release_is_refused_untouched(old_registry):
    with sqlite3.connect(old_registry) as db:
        db.execute("UPDATE meta SET value = '99' WHERE name = 'schema_version'")
        tables = db.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall()
    with pytest.raises(StorageUnavailable, match="schema version 99, written by a newer release"):
        open_sqlite(str(old_registry))
    with sqlite3.connect(old_registry) as db:
        assert db.execute("SELECT name FROM sqlite_master ORDER BY name").fetchall() == tables


def test_a_failed_migration_leaves_the_file_as_it_was(old_registry):
    def broken_step(db: sqlite3.Connection) -> None:
        raise sqlite3.OperationalError("the step cannot finish")

    with pytest.raises(sqlite3.OperationalError, match="cannot finish"):
        Database(str(old_registry), steps=(*REGISTRY_STEPS, broken_step))
    assert version_of(old_registry) == "1"
    with sqlite3.connect(old_registry) as db:
        assert db.execute("SELECT count(*) FROM check_terms").fetchone()[0] == 0  # step 2 was rolled back too


def test_writes_made_during_an_elasticsearch_reindex_are_kept(es_url):
    """Reports created, changed and moved to a new case number over HTTP while ``reindex`` runs are all
    in the new index at the version each write acknowledged (a write refused while the old index is
    blocked for the swap answers 503 and is retried, as a client would)."""
    app = create_app(settings_for(es_url, MAINTENANCE_SECONDS=3600))
    services = app.extensions[EXTENSION_KEY]
    upsert(services.engine, [dict(report_data(f"BASE-{n:04d}", identifiers=[{"type": "pin", "value": f"BASE{n:08d}"}]),
                                  id=f"base-{n}", version=1, created_at="2025-11-20T00:00:00Z",
                                  updated_at="2025-11-20T00:00:00Z") for n in range(600)])
    acknowledged: dict[str, int] = {}
    writes: list[str] = []
    stopping = threading.Event()
    try:
        with LiveServer(app, issue_key(app)) as live:
            def write(method: str, path: str, **kwargs) -> dict:
                while True:
                    response = live.http.request(method, live.url + path, timeout=30, **kwargs)
                    if response.status_code != 503:
                        assert response.status_code in (200, 201), response.text
                        writes.append(path)
                        return response.json()

            def writer() -> None:
                n = 0
                while not stopping.is_set():
                    created = write("POST", "/v1/reports", json=report_data(
                        f"DURING-{n:04d}", identifiers=[{"type": "pin", "value": f"DURING{n:08d}"}]))
                    changed = write("PATCH", f"/v1/reports/base-{n}", json={"color": f"red {n}"},
                                    headers={"If-Match": "*"})
                    moved = write("PATCH", f"/v1/reports/{created['id']}", json={"external_ref": f"MOVED-{n:04d}"},
                                  headers={"If-Match": "*"})
                    acknowledged.update({changed["id"]: changed["version"], moved["id"]: moved["version"]})
                    n += 1

            thread = threading.Thread(target=writer, daemon=True)
            thread.start()
            wait_until(lambda: len(acknowledged), lambda count: count >= 2, "writes before the reindex")
            before = len(writes)
            result = services.engine.admin.reindex()
            during = len(writes) - before
            stopping.set()
            thread.join(timeout=60)
            assert result.new_index.endswith("-v2") and during > 0
            stored = {report_id: live.get(f"/v1/reports/{report_id}").json() for report_id in acknowledged}
            assert {report_id: report["version"] for report_id, report in stored.items()} == acknowledged
            assert all(report["external_ref"].startswith("MOVED-") for report in stored.values()
                       if not report["id"].startswith("base-"))
        cluster = es_cluster(services.engine)
        left_behind = cluster.client.count(index=cluster.reports_alias, query={"prefix": {"external_ref": "DURING-"}})
        assert left_behind["count"] == 0  # the copies under the old case numbers were deleted from the new index
    finally:
        stopping.set()
        close_storage(app)
