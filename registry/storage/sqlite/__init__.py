"""The embedded default: the whole registry in one SQLite file.

Why it holds up at a million reports: candidates are found through an index
of lookup keys stored as 64-bit hashes (``index_rows``), and descriptions
through their terms, hashed the same way (``descriptions``), so a check
touches a few index pages instead of scanning identifiers or texts.  Why it is safe with several
gunicorn workers: see ``database``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.storage.interfaces import Engine
from registry.storage.sqlite.audit import SQLiteAuditLog
from registry.storage.sqlite.candidates import SQLiteCandidateIndex
from registry.storage.sqlite.changes import SQLiteChangeFeed
from registry.storage.sqlite.checks import SQLiteCheckLog
from registry.storage.sqlite.confirmations import SQLiteConfirmationStore
from registry.storage.sqlite.counters import SQLiteCounters
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.deliveries import SQLiteWebhookStore
from registry.storage.sqlite.descriptions import ensure_description_terms
from registry.storage.sqlite.documents import key_table, user_table
from registry.storage.sqlite.feed_snapshots import SQLiteFeedSnapshots
from registry.storage.sqlite.jobs import SQLiteJobStore
from registry.storage.sqlite.replica import SQLiteReplica
from registry.storage.sqlite.reports import SQLiteReportStore
from registry.storage.sqlite.sightings import SQLiteSightingLog

NAME = "sqlite"
IN_PROCESS_WORKERS = 1  # a bulk-check worker thread in each app process: nothing else to run


def open_sqlite(path: str, cache_mb: int = 256, max_size_mb: int = 0, reserve_mb: int = 0) -> Engine:
    """Every store of the embedded engine over one file (created if missing)."""
    database = Database(path, cache_mb, max_size_mb, reserve_mb)
    ensure_description_terms(database)
    counters = SQLiteCounters.beside(path)

    def close() -> None:
        database.close()
        counters.close()

    return Engine(
        name=NAME,
        reports=SQLiteReportStore(database),
        candidates=SQLiteCandidateIndex(database),
        checks=SQLiteCheckLog(database),
        keys=key_table(database),
        users=user_table(database),
        audit=SQLiteAuditLog(database),
        jobs=SQLiteJobStore(database),
        counters=counters,
        confirmations=SQLiteConfirmationStore(database),
        webhooks=SQLiteWebhookStore(database),
        sightings=SQLiteSightingLog(database),
        changes=SQLiteChangeFeed(database),
        review_notices=SQLiteSightingLog(database, "review_notices"),
        ping=database.ping,
        close=close,
        in_process_workers=IN_PROCESS_WORKERS,
        replica=SQLiteReplica(database),
        feed_snapshots=SQLiteFeedSnapshots(database),
    )


def open_from_settings(settings: dict[str, Any]) -> Engine:
    return open_sqlite(settings["DB"], settings["SQLITE_CACHE_MB"], settings["SQLITE_MAX_SIZE_MB"],
                       settings["DISK_RESERVE_MB"])


def registry_exists(settings: dict[str, Any]) -> bool:
    """Whether the registry's file is there (opening a missing one would create it empty)."""
    path = Path(settings["DB"]).expanduser()
    return path.is_file() and path.stat().st_size > 0


def registry_location(settings: dict[str, Any]) -> str:
    return f"SQLite file {Path(settings['DB']).expanduser().resolve()}"
