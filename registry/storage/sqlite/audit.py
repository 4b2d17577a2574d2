"""The audit log in the embedded engine: each append is one write transaction, so the
file's write lock orders appenders from every process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, cast

from registry.audit_chain import GENESIS_HASH, seal
from registry.records import AuditEntry, AuditFilter, Page
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.sqlite.database import Database


class SQLiteAuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Entries of checks skip the fsync as check records do; the rest are as durable as
        the writes they record."""
        with self.database.transaction(durable=entry["action"] != "check") as db:
            last = db.execute("SELECT seq, json_extract(entry, '$.hash') FROM audit_log ORDER BY seq DESC LIMIT 1"
                              ).fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            sealed = seal(entry, seq, prev_hash)
            db.execute(
                "INSERT INTO audit_log (seq, at, action, principal, subject, entry) VALUES (?, ?, ?, ?, ?, ?)",
                (seq, sealed["at"], sealed["action"], sealed["actor"]["principal"], sealed["subject"],
                 json.dumps(sealed, ensure_ascii=False)),
            )
        return sealed

    def iter_stored(self) -> Iterator[tuple[int, AuditEntry]]:
        for seq, entry in self.database.connection().execute("SELECT seq, entry FROM audit_log ORDER BY seq"):
            yield seq, cast(AuditEntry, json.loads(entry))

    def list(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page[AuditEntry]:
        clauses, params = ["seq > ?"], [decode_cursor(cursor, int) if cursor else 0]
        for column, value, operator in (
            ("action", filters.action, "="),
            ("principal", filters.principal, "="),
            ("subject", filters.subject, "="),
            ("at", filters.since, ">="),
            ("at", filters.until, "<"),
        ):
            if value is not None:
                clauses.append(f"{column} {operator} ?")
                params.append(value)
        rows: list[Any] = self.database.connection().execute(
            f"SELECT seq, entry FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([cast(AuditEntry, json.loads(r[1])) for r in rows],
                    encode_cursor(rows[-1][0]) if more else None)
