"""Counters in the embedded engine: a small SQLite file of their own beside the registry's.

Every request updates one (its key's rate-limit state), so they live apart
from the registry's file: their writes never wait for the registry's write
lock, which an import batch holds for a while.  Each update is one
``BEGIN IMMEDIATE`` transaction without an fsync: it is shared by every
gunicorn worker and survives a restart of the service, though not a power cut.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from registry.records import Document
from registry.storage.sqlite.database import COUNTERS_SCHEMA, Database
from registry.storage.sqlite.migrations import COUNTERS_STEPS

COUNTERS_CACHE_MB = 8


def counters_path(registry_path: str) -> str:
    """``irontrace.db`` -> ``irontrace.counters.db``, in the same directory."""
    path = Path(registry_path).expanduser()
    return str(path.with_name(f"{path.stem}.counters{path.suffix or '.db'}"))


class SQLiteCounters:
    def __init__(self, database: Database) -> None:
        self.database = database

    @classmethod
    def beside(cls, registry_path: str) -> SQLiteCounters:
        return cls(Database(counters_path(registry_path), COUNTERS_CACHE_MB, schema=COUNTERS_SCHEMA,
                            steps=COUNTERS_STEPS))

    def get(self, name: str, now: float) -> Document | None:
        row = self.database.connection().execute(
            "SELECT document FROM counters WHERE name = ? AND expires > ?", (name, now)).fetchone()
        return json.loads(row[0]) if row else None

    def update(self, name: str, change: Callable[[Document | None], Document], now: float,
               expires: float) -> Document:
        with self.database.transaction(durable=False) as db:
            row = db.execute("SELECT document FROM counters WHERE name = ? AND expires > ?", (name, now)).fetchone()
            document = change(json.loads(row[0]) if row else None)
            db.execute("INSERT INTO counters (name, expires, document) VALUES (?, ?, ?) "
                       "ON CONFLICT (name) DO UPDATE SET expires = excluded.expires, document = excluded.document",
                       (name, expires, json.dumps(document)))
        return document

    def purge(self, now: float) -> int:
        with self.database.transaction(durable=False) as db:
            return db.execute("DELETE FROM counters WHERE expires <= ?", (now,)).rowcount

    def close(self) -> None:
        self.database.close()
