"""Bulk checks: a dealer's inventory or a customs manifest checked row by row.

``BulkCheckService`` reads uploads (``registry.bulk_files``), answers small
files at once and queues larger ones as jobs in a ``JobStore``;
``BulkWorker`` runs queued jobs in batches under a lease, so any number of
workers (threads in the app, ``irontrace worker`` processes) can share them
and a job whose worker died is resumed at its last checkpoint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Iterator

from registry.access import ADMIN, CHECK, Actor
from registry.audit import AuditService
from registry.bulk_files import Upload, read_upload
from registry.errors import Conflict, IronTraceError, NotFound, PayloadTooLarge
from registry.services import CheckService, bulk_row_result, new_id, utc_now
from registry.storage.base import Document
from registry.storage.jobs import JobStore
from search.query import CheckQuery
from search.vocabulary import COPIED, HIT, NO_MATCH, POSSIBLE_MATCH, SIMILAR_SERIALS

log = logging.getLogger(__name__)

SYNC_MAX_ROWS = 1000  # POST /v1/checks/bulk answers at once up to this many rows
WORKER_STOP_TIMEOUT_SECONDS = 30
BATCHES_IN_FLIGHT_PER_PROCESS = 2  # one being checked, one waiting, so a process never idles
VERDICT_COUNTERS = {HIT: "hits", POSSIBLE_MATCH: "possible_matches", SIMILAR_SERIALS: "similar_serials",
                    NO_MATCH: "no_matches"}
COUNTERS = (*VERDICT_COUNTERS.values(), "errors")  # what a job counts, row by row
FILE_READING_SOURCE = COPIED  # how a file's identifiers were obtained, unless a row says otherwise
PRIVATE_FIELDS = ("lease_owner", "lease_expires", "run_started", "run_started_rows", "columns", "owner")


@dataclass(frozen=True)
class BulkSettings:
    max_bytes: int
    max_rows: int
    batch_size: int
    lease_seconds: float
    poll_seconds: float

    @classmethod
    def of(cls, settings: dict[str, Any]) -> "BulkSettings":
        return cls(settings["BULK_MAX_BYTES"], settings["BULK_MAX_ROWS"], settings["BULK_BATCH_SIZE"],
                   settings["BULK_LEASE_SECONDS"], settings["BULK_POLL_SECONDS"])


def new_job(upload: Upload, filename: str | None, owner: Actor) -> Document:
    return {
        "id": new_id(), "owner": owner.as_record(), "status": "queued", "created_at": utc_now(), "started_at": None, "finished_at": None,
        "format": upload.file_format, "filename": filename, "columns": upload.columns,
        "rows_total": len(upload.rows), "rows_done": 0,
        **dict.fromkeys(COUNTERS, 0),
        "error": None, "lease_owner": None, "lease_expires": 0.0,
    }


def tally(results: list[Document]) -> dict[str, int]:
    """How many rows were hits, possible matches, similar serials, no matches, or could not be checked."""
    counts = dict.fromkeys(COUNTERS, 0)
    for result in results:
        counts["errors" if result["error"] else VERDICT_COUNTERS[result["verdict"]]] += 1
    return counts


def advanced(job: Document, results: list[Document]) -> Document:
    """The job after a batch: checkpoint moved past its rows, each verdict (or error) counted."""
    before = counters(job)
    counts = {name: before[name] + count for name, count in tally(results).items()}
    return {**job, **counts, "rows_done": job["rows_done"] + len(results)}


def counters(job: Document) -> dict[str, int]:
    """A job's counts; a counter added after the job was queued (``similar_serials``) reads zero."""
    return {name: job.get(name, 0) for name in COUNTERS}


def job_view(job: Document, now: float) -> Document:
    """A job as its owner sees it: no lease internals, an ETA while it runs."""
    view = {**{k: v for k, v in job.items() if k not in PRIVATE_FIELDS}, **counters(job)}
    view["eta_seconds"] = None
    done_this_run = job["rows_done"] - job.get("run_started_rows", 0)
    if job["status"] == "running" and done_this_run > 0:
        rate = done_this_run / max(now - job["run_started"], 1e-3)
        view["eta_seconds"] = round((job["rows_total"] - job["rows_done"]) / rate, 1)
    return view


def check_rows(checks: CheckService, rows: list[Document], actor: Actor) -> list[Document]:
    """Results of rows in order, the checkable ones checked as one batch, shown at the detail
    ``actor``'s role may see.  A row's identifier was copied from a file unless the row says otherwise."""
    queries = [CheckQuery(**{"reading_source": FILE_READING_SOURCE, **r["query"]})
               for r in rows if r["query"] is not None]
    decided = iter(checks.decide(queries, actor))
    return [bulk_row_result(r, next(decided)[0] if r["query"] is not None else None, actor.match_detail)
            for r in rows]


def matched_rows(results: list[Document]) -> list[Document]:
    """For the audit log: the rows that matched, and which report each best matched."""
    return [
        {"row": r["row"], "verdict": r["verdict"], "external_ref": r["match"]["external_ref"],
         "agency": r["match"]["reporting_agency"]["name"]}
        for r in results if r["match"] is not None
    ]


_process_checks: CheckService | None = None  # in a checking process: its own connection to the registry


def _open_process_checks(settings: dict[str, Any]) -> None:
    from registry.context import Services  # the context builds this module's services

    global _process_checks
    _process_checks = Services.open(settings).checks


def _check_in_process(rows: list[Document], actor: Actor) -> list[Document]:
    return check_rows(_process_checks, rows, actor)


def job_owner(job: Document) -> Actor:
    """Who submitted the job: its rows are checked, and shown, as that actor."""
    return Actor(**job["owner"])


class BulkCheckService:
    """Bulk checks for an actor: each job is its owner's, seen by it and by admins only."""

    def __init__(self, checks: CheckService, audit: AuditService, jobs: JobStore, settings: BulkSettings) -> None:
        self.checks = checks
        self.audit = audit
        self.jobs = jobs
        self.settings = settings

    def read(self, data: bytes, file_format: str, max_rows: int) -> Upload:
        """An upload within the limits; ``PayloadTooLarge`` naming the limit otherwise."""
        if len(data) > self.settings.max_bytes:
            raise self.too_large()
        return read_upload(data, file_format, max_rows)

    def too_large(self) -> PayloadTooLarge:
        limit = self.settings.max_bytes
        return PayloadTooLarge(f"The file is larger than {limit} bytes.", limit=limit, unit="bytes")

    def submit(self, data: bytes, file_format: str, filename: str | None, actor: Actor) -> Document:
        """Queue a job for every row of the file; a worker picks it up."""
        actor.require(CHECK)
        upload = self.read(data, file_format, self.settings.max_rows)
        job = new_job(upload, filename, actor)
        self.jobs.create_job(job, upload.rows)
        self.audit.record(actor, "bulk_check.submit", job["id"], {
            "filename": filename, "format": upload.file_format, "rows_total": job["rows_total"],
            "sha256": hashlib.sha256(data).hexdigest(),
        })
        return job

    def check_now(self, data: bytes, file_format: str, actor: Actor) -> tuple[Upload, list[Document]]:
        """Check a small file while the caller waits; the audit log keeps one entry for it."""
        actor.require(CHECK)
        upload = self.read(data, file_format, min(SYNC_MAX_ROWS, self.settings.max_rows))
        size = self.settings.batch_size
        results = [result for start in range(0, len(upload.rows), size)
                   for result in check_rows(self.checks, upload.rows[start:start + size], actor)]
        self.record_checked(actor, data, results)
        return upload, results

    def record_checked(self, actor: Actor, data: bytes, results: list[Document]) -> None:
        """One audit entry for a file checked while its sender waited: its digest, the counts,
        and every row that matched."""
        self.audit.record(actor, "bulk_check.sync", None, {
            "rows_total": len(results), **tally(results), "sha256": hashlib.sha256(data).hexdigest(),
            "matched": matched_rows(results),
        })

    def check_rows(self, rows: list[Document], actor: Actor) -> list[Document]:
        return check_rows(self.checks, rows, actor)

    def get(self, job_id: str, actor: Actor) -> Document:
        """The job, if ``actor`` owns it or is an admin; to anyone else it does not exist."""
        job = self.jobs.get_job(job_id)
        if actor.role != ADMIN and job["owner"]["principal"] != actor.principal:
            raise NotFound(f"No bulk check with id {job_id}.")
        return job

    def cancel(self, job_id: str, actor: Actor) -> Document:
        """Stop a job: its worker notices between batches.  A finished job cannot be cancelled."""
        self.get(job_id, actor)
        job = self.jobs.update_job(job_id, None, {"status": "cancelled", "finished_at": utc_now()})
        if job is not None:
            self.audit.record(actor, "bulk_check.cancel", job_id, {"rows_done": job["rows_done"]})
            return job
        job = self.jobs.get_job(job_id)
        if job["status"] != "cancelled":
            raise Conflict(f"The bulk check is already {job['status']}.", job_status=job["status"])
        return job

    def results(self, job_id: str, actor: Actor) -> tuple[Document, Iterator[Document]]:
        """The job and the results of every row checked so far, in input order."""
        job = self.get(job_id, actor)
        return job, self.jobs.iter_results(job_id, job["rows_done"])


class BulkWorker:
    """Runs queued jobs, one at a time, until stopped; safe beside any number of others."""

    def __init__(self, bulk: BulkCheckService, processes: int = 0, settings: dict[str, Any] | None = None) -> None:
        """``processes`` > 0 checks that many batches at once in child processes, each opening the
        registry from ``settings``; results are still committed one batch at a time, in order."""
        self.bulk = bulk
        self.jobs = bulk.jobs
        self.settings = bulk.settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._processes = processes
        self._process_settings = settings
        self._in_flight = processes * BATCHES_IN_FLIGHT_PER_PROCESS
        self._pool = self._new_pool() if processes > 0 else None

    def _new_pool(self) -> ProcessPoolExecutor:
        # Spawned, not forked: a child must not share the parent's connections.
        return ProcessPoolExecutor(self._processes, get_context("spawn"), initializer=_open_process_checks,
                                   initargs=(self._process_settings,))

    def run(self) -> None:
        """Poll for jobs until ``stop``; storage outages are waited out, not fatal."""
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except IronTraceError as exc:
                log.warning("bulk worker %s: %s", self.owner, exc.detail)
                worked = False
            if not worked:
                self.stopping.wait(self.settings.poll_seconds)

    def run_once(self) -> bool:
        """Claim one job and work on it; ``False`` when there was none."""
        job = self.jobs.claim_job(self.owner, self.settings.lease_seconds, time.time())
        if job is None:
            return False
        try:
            self._process(job)
        except IronTraceError:
            raise  # storage trouble: the lease runs out and the job is resumed later
        except BrokenProcessPool:  # a checking process died (killed, out of memory): not the job's fault
            log.warning("bulk worker %s: a checking process died; starting new ones", self.owner)
            self._pool.shutdown(cancel_futures=True)
            self._pool = self._new_pool()  # the job is resumed from its checkpoint once its lease runs out
        except Exception as exc:  # a defect, not an outage: retrying would fail the same way
            log.exception("bulk check %s failed", job["id"])
            self.jobs.update_job(job["id"], self.owner, {"status": "failed", "finished_at": utc_now(),
                                                          "error": f"{type(exc).__name__}: {exc}"})
        return True

    def _process(self, job: Document) -> None:
        job = self.jobs.update_job(job["id"], self.owner, {
            "started_at": job["started_at"] or utc_now(), "run_started": time.time(),
            "run_started_rows": job["rows_done"],
        })
        if job is None:
            return
        for results in self._checked_batches(job):
            if self.stopping.is_set():
                return  # shutting down: another worker resumes when the lease runs out
            first_row = job["rows_done"]
            job = advanced(job, results)
            lease_until = time.time() + self.settings.lease_seconds
            if not self.jobs.commit_batch(job, self.owner, results, lease_until):
                log.info("bulk check %s was cancelled or taken over", job["id"])
                return
            self.bulk.audit.record(job_owner(job), "bulk_check.batch", job["id"], {
                "rows": [first_row, job["rows_done"]], "matched": matched_rows(results)})
        if self.jobs.update_job(job["id"], self.owner, {"status": "done", "finished_at": utc_now()}) is None:
            return  # cancelled after its last batch, or taken over: not this worker's to finish
        self.bulk.audit.record(job_owner(job), "bulk_check.done", job["id"], {
            "rows_total": job["rows_total"], **counters(job)})

    def _checked_batches(self, job: Document) -> Iterator[list[Document]]:
        """Results of the job's batches after its checkpoint, in order; with processes, the
        next few batches are being checked while one is committed."""
        size, total = self.settings.batch_size, job["rows_total"]
        batches = (self.jobs.job_rows(job["id"], start, min(size, total - start))
                   for start in range(job["rows_done"], total, size))
        owner = job_owner(job)
        if self._pool is None:
            yield from (self.bulk.check_rows(rows, owner) for rows in batches)
            return
        pending: deque[Future] = deque()
        try:
            for rows in batches:
                pending.append(self._pool.submit(_check_in_process, rows, owner))
                if len(pending) >= self._in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def start(self) -> "BulkWorker":
        """Run in a background thread of this process."""
        self._thread = threading.Thread(target=self.run, name=f"bulk-worker-{self.owner}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(WORKER_STOP_TIMEOUT_SECONDS)
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
