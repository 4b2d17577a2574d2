"""Bulk-check jobs in the registry's SQLite file.

Tables of their own beside the reports, through the engine's connections:
every change of a job is one ``BEGIN IMMEDIATE`` transaction that reads the
job and writes it back, so claiming a job and committing a batch are
compare-and-set across threads and gunicorn workers.  A batch's results and
its checkpoint commit together: a killed worker leaves either both or neither.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from registry.errors import NotFound
from registry.records import AuditEntry, Delivery, Document, Job, Page
from registry.storage.chunks import numbered_chunks
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.leases import at_checkpoint, claimable, holds_lease
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.deliveries import insert_deliveries
from registry.vocabulary import ACTIVE_JOB_STATUSES, FINAL_JOB_STATUSES

RESULTS_PAGE_SIZE = 1000

ACTIVE_JOBS = f"SELECT document FROM bulk_jobs WHERE status IN {ACTIVE_JOB_STATUSES} ORDER BY seq"
OWNER = "json_extract(document, '$.owner.principal')"  # indexed: bulk_jobs_by_owner
RESULTS_PURGED = "json_extract(document, '$.results_purged')"
ROWS_PER_TRANSACTION = 10_000  # uploaded rows stored per write transaction: each holds the lock briefly


class SQLiteJobStore:
    """Jobs, rows and results in the same file as the reports."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create_job(self, job: Job, rows: Iterable[Document], audit: AuditEntry) -> None:
        """Rows first, in short transactions of ``ROWS_PER_TRANSACTION`` rows (or a few
        megabytes), so a large upload never holds the one write lock for long nor a chunk much
        memory; then the job with its ``audit`` entry in one transaction, so no worker sees it
        before all its rows exist (rows of an upload that failed midway are never read) and it
        never exists without its entry."""
        for chunk in numbered_chunks(rows, ROWS_PER_TRANSACTION):
            with self.database.transaction() as db:
                db.executemany("INSERT INTO bulk_rows (job_id, row_index, data) VALUES (?, ?, ?)",
                               ((job["id"], index, text) for index, _, text in chunk))
        with self.database.transaction() as db:
            db.execute("INSERT INTO bulk_jobs (id, status, document) VALUES (?, ?, ?)",
                       (job["id"], job["status"], json.dumps(job)))
            append_in(db, audit)

    def get_job(self, job_id: str) -> Job:
        return _job(self.database.connection(), job_id)

    def claim_job(self, owner: str, lease_seconds: float, now: float) -> Job | None:
        # Look before taking the write lock: idle workers poll, and most polls find nothing.
        if _first_claimable(self.database.connection(), now) is None:
            return None
        with self.database.transaction(durable=False) as db:
            job = _first_claimable(db, now)
            if job is None:
                return None
            job.update({"status": "running", "lease_owner": owner, "lease_expires": now + lease_seconds})
            _store(db, job)
        return job

    def job_rows(self, job_id: str, start: int, count: int) -> list[Document]:
        rows = self.database.connection().execute(
            "SELECT data FROM bulk_rows WHERE job_id = ? AND row_index >= ? ORDER BY row_index LIMIT ?",
            (job_id, start, count),
        )
        return [json.loads(r[0]) for r in rows]

    def commit_batch(self, job: Job, owner: str, results: list[Document], lease_until: float,
                     audit: AuditEntry) -> bool:
        checkpoint = job["rows_done"] - len(results)
        with self.database.transaction(durable=False) as db:
            if not at_checkpoint(_job(db, job["id"]), owner, checkpoint):
                return False
            db.executemany(
                "INSERT INTO bulk_results (job_id, row_index, data) VALUES (?, ?, ?)",
                ((job["id"], checkpoint + i, json.dumps(r, ensure_ascii=False)) for i, r in enumerate(results)),
            )
            _store(db, {**job, "lease_expires": lease_until})
            append_in(db, audit)
        return True

    def update_job(self, job_id: str, owner: str | None, changes: Job,
                   audit: Callable[[Job], AuditEntry] | None = None,
                   deliveries: Sequence[Delivery] = ()) -> Job | None:
        with self.database.transaction() as db:
            job = _job(db, job_id)
            if not holds_lease(job, owner):
                return None
            job.update(changes)
            _store(db, job)
            if audit is not None:
                append_in(db, audit(job))
            insert_deliveries(db, deliveries)
        return job

    def iter_results(self, job_id: str, count: int) -> Iterator[Document]:
        db = self.database.connection()
        for start in range(0, count, RESULTS_PAGE_SIZE):
            rows = db.execute(
                "SELECT data FROM bulk_results WHERE job_id = ? AND row_index >= ? AND row_index < ? "
                "ORDER BY row_index",
                (job_id, start, min(count, start + RESULTS_PAGE_SIZE)),
            ).fetchall()
            yield from (json.loads(r[0]) for r in rows)


    def purge_jobs(self, before: str, keep_jobs: bool, audit: Callable[[int], AuditEntry]) -> int:
        kept = f"AND {RESULTS_PURGED} IS NULL" if keep_jobs else ""
        with self.database.transaction() as db:
            ids = json.dumps([row[0] for row in db.execute(
                f"SELECT id FROM bulk_jobs WHERE status IN (SELECT value FROM json_each(?)) "
                f"AND json_extract(document, '$.created_at') < ? {kept}", (json.dumps(FINAL_JOB_STATUSES), before))])
            listed = "IN (SELECT value FROM json_each(?))"
            db.execute(f"DELETE FROM bulk_rows WHERE job_id {listed}", (ids,))
            db.execute(f"DELETE FROM bulk_results WHERE job_id {listed}", (ids,))
            if keep_jobs:
                count = db.execute("UPDATE bulk_jobs SET document = json_set(document, '$.results_purged', "
                                   f"json('true')) WHERE id {listed}", (ids,)).rowcount
            else:
                count = db.execute(f"DELETE FROM bulk_jobs WHERE id {listed}", (ids,)).rowcount
            if count:
                append_in(db, audit(count))
        return count

    def list_jobs(self, owner: str, limit: int, cursor: str | None) -> Page[Job]:
        before = decode_cursor(cursor, int) if cursor else None
        rows = self.database.connection().execute(
            f"SELECT seq, document FROM bulk_jobs WHERE {OWNER} = ? AND (? IS NULL OR seq < ?) ORDER BY seq DESC "
            f"LIMIT ?", (owner, before, before, limit + 1)).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([cast(Job, json.loads(r[1])) for r in rows], encode_cursor(rows[-1][0]) if more else None)

    def active_jobs(self) -> list[Job]:
        return [cast(Job, json.loads(r[0])) for r in self.database.connection().execute(ACTIVE_JOBS)]


def _job(db: sqlite3.Connection, job_id: str) -> Job:
    row = db.execute("SELECT document FROM bulk_jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise NotFound(f"No bulk check with id {job_id}.")
    return cast(Job, json.loads(row[0]))


def _first_claimable(db: sqlite3.Connection, now: float) -> Job | None:
    jobs = (cast(Job, json.loads(r[0])) for r in db.execute(ACTIVE_JOBS))
    return next((job for job in jobs if claimable(job, now)), None)


def _store(db: sqlite3.Connection, job: Job) -> None:
    db.execute("UPDATE bulk_jobs SET status = ?, document = ? WHERE id = ?",
               (job["status"], json.dumps(job), job["id"]))
