"""Webhooks and the outbox of their deliveries in the embedded engine.

Deliveries are rows written by ``insert_deliveries`` inside the transaction
of the write that raised their event, so an event is stored exactly when its
write is.  Taking deliveries to send is one ``BEGIN IMMEDIATE`` transaction
(read, change, write back), so two threads or processes never take the same
one for the same attempt.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
from collections.abc import Callable, Sequence
from typing import cast

from registry.errors import Conflict, NotFound
from registry.records import AuditEntry, Delivery, Page, Webhook
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database

PENDING = "pending"


def insert_deliveries(db: sqlite3.Connection, deliveries: Sequence[Delivery]) -> None:
    """Store new deliveries inside the caller's write transaction."""
    db.executemany(
        "INSERT INTO webhook_deliveries (id, webhook_id, status, next_attempt, document) VALUES (?, ?, ?, ?, ?)",
        ((d["id"], d["webhook_id"], d["status"], d["next_attempt"], json.dumps(d, ensure_ascii=False))
         for d in deliveries))


class SQLiteWebhookStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, webhook: Webhook, audit: AuditEntry) -> None:
        with self.database.transaction() as db:
            try:
                db.execute("INSERT INTO webhooks (id, owner, deleted, document) VALUES (?, ?, 0, ?)",
                           (webhook["id"], webhook["owner"]["principal"], json.dumps(webhook)))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"A webhook {webhook['id']} exists.") from exc
            append_in(db, audit)

    def get(self, webhook_id: str) -> Webhook:
        row = self.database.connection().execute("SELECT document FROM webhooks WHERE id = ?",
                                                 (webhook_id,)).fetchone()
        if row is None:
            raise NotFound(f"No webhook with id {webhook_id}.")
        return cast(Webhook, json.loads(row[0]))

    def replace(self, webhook: Webhook, audit: AuditEntry) -> None:
        with self.database.transaction() as db:
            db.execute("UPDATE webhooks SET deleted = ?, document = ? WHERE id = ?",
                       (int(bool(webhook.get("deleted_at"))), json.dumps(webhook), webhook["id"]))
            append_in(db, audit)

    def list(self, owner: str | None) -> builtins.list[Webhook]:
        rows = self.database.connection().execute(
            "SELECT document FROM webhooks WHERE deleted = 0 AND (? IS NULL OR owner = ?) ORDER BY seq",
            (owner, owner))
        return [cast(Webhook, json.loads(r[0])) for r in rows]

    def subscribed(self, event: str) -> builtins.list[Webhook]:
        return [hook for hook in self.list(None) if event in hook["events"]]

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            with self.database.transaction() as db:
                insert_deliveries(db, deliveries)

    def get_delivery(self, delivery_id: str) -> Delivery:
        return _delivery(self.database.connection(), delivery_id)

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        before = decode_cursor(cursor, int) if cursor else None
        rows = self.database.connection().execute(
            "SELECT seq, document FROM webhook_deliveries WHERE webhook_id = ? AND (? IS NULL OR seq < ?) "
            "ORDER BY seq DESC LIMIT ?", (webhook_id, before, before, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([cast(Delivery, json.loads(r[1])) for r in rows], encode_cursor(rows[-1][0]) if more else None)

    def claim(self, delivery_ids: Sequence[str], due_by: float, limit: int,
              change: Callable[[Delivery], Delivery]) -> builtins.list[Delivery]:
        due = "status = ? AND next_attempt <= ?"
        # Look before taking the write lock: the deliverer polls, and most polls find nothing.
        if not delivery_ids and self.database.connection().execute(
                f"SELECT 1 FROM webhook_deliveries WHERE {due} LIMIT 1", (PENDING, due_by)).fetchone() is None:
            return []
        with self.database.transaction(durable=False) as db:
            named = db.execute(f"SELECT document FROM webhook_deliveries WHERE {due} AND id IN "
                               f"(SELECT value FROM json_each(?))", (PENDING, due_by, json.dumps(list(delivery_ids))))
            oldest = db.execute(f"SELECT document FROM webhook_deliveries WHERE {due} ORDER BY next_attempt, seq "
                                f"LIMIT ?", (PENDING, due_by, limit))
            found: dict[str, Delivery] = {}
            for row in [*named.fetchall(), *oldest.fetchall()]:
                delivery = cast(Delivery, json.loads(row[0]))
                found.setdefault(delivery["id"], delivery)
            taken = [change(delivery) for delivery in list(found.values())[:limit]]
            for delivery in taken:
                _store(db, delivery)
        return taken

    def update_delivery(self, delivery: Delivery, audit: AuditEntry | None = None) -> None:
        with self.database.transaction(durable=audit is not None) as db:
            _delivery(db, delivery["id"])
            _store(db, delivery)
            if audit is not None:
                append_in(db, audit)


def _delivery(db: sqlite3.Connection, delivery_id: str) -> Delivery:
    row = db.execute("SELECT document FROM webhook_deliveries WHERE id = ?", (delivery_id,)).fetchone()
    if row is None:
        raise NotFound(f"No delivery with id {delivery_id}.")
    return cast(Delivery, json.loads(row[0]))


def _store(db: sqlite3.Connection, delivery: Delivery) -> None:
    db.execute("UPDATE webhook_deliveries SET status = ?, next_attempt = ?, document = ? WHERE id = ?",
               (delivery["status"], delivery["next_attempt"], json.dumps(delivery, ensure_ascii=False),
                delivery["id"]))
