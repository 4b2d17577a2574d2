"""Check records in the embedded engine, kept under their reading's lookup keys for ``sightings``."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from registry.errors import NotFound
from registry.records import AuditEntry, Delivery, Document
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.deliveries import insert_deliveries
from registry.storage.sqlite.index_rows import term_hash


class SQLiteCheckLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def save(self, record: Document, audit: AuditEntry, deliveries: Sequence[Delivery] = ()) -> None:
        """Kept with its audit entry and deliveries in one transaction, without an fsync of its own: a
        check record is not worth doubling a check's latency, and the next durable write flushes it
        to disk anyway (a crash of the process loses nothing; a power cut may lose the last checks)."""
        with self.database.transaction(durable=False) as db:
            seq = db.execute(
                "INSERT INTO checks (id, checked_at, verdict, document) VALUES (?, ?, ?, ?)",
                (record["check_id"], record["checked_at"], record["verdict"], json.dumps(record)),
            ).lastrowid
            db.executemany("INSERT OR IGNORE INTO check_terms (term, check_seq) VALUES (?, ?)",
                           ((term_hash(term), seq) for term in record.get("terms", ())))
            insert_deliveries(db, deliveries)
            append_in(db, audit)

    def get(self, check_id: str) -> Document:
        row = self.database.connection().execute("SELECT document FROM checks WHERE id = ?", (check_id,)).fetchone()
        if row is None:
            raise NotFound(f"No check with id {check_id}.")
        found: Document = json.loads(row[0])
        return found

    def purge(self, before: str, audit: Callable[[int], AuditEntry]) -> int:
        with self.database.transaction() as db:
            old = "SELECT seq FROM checks WHERE checked_at < ?"
            db.execute(f"DELETE FROM check_terms WHERE check_seq IN ({old})", (before,))
            count = db.execute("DELETE FROM checks WHERE checked_at < ?", (before,)).rowcount
            if count:
                append_in(db, audit(count))
        return count

    def sightings(self, terms: Sequence[str], since: str, limit: int) -> list[Document]:
        hashes = json.dumps(sorted({term_hash(term) for term in terms}))
        rows = self.database.connection().execute(
            "SELECT document FROM checks WHERE checked_at >= ? AND seq IN (SELECT check_seq FROM check_terms "
            "WHERE term IN (SELECT value FROM json_each(?))) ORDER BY seq DESC LIMIT ?",
            (since, hashes, limit)).fetchall()
        return [json.loads(r[0]) for r in rows]
