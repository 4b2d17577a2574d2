"""Records kept whole as JSON documents under a unique name: API keys and people's accounts."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Generic, TypeVar, cast

from registry.errors import Conflict, NotFound
from registry.records import KeyRecord, UserRecord
from registry.storage.sqlite.database import Database

R = TypeVar("R", KeyRecord, UserRecord)


class DocumentTable(Generic[R]):
    """One table of ``(name PRIMARY KEY, document)``; ``noun`` names a record in errors."""

    def __init__(self, database: Database, table: str, id_field: str, noun: str) -> None:
        self.database = database
        self.table, self.id_field, self.noun = table, id_field, noun

    def create(self, record: R) -> None:
        with self.database.transaction() as db:
            try:
                db.execute(f"INSERT INTO {self.table} ({self.id_field}, document) VALUES (?, ?)",
                           (self._id(record), json.dumps(record)))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"A {self.noun} {self._id(record)} exists.") from exc

    def get(self, name: str) -> R:
        row = self.database.connection().execute(
            f"SELECT document FROM {self.table} WHERE {self.id_field} = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"No {self.noun} {name}.")
        return cast(R, json.loads(row[0]))

    def replace(self, record: R) -> None:
        with self.database.transaction() as db:
            db.execute(f"UPDATE {self.table} SET document = ? WHERE {self.id_field} = ?",
                       (json.dumps(record), self._id(record)))

    def list(self) -> list[R]:
        rows = self.database.connection().execute(f"SELECT document FROM {self.table} ORDER BY rowid")
        return [cast(R, json.loads(r[0])) for r in rows]

    def _id(self, record: R) -> Any:
        return cast(dict[str, Any], record)[self.id_field]


def key_table(database: Database) -> DocumentTable[KeyRecord]:
    """API key records."""
    return DocumentTable(database, "api_keys", "key_id", "key with id")


def user_table(database: Database) -> DocumentTable[UserRecord]:
    """People's accounts for the web app."""
    return DocumentTable(database, "users", "username", "user")
