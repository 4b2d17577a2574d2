"""A document kept per report with the entry and deliveries of its event, in the embedded engine: its
sightings (the checks it was found to match when registered, table ``sightings``), or the last review
notice sent for it (``review_notices``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Literal

from registry.records import AuditEntry, Delivery, Document
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.deliveries import insert_deliveries


class SQLiteSightingLog:
    def __init__(self, database: Database, table: Literal["sightings", "review_notices"] = "sightings") -> None:
        self.database = database
        self.table = table

    def save(self, report_id: str, sightings: Document, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        with self.database.transaction() as db:
            db.execute(f"INSERT OR REPLACE INTO {self.table} (report_id, document) VALUES (?, ?)",
                       (report_id, json.dumps(sightings, ensure_ascii=False)))
            insert_deliveries(db, deliveries)
            append_in(db, audit)

    def get(self, report_id: str) -> Document | None:
        row = self.database.connection().execute(f"SELECT document FROM {self.table} WHERE report_id = ?",
                                                 (report_id,)).fetchone()
        found: Document | None = json.loads(row[0]) if row else None
        return found
