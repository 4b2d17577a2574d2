"""Check records in the embedded engine."""

from __future__ import annotations

import json

from registry.records import Document
from registry.storage.sqlite.database import Database


class SQLiteCheckLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def save(self, record: Document) -> None:
        """Kept without an fsync of its own: a check record is not worth doubling a
        check's latency, and the next durable write flushes it to disk anyway."""
        with self.database.transaction(durable=False) as db:
            db.execute(
                "INSERT INTO checks (id, checked_at, verdict, document) VALUES (?, ?, ?, ?)",
                (record["check_id"], record["checked_at"], record["verdict"], json.dumps(record)),
            )
