"""The audit log in the embedded engine.

An entry is appended inside the write transaction it records (``append_in``),
so the file's one write lock orders appenders from every process and a write
and its entry commit together or not at all.  The columns filters read
(``at``, ``action``, ``principal``, ``subject``) are copies of the sealed
entry (``audit_chain.indexed_fields``), which ``verify`` holds them to.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from typing import Any

from registry.audit_chain import GENESIS_HASH, indexed_fields, readable, seal
from registry.records import AuditEntry, AuditFilter, Page, StoredAuditEntry
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.sqlite.database import Database

INDEXED_COLUMNS = ("seq", "at", "action", "principal", "subject")


# The newest entry and its hash; an entry that is not valid JSON has none (``verify`` reports it),
# and must not stop the log from taking new entries.
NEWEST = ("SELECT seq, CASE WHEN json_valid(entry) THEN json_extract(entry, '$.hash') END "
          "FROM audit_log ORDER BY seq DESC LIMIT 1")


def append_in(db: sqlite3.Connection, entry: AuditEntry) -> AuditEntry:
    """Seal ``entry`` after the newest one and insert it, inside the caller's write transaction."""
    seq, prev_hash = newest_entry(db)
    sealed = seal(entry, seq + 1, prev_hash)
    db.execute(
        f"INSERT INTO audit_log ({', '.join(INDEXED_COLUMNS)}, entry) VALUES (?, ?, ?, ?, ?, ?)",
        (*indexed_fields(sealed).values(), json.dumps(sealed, ensure_ascii=False)),
    )
    return sealed


def newest_entry(db: sqlite3.Connection) -> tuple[int, str]:
    """The newest entry's seq and hash (0 and the genesis hash for an empty log)."""
    last = db.execute(NEWEST).fetchone()
    if last is None:
        return 0, GENESIS_HASH
    return last[0], last[1] if isinstance(last[1], str) else GENESIS_HASH


def stored_entries(db: sqlite3.Connection) -> Iterator[StoredAuditEntry]:
    """Every entry as stored, oldest first, with the columns kept beside it (for ``verify_chain``)."""
    rows = db.execute(f"SELECT {', '.join(INDEXED_COLUMNS)}, entry FROM audit_log ORDER BY seq")
    for row in rows:
        yield StoredAuditEntry(row[0], row[-1], dict(zip(INDEXED_COLUMNS, row[:-1])))


class SQLiteAuditLog:
    def __init__(self, database: Database) -> None:
        self.database = database

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Entries of checks skip the fsync as check records do; the rest are as durable as
        the writes they record."""
        with self.database.transaction(durable=entry["action"] != "check") as db:
            return append_in(db, entry)

    def iter_stored(self) -> Iterator[StoredAuditEntry]:
        return stored_entries(self.database.connection())

    def head(self) -> tuple[int, str]:
        return newest_entry(self.database.connection())

    def hash_at(self, seq: int) -> str | None:
        row = self.database.connection().execute("SELECT entry FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        return readable(seq, row[0]).get("hash") if row else None

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
        return Page([readable(seq, entry) for seq, entry in rows], encode_cursor(rows[-1][0]) if more else None)

    def complete_pending(self, now: float) -> int:
        """Nothing is ever pending: a write and its entry commit in one transaction."""
        return 0

    def pending(self) -> int:
        return 0
