"""A replica's own state, in its embedded registry's ``meta`` table: the centre it follows, the feed
cursor it reached, when it was last current, and the last of its checks the centre holds.

Applying a page of the feed is one transaction: the reports, the cursor and
the audit entry commit together, so a sync killed at any point resumes at
the cursor of the last page it applied, and applies nothing twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from registry.records import AuditEntry, Document, Report
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.index_rows import IndexedReport, delete_rows, insert_rows, update_rows

STATE = "replica"  # the ``meta`` row holding the state as JSON


class SQLiteReplica:
    def __init__(self, database: Database) -> None:
        self.database = database

    def state(self) -> Document | None:
        return _state(self.database.connection())

    def follow(self, centre: str) -> None:
        with self.database.transaction() as db:
            state = _state(db) or {"cursor": None, "as_of": None, "forwarded": 0}
            _store(db, {**state, "centre": centre})

    def apply(self, upserts: Sequence[Report], removed: Sequence[str], cursor: str, as_of: str | None,
              audit: AuditEntry) -> None:
        with self.database.transaction() as db:
            new: list[IndexedReport] = []
            for report in upserts:
                row = db.execute("SELECT seq, document FROM reports WHERE id = ?", (report["id"],)).fetchone()
                if row is None:
                    new.append(IndexedReport.of(report))
                else:
                    update_rows(db, row[0], json.loads(row[1]), report)
            insert_rows(db, new)
            for report_id in removed:
                row = db.execute("SELECT seq, document FROM reports WHERE id = ?", (report_id,)).fetchone()
                if row is not None:
                    delete_rows(db, row[0], json.loads(row[1]))
            state = _state(db) or {}
            _store(db, {**state, "cursor": cursor, "as_of": as_of or state.get("as_of")})
            append_in(db, audit)

    def checks_after(self, seq: int, limit: int) -> list[tuple[int, Document]]:
        rows = self.database.connection().execute(
            "SELECT seq, document FROM checks WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)).fetchall()
        return [(row[0], json.loads(row[1])) for row in rows]

    def forwarded(self, seq: int) -> None:
        with self.database.transaction() as db:
            _store(db, {**(_state(db) or {}), "forwarded": seq})


def _state(db: sqlite3.Connection) -> Document | None:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (STATE,)).fetchone()
    return json.loads(row[0]) if row else None


def _store(db: sqlite3.Connection, state: Document) -> None:
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (STATE, json.dumps(state)))
