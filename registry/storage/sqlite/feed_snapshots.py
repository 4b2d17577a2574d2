"""A new replica's starting point: the centre's active reports and their index rows, as a ready file.

Copying a million reports through the change feed makes the replica compute
every report's lookup keys itself, which takes several times longer than
sending what the centre already computed.  A snapshot is an embedded
registry holding only what a border post may hold (active reports, with
their index rows: no keys, users, checks, audit entries or jobs), copied
table to table by SQLite in one read transaction of the centre, so it is
consistent with the feed position it records: a replica installs it and
follows the feed from there.  Writers go on while it is made (WAL).

Snapshots live beside the registry (``<db>.snapshots/``); one process at a
time makes one (a lock file), the newest is kept and older ones are removed
(a download already reading one keeps its open file).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from registry.errors import Conflict, StorageUnavailable
from registry.storage.cursors import encode_cursor
from registry.storage.interfaces import FeedSnapshot
from registry.storage.sqlite.backups import (
    SIDE_FILES,
    checked_copy,
    durably_rename,
    remove_file,
    snapshot_directory,
)
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.descriptions import ensure_description_terms
from registry.storage.sqlite.index_rows import REPORT_INDEX_TABLES
from registry.storage.sqlite.replica import STATE
from registry.vocabulary import ACTIVE_STATUSES

SUFFIX = ".db"


class SQLiteFeedSnapshots:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.directory = snapshot_directory(database.path)

    def fresh(self, made_after: float, now: float, as_of: str) -> FeedSnapshot:
        newest = self._newest()
        if newest is not None and newest.made_at >= made_after:
            return newest
        self.directory.mkdir(exist_ok=True)
        with _locked(self.directory / "lock"):
            newest = self._newest()  # another process may have made one while this one waited
            if newest is not None and newest.made_at >= made_after:
                return newest
            partial = self.directory / "making.partial"
            remove_file(str(partial))
            _create_empty(str(partial))
            position, reports = _copy_active(self.database.path, str(partial), now, as_of)
            target = self.directory / f"{position}-{int(now * 1000)}{SUFFIX}"
            durably_rename(str(partial), str(target))
            for older in self.directory.glob(f"*{SUFFIX}"):
                if older != target:
                    remove_file(str(older))
        return describe(str(target))

    def _newest(self) -> FeedSnapshot | None:
        """The newest snapshot file (names end in the time it was made, in milliseconds)."""
        files = sorted(self.directory.glob(f"*{SUFFIX}"), key=lambda p: int(p.stem.rsplit("-", 1)[-1]))
        for file in reversed(files):
            try:
                return describe(str(file))
            except StorageUnavailable:  # removed since the listing: a newer one replaced it
                continue
        return None


def describe(path: str, check: bool = False) -> FeedSnapshot:
    """What a snapshot file holds; ``check``: first make sure it is whole and a registry this release
    reads (``StorageUnavailable`` otherwise: damaged, or no snapshot)."""
    try:
        with closing(checked_copy(path) if check else sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            row = db.execute("SELECT value FROM meta WHERE name = ?", (SNAPSHOT_META,)).fetchone()
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"{path} is not a readable replica snapshot: {exc}") from exc
    if row is None:
        raise StorageUnavailable(f"{path} is a registry, not a replica snapshot.")
    mark = json.loads(row[0])
    return FeedSnapshot(path=path, name=Path(path).stem, position=mark["position"], reports=mark["reports"],
                        made_at=mark["made_at"], as_of=mark["as_of"], bytes=os.path.getsize(path))


def install(snapshot_file: str, database: str, centre: str) -> FeedSnapshot:
    """Make the snapshot downloaded to ``snapshot_file`` the registry at ``database``, a replica of
    ``centre``: checked first, then renamed into place in one step.  Never over an existing registry."""
    if Path(database).is_file() and Path(database).stat().st_size > 0:
        raise Conflict(f"A registry exists at {database}: a replica starts from a snapshot only when new.")
    snapshot = describe(snapshot_file, check=True)
    try:
        with closing(sqlite3.connect(snapshot_file, isolation_level=None)) as db:
            state = json.loads(db.execute("SELECT value FROM meta WHERE name = ?", (STATE,)).fetchone()[0])
            db.execute("UPDATE meta SET value = ? WHERE name = ?", (json.dumps({**state, "centre": centre}), STATE))
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"Cannot install the snapshot {snapshot_file}: {exc}") from exc
    for suffix in SIDE_FILES:  # a stale WAL must never be read with the new file
        remove_file(database + suffix)
    durably_rename(snapshot_file, database)
    return dataclasses.replace(snapshot, path=database)


SNAPSHOT_META = "snapshot"  # the ``meta`` row saying what a snapshot holds


def _create_empty(path: str) -> None:
    """An empty registry of this release's schema, as one file (no WAL beside it)."""
    database = Database(path, cache_mb=16)
    try:
        ensure_description_terms(database)
        database.connection().execute("PRAGMA journal_mode=DELETE")
    finally:
        database.close()


def _copy_active(source: str, target: str, made_at: float, as_of: str) -> tuple[int, int]:
    """Copy the active reports and their index rows of ``source`` into ``target``, in one read
    transaction of ``source``; the feed position that read saw, and how many reports it copied."""
    try:
        with closing(sqlite3.connect(source, isolation_level=None)) as db:
            db.execute("PRAGMA cache_size=-262144")
            db.execute("ATTACH DATABASE ? AS snapshot", (target,))
            # A snapshot interrupted half-way is made again: no journal, and made durable once whole.
            db.execute("PRAGMA snapshot.journal_mode=OFF")
            db.execute("PRAGMA snapshot.synchronous=OFF")
            db.execute("BEGIN")
            row = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'report_feed'").fetchone()
            position = int(row[0]) if row else 0
            statuses = sorted(ACTIVE_STATUSES)
            marks = ", ".join("?" * len(statuses))
            db.execute(f"INSERT INTO snapshot.reports SELECT * FROM main.reports WHERE status IN ({marks})", statuses)
            # Rows of the few reports left out, not of the many kept: a far smaller set to test against.
            for table, columns, report_seq in REPORT_INDEX_TABLES:
                db.execute(f"INSERT INTO snapshot.{table} ({columns}) SELECT {columns} FROM main.{table} WHERE "
                           f"{report_seq} NOT IN (SELECT seq FROM main.reports WHERE status NOT IN ({marks}))",
                           statuses)
            db.execute("INSERT INTO snapshot.report_feed (report_id) SELECT id FROM snapshot.reports ORDER BY seq")
            reports = db.execute("SELECT count(*) FROM snapshot.reports").fetchone()[0]
            state = {"centre": None, "cursor": encode_cursor(position), "as_of": as_of, "forwarded": 0}
            mark = {"position": position, "reports": reports, "made_at": made_at, "as_of": as_of}
            db.executemany("INSERT OR REPLACE INTO snapshot.meta (name, value) VALUES (?, ?)",
                           [(STATE, json.dumps(state)), (SNAPSHOT_META, json.dumps(mark))])
            db.execute("COMMIT")
            db.execute("DETACH DATABASE snapshot")
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"Cannot make a replica snapshot: {exc}") from exc
    return position, reports


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
