"""Schema versions of the SQLite files, and the steps that take an older file forward.

Each file records the version of the schema it was written with in its
``meta`` table (``schema_version``).  Opening a file (``Database``):

1. refuses one of a version this code does not know (a newer release wrote
   it), before anything in it is touched (``refuse_newer``);
2. runs the schema script, whose ``CREATE ... IF NOT EXISTS`` adds the tables
   and indexes that are new since the file was written (a new file gets
   everything, at the current version);
3. runs, in one write transaction with the version's update, every step from
   the file's version to the current one (``migrate``): a failed step leaves
   the file exactly as it was, and several processes opening it at once
   migrate it once (the others find it done when they get the write lock).

How to change the schema.  A new table or index: add it to the schema
script, nothing else (``IF NOT EXISTS`` does the rest).  A new column, a
changed table, or data old rows lack (a backfill): append a step to
``REGISTRY_STEPS``; its position is the version it makes (step ``n`` takes a
file from ``n`` to ``n + 1``).  A step runs inside the transaction, must
check what is there (``PRAGMA table_info``) rather than assume, and must not
commit.  ``tests/test_upgrades.py`` opens a file the previous release wrote.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from typing import Final

from registry.errors import StorageUnavailable
from registry.storage.sqlite.index_rows import term_hash
from search.keys import reading_terms

Step = Callable[[sqlite3.Connection], None]
Steps = Sequence[Step]
VERSION_ROW: Final = "schema_version"
FIRST_VERSION: Final = 1  # every file has carried its version since the first release
BACKFILL_BATCH: Final = 2000  # rows read per round trip by a step that fills in old rows


def index_old_checks(db: sqlite3.Connection) -> None:
    """1 -> 2: checks recorded before ``check_terms`` existed are kept under their reading's
    lookup keys, so a report registered after the upgrade finds them as sightings too."""
    indexed = {row[0] for row in db.execute("SELECT DISTINCT check_seq FROM check_terms")}
    last = 0
    while rows := db.execute(
            "SELECT seq, json_extract(document, '$.query.identifier') FROM checks WHERE seq > ? ORDER BY seq "
            "LIMIT ?", (last, BACKFILL_BATCH)).fetchall():
        db.executemany("INSERT OR IGNORE INTO check_terms (term, check_seq) VALUES (?, ?)", sorted(
            (term_hash(term), seq) for seq, identifier in rows
            if identifier and seq not in indexed for term in reading_terms(identifier)))
        last = rows[-1][0]


def enter_reports_in_feed(db: sqlite3.Connection) -> None:
    """2 -> 3: the reports of a file made before the change feed existed enter it, oldest first, so a
    replica that follows the feed from the start gets every one (``changes``)."""
    if db.execute("SELECT 1 FROM report_feed LIMIT 1").fetchone() is None:
        db.execute("INSERT INTO report_feed (report_id) SELECT id FROM reports ORDER BY seq")


REGISTRY_STEPS: Final[tuple[Step, ...]] = (index_old_checks, enter_reports_in_feed)
COUNTERS_STEPS: Final[tuple[Step, ...]] = ()  # the counters file holds nothing worth migrating


def current_version(steps: Steps) -> int:
    """The version a file has once every step ran."""
    return FIRST_VERSION + len(steps)


def stored_version(db: sqlite3.Connection) -> int | None:
    """The version a file says it has; ``None`` for a new (empty) file."""
    try:
        row = db.execute("SELECT value FROM meta WHERE name = ?", (VERSION_ROW,)).fetchone()
    except sqlite3.OperationalError:  # no meta table: a new file
        return None
    return int(row[0]) if row else None


def refuse_newer(db: sqlite3.Connection, steps: Steps, path: str) -> None:
    """``StorageUnavailable`` for a file written by a newer release: this code would misread it."""
    version = stored_version(db)
    if version is not None and version > current_version(steps):
        raise StorageUnavailable(
            f"The database {path} has schema version {version}, written by a newer release of IronTrace; this "
            f"release reads versions up to {current_version(steps)}. Run the newer release, or restore a backup "
            f"made by this one (`irontrace restore`).")


def migrate(db: sqlite3.Connection, steps: Steps, path: str) -> int:
    """Inside the caller's write transaction: mark a new file current, or run the steps an older one
    lacks; the version the file had before."""
    db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)", (VERSION_ROW, str(current_version(steps))))
    found = stored_version(db)
    assert found is not None, "the row was just inserted"
    refuse_newer(db, steps, path)  # a newer release may have migrated it while this process waited
    if found < current_version(steps):
        for step in steps[found - FIRST_VERSION:]:
            step(db)
        db.execute("UPDATE meta SET value = ? WHERE name = ?", (str(current_version(steps)), VERSION_ROW))
    return found


def registry_version() -> int:
    """The version this release writes."""
    return current_version(REGISTRY_STEPS)
