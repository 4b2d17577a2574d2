"""The embedded default's file: one SQLite database holding the whole registry.

Why it is safe with several gunicorn workers: WAL mode lets readers run
beside the single writer, every write is one ``BEGIN IMMEDIATE`` transaction
(so read-modify-write never deadlocks on a lock upgrade), and
``synchronous=FULL`` makes a committed report survive a power cut (check
records skip that fsync).  Every store of the engine shares one
``Database``: each thread has its own connection to the file.

Upgrades.  The file records the schema it was written with (``meta``'s
``schema_version``): opening it runs the steps of ``migrations`` that take it
to this code's version, all in one write transaction, and a file
written by a newer release is refused before anything in it is touched.

A full disk (or the file at its size cap, ``max_size_mb``) makes SQLite
refuse the write with ``SQLITE_FULL`` and roll the transaction back: nothing
half-written stays, and the caller gets ``StorageFull`` (507).  ``ping``
reports the disk full before that happens, when less than ``reserve_mb`` is
left.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from registry.errors import StorageFull, StorageUnavailable
from registry.storage.sqlite.migrations import REGISTRY_STEPS, Steps, migrate, refuse_newer

BUSY_TIMEOUT_MS = 15000
MIB = 1024 * 1024

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
CREATE INDEX IF NOT EXISTS reports_by_review ON reports (
    status, coalesce(json_extract(document, '$.validated_at'), json_extract(document, '$.created_at')));
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
CREATE INDEX IF NOT EXISTS checks_by_time ON checks (checked_at);
CREATE TABLE IF NOT EXISTS check_terms (
    term INTEGER NOT NULL,
    check_seq INTEGER NOT NULL,
    PRIMARY KEY (term, check_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS confirmations (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agency_key TEXT NOT NULL,
    checker TEXT NOT NULL,
    status TEXT NOT NULL,
    due REAL NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS confirmations_by_agency ON confirmations (agency_key, seq);
CREATE INDEX IF NOT EXISTS confirmations_by_checker ON confirmations (checker, seq);
CREATE INDEX IF NOT EXISTS confirmations_by_status ON confirmations (status, due);
CREATE TABLE IF NOT EXISTS webhooks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    owner TEXT NOT NULL,
    deleted INTEGER NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    webhook_id TEXT NOT NULL,
    status TEXT NOT NULL,
    next_attempt REAL NOT NULL,
    document TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_due ON webhook_deliveries (status, next_attempt);
CREATE INDEX IF NOT EXISTS deliveries_by_webhook ON webhook_deliveries (webhook_id, seq);
CREATE TABLE IF NOT EXISTS sightings (report_id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS review_notices (report_id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS report_feed (
    position INTEGER PRIMARY KEY AUTOINCREMENT,
    report_id TEXT NOT NULL UNIQUE
);
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
CREATE INDEX IF NOT EXISTS bulk_jobs_by_owner ON bulk_jobs (json_extract(document, '$.owner.principal'), seq);
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
# Rate-limit state and daily usage, written on every request: a file of their own, so that those
# small writes never queue behind the registry's write lock (an import batch holds it for a while).
COUNTERS_SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, expires REAL NOT NULL, document TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS counters_by_expiry ON counters (expires);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Database:
    """The registry's SQLite file: a connection per thread, and write transactions."""

    def __init__(self, path: str, cache_mb: int = 256, max_size_mb: int = 0, reserve_mb: int = 0,
                 schema: str = SCHEMA, steps: Steps = REGISTRY_STEPS) -> None:
        self.path = str(Path(path).expanduser())
        self.cache_mb = cache_mb
        self.max_size_mb = max_size_mb
        self.reserve_bytes = reserve_mb * MIB
        self._local = threading.local()
        # A newer release's file is refused before the script below could add tables to it.
        refuse_newer(self.connection(), steps, self.path)
        # executescript commits as it goes; every statement is idempotent, so
        # workers starting together on a new file cannot trip over each other.
        try:
            self.connection().executescript(schema)
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"Cannot prepare the database {self.path}: {exc}") from exc
        with self.transaction() as db:
            migrate(db, steps, self.path)

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                db.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
                if self.max_size_mb:
                    page_size = db.execute("PRAGMA page_size").fetchone()[0]
                    db.execute(f"PRAGMA max_page_count={self.max_size_mb * MIB // page_size}")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"Cannot open the registry database: {exc}") from exc
            self._local.db = db
        return db

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading so read-modify-write is atomic.

        ``durable=False`` skips the fsync at commit: the transaction survives a
        crash of the process, though not a power cut of the machine.  Everything
        written inside commits together or not at all; a write the file refuses
        (a full disk, an I/O error) leaves as ``StorageUnavailable``.
        """
        db = self.connection()
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"The registry database is busy: {exc}") from exc
        try:
            yield db
            db.execute("COMMIT")
        except BaseException as exc:
            _roll_back(db)
            if isinstance(exc, sqlite3.Error):
                raise translated(exc) from exc
            raise

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
        """Readable, and room to write: ``StorageFull`` when the disk has less than the reserve
        left or the file reached its cap."""
        try:
            db = self.connection()
            db.execute("SELECT 1 FROM meta LIMIT 1").fetchone()
            pages, free_pages, cap, page_size = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in (
                "page_count", "freelist_count", "max_page_count", "page_size"))
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"The registry database cannot be read: {exc}") from exc
        disk = os.statvfs(Path(self.path).parent)
        if disk.f_bavail * disk.f_frsize < self.reserve_bytes:
            raise StorageFull(f"The disk holding the registry has less than {self.reserve_bytes // MIB} MiB free.")
        if (cap - pages + free_pages) * page_size < min(self.reserve_bytes, cap * page_size // 20):
            raise StorageFull(f"The registry database is at its size cap ({self.max_size_mb} MiB).")


# Primary result codes of a file or machine that cannot take the write now (not of a defect in a statement).
UNAVAILABLE_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_NOMEM,
                               sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL})


def translated(exc: sqlite3.Error) -> Exception:
    """What a failed write means to the caller: full storage (507), storage that cannot serve
    now (503), or a defect (the error itself, a 500 that is logged)."""
    code = (getattr(exc, "sqlite_errorcode", None) or 0) & 0xFF  # extended codes carry the primary in the low byte
    if code == sqlite3.SQLITE_FULL:
        return StorageFull("The disk holding the registry is full (or the database reached its size cap); "
                           "nothing of this request was stored.")
    if code in UNAVAILABLE_CODES:
        return StorageUnavailable(f"The registry database cannot be written now ({exc.sqlite_errorname}).")
    return exc


def _roll_back(db: sqlite3.Connection) -> None:
    """Undo what a failed transaction wrote; SQLite may already have rolled it back itself."""
    if db.in_transaction:
        with suppress(sqlite3.OperationalError):  # SQLite rolled it back itself after the error
            db.execute("ROLLBACK")
