"""The change feed of the embedded engine: a position per report, taken in the write's own transaction.

``report_feed`` holds one row per report, keyed by an ``AUTOINCREMENT``
position: every write of a report (``index_rows.insert_rows`` and
``update_rows``, whatever called them, through ``index_rows.note_changes``) replaces its row, which takes the next
position.  Write transactions are serial (``BEGIN IMMEDIATE``) and
``AUTOINCREMENT`` never reuses a position, so positions follow commit order
and a reader resuming after position P sees every write committed since, once.
A file made before the feed existed has its reports entered, oldest first, by
the migration step ``migrations.enter_reports_in_feed``.
"""

from __future__ import annotations

import json

from registry.storage.interfaces import Change
from registry.storage.sqlite.database import Database


class SQLiteChangeFeed:
    def __init__(self, database: Database) -> None:
        self.database = database

    def read(self, after: int, limit: int) -> list[Change]:
        with self.database.snapshot() as db:
            rows = db.execute(
                "SELECT f.position, f.report_id, r.document FROM report_feed f LEFT JOIN reports r "
                "ON r.id = f.report_id WHERE f.position > ? ORDER BY f.position LIMIT ?", (after, limit)).fetchall()
        return [Change(position, report_id, json.loads(document) if document else None)
                for position, report_id, document in rows]

    def head(self) -> int:
        row = self.database.connection().execute(
            "SELECT seq FROM sqlite_sequence WHERE name = 'report_feed'").fetchone()
        return int(row[0]) if row else 0
