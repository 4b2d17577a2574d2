"""The change feed of the embedded engine: a position per report, taken in the write's own transaction.

``report_feed`` holds one row per report, keyed by an ``AUTOINCREMENT``
position: every write of a report (``index_rows.insert_rows`` and
``update_rows``, whatever called them) replaces its row, which takes the next
position.  Write transactions are serial (``BEGIN IMMEDIATE``) and
``AUTOINCREMENT`` never reuses a position, so positions follow commit order
and a reader resuming after position P sees every write committed since, once.
A file made before the feed existed has its reports entered, oldest first, at
open.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from registry.storage.interfaces import Change
from registry.storage.sqlite.database import Database


def note_changes(db: sqlite3.Connection, report_ids: Iterable[str]) -> None:
    """Give each report written in this transaction the next feed position."""
    db.executemany("INSERT OR REPLACE INTO report_feed (report_id) VALUES (?)", ((i,) for i in report_ids))


def ensure_change_feed(database: Database) -> None:
    """Enter the reports of a file made before the feed existed (``database.SCHEMA`` creates it), once."""
    db = database.connection()
    if db.execute("SELECT 1 FROM report_feed LIMIT 1").fetchone() or not db.execute(
            "SELECT 1 FROM reports LIMIT 1").fetchone():
        return
    with database.transaction() as writing:
        if writing.execute("SELECT 1 FROM report_feed LIMIT 1").fetchone() is None:
            writing.execute("INSERT INTO report_feed (report_id) SELECT id FROM reports ORDER BY seq")


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
