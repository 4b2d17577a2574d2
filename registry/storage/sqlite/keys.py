"""API key records in the embedded engine."""

from __future__ import annotations

import json
import sqlite3
from typing import cast

from registry.errors import Conflict, NotFound
from registry.records import KeyRecord
from registry.storage.sqlite.database import Database


class SQLiteKeyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, record: KeyRecord) -> None:
        with self.database.transaction() as db:
            try:
                db.execute("INSERT INTO api_keys (key_id, document) VALUES (?, ?)",
                           (record["key_id"], json.dumps(record)))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"A key with id {record['key_id']} exists.") from exc

    def get(self, key_id: str) -> KeyRecord:
        row = self.database.connection().execute(
            "SELECT document FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise NotFound(f"No key with id {key_id}.")
        return cast(KeyRecord, json.loads(row[0]))

    def replace(self, record: KeyRecord) -> None:
        with self.database.transaction() as db:
            db.execute("UPDATE api_keys SET document = ? WHERE key_id = ?", (json.dumps(record), record["key_id"]))

    def list(self) -> list[KeyRecord]:
        rows = self.database.connection().execute("SELECT document FROM api_keys ORDER BY rowid")
        return [cast(KeyRecord, json.loads(r[0])) for r in rows]
