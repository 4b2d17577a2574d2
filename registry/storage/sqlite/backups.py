"""Backups of the SQLite file while it serves, and restores that never leave it half-written.

Backup.  SQLite's online backup API copies the registry as of one moment
(one read transaction) into a file beside the target, which is then checked
and renamed into place.  In WAL mode that read transaction blocks no writer:
writers go on appending to the WAL while the copy reads the database as it
was when it started.  The copy is made in one step on purpose: a backup made
in several steps starts again from the beginning whenever another connection
writes between two steps, so under a steady stream of checks it would never
finish.  The copy is switched out of WAL mode, so it is one self-contained
file.

Restore.  The backup is copied the same way into a file beside the registry
(``.restoring``), checked (``quick_check``, its schema version, its audit
chain), and only then renamed over the registry in one atomic ``rename``; a
failed or refused restore removes the copy and leaves the registry as it was.
A registry another process has open is never replaced: SQLite refuses to take
it out of WAL mode while anyone else is connected, which is the test.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from registry.audit_chain import Anchor, ChainReport, verify_chain
from registry.errors import Conflict, StorageUnavailable
from registry.storage.sqlite.audit import newest_entry, stored_entries
from registry.storage.sqlite.migrations import registry_version, stored_version

BUSY_TIMEOUT_SECONDS = 15.0
SIDE_FILES = ("-wal", "-shm", "-journal")  # what SQLite keeps beside a database file


@dataclass(frozen=True)
class Copy:
    """A checked copy of a registry: where, how big, which schema, and its audit log's head."""

    path: str
    bytes: int
    schema_version: int
    reports: int
    head: tuple[int, str]


def back_up(database: str, target: str) -> Copy:
    """Copy the registry at ``database`` (which may be serving) to ``target``, atomically."""
    if not Path(database).is_file():
        raise StorageUnavailable(f"No registry database at {database}.")
    _refuse_same_file(target, database)
    partial = f"{target}.partial"
    try:
        with closing(_connect(database, "rw")) as source:
            _copy(source, partial)
        with closing(checked_copy(partial)) as copy:
            fields = _fields(copy)
        durably_rename(partial, target)
    finally:
        remove_file(partial)
    return Copy(target, *fields)


def restore(backup: str, database: str, anchors_up_to: Callable[[int], Iterable[Anchor]], replace: bool = False
            ) -> tuple[Copy, ChainReport]:
    """Put the registry of ``backup`` at ``database``; its audit chain must verify, holding the
    published heads ``anchors_up_to`` its head.

    ``replace`` must be given to put it over an existing registry, which no
    other process may have open.  Refused (``Conflict``) and left untouched
    otherwise, and when the chain is broken.
    """
    if not Path(backup).is_file():
        raise StorageUnavailable(f"No backup at {backup}.")
    _refuse_same_file(backup, database)
    target = Path(database)
    exists = target.is_file() and target.stat().st_size > 0
    if exists and not replace:
        raise Conflict(f"A registry exists at {database}: restoring would replace it. Pass --force to replace it "
                       f"(stop every process using it first).")
    partial = f"{database}.restoring"
    try:
        with closing(_connect(backup, "ro")) as source:
            _copy(source, partial)
        with closing(checked_copy(partial)) as copy:
            fields = _fields(copy)
            chain = verify_chain(stored_entries(copy), anchors_up_to(fields[-1][0]))
        if not chain.intact:
            raise Conflict(f"The backup's audit chain is broken at entry {chain.broken_at}: {chain.reason}. "
                           f"Nothing was restored.")
        with _retired(database) if exists else _nothing():
            durably_rename(partial, database)
        # Replica snapshots of the registry replaced hold what the restored one may not: never serve them.
        shutil.rmtree(snapshot_directory(database), ignore_errors=True)
    finally:
        remove_file(partial)
    return Copy(database, *fields), chain


def snapshot_directory(database: str) -> Path:
    """Where the replica snapshots of the registry at ``database`` are kept (``feed_snapshots``)."""
    return Path(f"{database}.snapshots")


def _refuse_same_file(other: str, database: str) -> None:
    if Path(other).resolve() == Path(database).resolve():
        raise Conflict(f"{other} is the registry itself.")


def _connect(path: str, mode: str) -> sqlite3.Connection:
    try:
        return sqlite3.connect(f"file:{path}?mode={mode}", uri=True, isolation_level=None,
                               timeout=BUSY_TIMEOUT_SECONDS)
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"Cannot open {path}: {exc}") from exc


def _copy(source: sqlite3.Connection, partial: str) -> None:
    """The whole of ``source`` as of one moment into a new single file ``partial``."""
    remove_file(partial)
    try:
        with closing(sqlite3.connect(partial, isolation_level=None)) as target:
            source.backup(target)  # one step: see the module's docstring
            target.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.Error as exc:
        raise StorageUnavailable(f"Cannot copy the database: {exc}") from exc


def checked_copy(path: str) -> sqlite3.Connection:
    """``path`` opened read-only, after making sure it is a whole registry this release can read."""
    db = _connect(path, "ro")
    try:
        problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise StorageUnavailable(f"{path} is damaged: {'; '.join(problems[:3])}")
        version = stored_version(db)
        if version is None:
            raise StorageUnavailable(f"{path} is not an IronTrace registry (no schema version).")
        if version > registry_version():
            raise StorageUnavailable(f"{path} has schema version {version}, written by a newer release; this "
                                     f"release reads versions up to {registry_version()}.")
    except sqlite3.Error as exc:
        db.close()
        raise StorageUnavailable(f"{path} is not a readable SQLite registry: {exc}") from exc
    except BaseException:
        db.close()
        raise
    return db


def _fields(db: sqlite3.Connection) -> tuple[int, int, int, tuple[int, str]]:
    """A copy's size, schema version, reports and audit head (``Copy``'s fields after its path)."""
    pages, page_size = (db.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "page_size"))
    reports = db.execute("SELECT count(*) FROM reports").fetchone()[0]
    return pages * page_size, stored_version(db) or 0, reports, newest_entry(db)

@contextmanager
def _retired(database: str) -> Iterator[None]:
    """The registry at ``database`` taken out of use for the swap: refused if another process has it
    open, its WAL folded into it, and an exclusive lock held until the new file is in place."""
    db = _connect(database, "rw")
    try:
        db.execute("PRAGMA busy_timeout=0")
        try:
            db.execute("PRAGMA journal_mode=DELETE")  # needs every other connection gone
            db.execute("BEGIN EXCLUSIVE")
        except sqlite3.OperationalError as exc:
            raise Conflict(f"The registry at {database} is in use by another process ({exc}): stop the service "
                           f"and its workers, then restore.") from exc
        yield
    finally:
        with suppress(sqlite3.Error):
            db.close()
    for suffix in SIDE_FILES:  # none should be left; a stale one must never be read with the new file
        remove_file(database + suffix)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def durably_rename(partial: str, target: str) -> None:
    """Replace ``target`` with ``partial`` in one step that survives a power cut."""
    with open(partial, "rb") as file:
        os.fsync(file.fileno())
    os.replace(partial, target)
    directory = os.open(Path(target).resolve().parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def remove_file(path: str) -> None:
    with suppress(FileNotFoundError):
        os.remove(path)
