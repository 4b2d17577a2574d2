"""The embedded default's file: one SQLite database holding the whole registry.

Why it is safe with several gunicorn workers: WAL mode lets readers run
beside the single writer, every write is one ``BEGIN IMMEDIATE`` transaction
(so read-modify-write never deadlocks on a lock upgrade), and
``synchronous=FULL`` makes a committed report survive a power cut (check
records skip that fsync).  Every store of the engine shares one
``Database``: each thread has its own connection to the file.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from registry.errors import StorageUnavailable

SCHEMA_VERSION = 1
BUSY_TIMEOUT_MS = 15000

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agency_key TEXT NOT NULL,
    external_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    manufacturer_key TEXT,
    country TEXT,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (agency_key, external_ref)
);
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status);
CREATE INDEX IF NOT EXISTS reports_by_category ON reports (category);
CREATE INDEX IF NOT EXISTS reports_by_manufacturer ON reports (manufacturer_key);
CREATE INDEX IF NOT EXISTS reports_by_country ON reports (country);
CREATE INDEX IF NOT EXISTS reports_by_source ON reports (json_extract(document, '$.source'))
    WHERE json_extract(document, '$.source') IS NOT NULL;
CREATE TABLE IF NOT EXISTS identifier_terms (
    term INTEGER NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (term, report_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_skeletons (
    report_seq INTEGER PRIMARY KEY,
    skeletons TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identifier_suffixes (
    suffix_key TEXT NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (suffix_key, report_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS description_terms (
    term INTEGER NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (term, report_seq)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS report_text USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS checks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    checked_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (username TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    principal TEXT NOT NULL,
    subject TEXT,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_action ON audit_log (action, seq);
CREATE INDEX IF NOT EXISTS audit_by_principal ON audit_log (principal, seq);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit_log (subject, seq);
CREATE TABLE IF NOT EXISTS bulk_jobs (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS bulk_jobs_by_status ON bulk_jobs (status);
CREATE TABLE IF NOT EXISTS bulk_rows (
    job_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, row_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS bulk_results (
    job_id TEXT NOT NULL,
    row_index INTEGER NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (job_id, row_index)
) WITHOUT ROWID;
"""


class Database:
    """The registry's SQLite file: a connection per thread, and write transactions."""

    def __init__(self, path: str, cache_mb: int = 256) -> None:
        self.path = str(Path(path).expanduser())
        self.cache_mb = cache_mb
        self._local = threading.local()
        # executescript commits as it goes; every statement is idempotent, so
        # workers starting together on a new file cannot trip over each other.
        self.connection().executescript(SCHEMA)
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                db.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"Cannot open the registry database: {exc}") from exc
            self._local.db = db
        return db

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading so read-modify-write is atomic.

        ``durable=False`` skips the fsync at commit: the transaction survives a
        crash of the process, though not a power cut of the machine.
        """
        db = self.connection()
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"The registry database is busy: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    @contextmanager
    def snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every read inside sees the same committed state."""
        db = self.connection()
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def ping(self) -> None:
        try:
            self.connection().execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"The registry database cannot be read: {exc}") from exc
