"""Confirmation requests in the embedded engine, each change with its entry and its events' deliveries."""

from __future__ import annotations

import builtins
import json
from collections.abc import Sequence
from typing import Any, cast

from registry.errors import NotFound
from registry.records import AuditEntry, Confirmation, ConfirmationFilter, Delivery, Page
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.deliveries import insert_deliveries


class SQLiteConfirmationStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, request: Confirmation, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        with self.database.transaction() as db:
            db.execute("INSERT INTO confirmations (id, agency_key, checker, status, due, version, document) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (request["id"], request["agency_key"], request["checker"]["principal"], request["status"],
                        request["due"], request["version"], json.dumps(request, ensure_ascii=False)))
            insert_deliveries(db, deliveries)
            append_in(db, audit)

    def get(self, request_id: str) -> Confirmation:
        row = self.database.connection().execute("SELECT document FROM confirmations WHERE id = ?",
                                                 (request_id,)).fetchone()
        if row is None:
            raise NotFound(f"No confirmation request with id {request_id}.")
        return cast(Confirmation, json.loads(row[0]))

    def replace(self, request: Confirmation, expected_version: int, audit: AuditEntry,
                deliveries: Sequence[Delivery]) -> bool:
        with self.database.transaction() as db:
            changed = db.execute("UPDATE confirmations SET status = ?, version = ?, document = ? "
                                 "WHERE id = ? AND version = ?",
                                 (request["status"], request["version"], json.dumps(request, ensure_ascii=False),
                                  request["id"], expected_version)).rowcount
            if not changed:
                return False
            insert_deliveries(db, deliveries)
            append_in(db, audit)
        return True

    def list(self, filters: ConfirmationFilter, limit: int, cursor: str | None) -> Page[Confirmation]:
        clauses, params = _where(filters)
        if cursor:
            clauses.append("seq < ?")
            params.append(decode_cursor(cursor, int))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows: builtins.list[Any] = self.database.connection().execute(
            f"SELECT seq, document FROM confirmations {where} ORDER BY seq DESC LIMIT ?",
            (*params, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([cast(Confirmation, json.loads(r[1])) for r in rows],
                    encode_cursor(rows[-1][0]) if more else None)


def _where(filters: ConfirmationFilter) -> tuple[builtins.list[str], builtins.list[Any]]:
    clauses: builtins.list[str] = []
    params: builtins.list[Any] = []
    owners = [(column, value) for column, value in (("agency_key", filters.agency_key),
                                                    ("checker", filters.checker)) if value is not None]
    if owners:
        clauses.append("(" + " OR ".join(f"{column} = ?" for column, _ in owners) + ")")
        params += [value for _, value in owners]
    if filters.statuses:
        clauses.append(f"status IN ({', '.join('?' * len(filters.statuses))})")
        params += filters.statuses
    if filters.due_before is not None:
        clauses.append("due < ?")
        params.append(filters.due_before)
    if filters.due_from is not None:
        clauses.append("due >= ?")
        params.append(filters.due_from)
    return clauses, params

