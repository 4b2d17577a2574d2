"""Bulk checks: a dealer's inventory or a customs manifest checked row by row.

``BulkCheckService`` reads uploads (``registry.files.uploads``), answers small
files at once and queues larger ones as jobs in the engine's ``JobStore``;
``registry.services.bulk_worker`` runs queued jobs.  Every row of a file counts
against the key's daily rows when the file is submitted (a job) or checked
(a synchronous bulk check), all at once: a file that does not fit in what is
left of the day is refused whole, before anything is checked.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Literal

from registry.access import CHECK, Actor
from registry.errors import Conflict, NotFound, PayloadTooLarge
from registry.files.tables import Limits
from registry.files.uploads import Upload, read_upload
from registry.metrics import BULK_ROWS_CHECKED
from registry.records import Document, Job, Page
from registry.services.audit import AuditService
from registry.services.batches import batched
from registry.services.checks import CheckService
from registry.services.usage import UsageService
from registry.stamps import iso_at, new_id, utc_now
from registry.storage.interfaces import JobStore
from registry.storage.leases import shown_status
from registry.vocabulary import ACTIVE_JOB_STATUSES, HIT, NO_MATCH, POSSIBLE_MATCH, SIMILAR_SERIALS, STALLED

SYNC_MAX_ROWS = 1000  # POST /v1/checks/bulk answers at once up to this many rows
Counter = Literal["hits", "possible_matches", "similar_serials", "no_matches", "errors",
                  "incomplete_rows"]  # a job's counting fields
VERDICT_COUNTERS: dict[str, Counter] = {HIT: "hits", POSSIBLE_MATCH: "possible_matches",
                                        SIMILAR_SERIALS: "similar_serials", NO_MATCH: "no_matches"}
COUNTERS: tuple[Counter, ...] = (*VERDICT_COUNTERS.values(), "errors")  # one of these per row: they add up to the rows
INCOMPLETE: Counter = "incomplete_rows"  # also counted: rows checked while an external registry did not answer
JOB_COUNTERS: tuple[Counter, ...] = (*COUNTERS, INCOMPLETE)
PRIVATE_FIELDS = ("lease_owner", "lease_expires", "run_started", "run_started_rows", "columns", "owner", "delimiter")
RESULT_PAGE_ROWS = 1000  # rows read back at once to join each result with its uploaded cells


@dataclass(frozen=True)
class BulkSettings:
    max_bytes: int
    max_rows: int
    max_columns: int
    batch_size: int
    lease_seconds: float
    poll_seconds: float

    @classmethod
    def of(cls, settings: dict[str, Any]) -> BulkSettings:
        return cls(settings["BULK_MAX_BYTES"], settings["BULK_MAX_ROWS"], settings["BULK_MAX_COLUMNS"],
                   settings["BULK_BATCH_SIZE"], settings["BULK_LEASE_SECONDS"], settings["BULK_POLL_SECONDS"])


def new_job(upload: Upload, filename: str | None, owner: Actor, created_at: str) -> Job:
    job: Job = {
        "id": new_id(), "owner": owner.as_record(), "status": "queued",
        "created_at": created_at, "started_at": None, "finished_at": None,
        "format": upload.file_format, "filename": filename, "columns": upload.columns,
        "delimiter": upload.delimiter, "rows_total": len(upload.rows), "rows_done": 0,
        "error": None, "lease_owner": None, "lease_expires": 0.0,
    }
    for name in JOB_COUNTERS:
        job[name] = 0
    return job


def tally(results: list[dict[str, Any]]) -> dict[str, int]:
    """How many rows were hits, possible matches, similar serials, no matches, or could not be checked
    (these add up to the rows), and how many were checked while an external registry did not answer."""
    counts: dict[str, int] = dict.fromkeys(JOB_COUNTERS, 0)
    for result in results:
        counts["errors" if result["error"] else VERDICT_COUNTERS[result["verdict"]]] += 1
        counts[INCOMPLETE] += result["complete"] is False
    return counts


def stored_result(result: dict[str, Any]) -> dict[str, Any]:
    """A row's result as a job keeps it: without the uploaded cells, which its row holds."""
    return {name: value for name, value in result.items() if name != "input"}


def advanced(job: Job, results: list[dict[str, Any]]) -> Job:
    """The job after a batch: checkpoint moved past its rows, each verdict (or error) counted."""
    counts, before = tally(results), counters(job)
    moved: Job = {**job, "rows_done": job["rows_done"] + len(results)}
    for name in JOB_COUNTERS:
        moved[name] = before[name] + counts[name]
    return moved


def counters(job: Mapping[str, Any]) -> dict[str, int]:
    """A job's counts; a counter added after the job was queued (``similar_serials``,
    ``incomplete_rows``) reads zero."""
    return {name: job.get(name, 0) for name in JOB_COUNTERS}


def job_view(job: Job, now: float) -> dict[str, Any]:
    """A job as its owner sees it at ``now``: no lease internals, ``stalled`` while nobody renews
    its lease, an ETA while it runs."""
    view = {**{k: v for k, v in job.items() if k not in PRIVATE_FIELDS}, **counters(job)}
    view["status"] = shown_status(job, now)
    view["eta_seconds"] = None
    done_this_run = job["rows_done"] - job.get("run_started_rows", 0)
    if view["status"] == "running" and done_this_run > 0:
        rate = done_this_run / max(now - job["run_started"], 1e-3)
        view["eta_seconds"] = round((job["rows_total"] - job["rows_done"]) / rate, 1)
    return view


def matched_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """For the audit log: the rows that matched, and which report each best matched."""
    return [
        {"row": r["row"], "verdict": r["verdict"], "external_ref": r["match"]["external_ref"],
         "agency": r["match"]["reporting_agency"]["name"]}
        for r in results if r["match"] is not None
    ]


def readings(rows: Iterable[Document]) -> Iterator[str]:
    """What each checkable row of an upload asks about: its identifier, or its description."""
    return (r["query"].get("identifier") or r["query"].get("description") or "" for r in rows
            if r["query"] is not None)


def job_owner(job: Job) -> Actor:
    """Who submitted the job: its rows are checked, and shown, as that actor."""
    return Actor.of(job["owner"])


class BulkCheckService:
    """Bulk checks for an actor: each job is its owner's, seen by it and by admins only."""

    def __init__(self, checks: CheckService, audit: AuditService, usage: UsageService, jobs: JobStore,
                 settings: BulkSettings) -> None:
        self.checks = checks
        self.audit = audit
        self.usage = usage
        self.jobs = jobs
        self.settings = settings

    def read(self, file: IO[bytes], file_format: str, max_rows: int) -> Upload:
        """An upload (a seekable file) within the limits; ``PayloadTooLarge`` naming the limit otherwise.
        The caller closes it."""
        if file.seek(0, os.SEEK_END) > self.settings.max_bytes:
            raise self.too_large()
        return read_upload(file, file_format, max_rows, Limits(max_columns=self.settings.max_columns))

    def too_large(self) -> PayloadTooLarge:
        limit = self.settings.max_bytes
        return PayloadTooLarge(f"The file is larger than {limit} bytes.", limit=limit, unit="bytes")

    def submit(self, actor: Actor, file: IO[bytes], file_format: str, filename: str | None) -> Job:
        """Queue a job for every row of the file (its rows counted against the key's day now);
        a worker picks it up.  Nothing is stored from a file that is refused: it is read whole,
        and its rows counted, before the job is stored with its rows and its audit entry."""
        actor.require(CHECK)
        upload = self.read(file, file_format, self.settings.max_rows)
        try:
            self.usage.charge(actor, readings(upload.rows))
            job = new_job(upload, filename, actor, iso_at(self.checks.clock()))
            self.jobs.create_job(job, iter(upload.rows), self.audit.entry(actor, "bulk_check.submit", job["id"], {
                "filename": filename, "format": upload.file_format, "rows_total": job["rows_total"],
                "sha256": upload.sha256,
            }))
        finally:
            upload.close()
        return job

    def check_now(self, actor: Actor, file: IO[bytes], file_format: str) -> tuple[Upload, list[dict[str, Any]]]:
        """Check a small file while the caller waits; the audit log keeps one entry for it."""
        actor.require(CHECK)
        upload = self.read(file, file_format, min(SYNC_MAX_ROWS, self.settings.max_rows))
        try:
            self.usage.charge(actor, readings(upload.rows))
            results = [result for rows in batched(upload.rows, self.settings.batch_size)
                       for result in self.checks.check_rows(actor, rows)]
        finally:
            upload.close()
        BULK_ROWS_CHECKED.labels("sync").inc(len(results))
        self.record_checked(actor, upload.sha256, results)
        return upload, results

    def record_checked(self, actor: Actor, sha256: str, results: list[dict[str, Any]]) -> None:
        """One audit entry for a file checked while its sender waited: its digest, the counts,
        and every row that matched."""
        self.audit.record(actor, "bulk_check.sync", None, {
            "rows_total": len(results), **tally(results), "sha256": sha256, "matched": matched_rows(results),
        })

    def get(self, actor: Actor, job_id: str) -> Job:
        """The job, if ``actor`` owns it or is an admin; to anyone else it does not exist."""
        job = self.jobs.get_job(job_id)
        if not actor.owns(job["owner"]):
            raise NotFound(f"No bulk check with id {job_id}.")
        return job

    def list(self, actor: Actor, limit: int, cursor: str | None = None) -> Page[Job]:
        """The jobs ``actor`` submitted, newest first."""
        actor.require(CHECK)
        return self.jobs.list_jobs(actor.principal, limit, cursor)

    def queue(self, now: float) -> dict[str, int]:
        """How many jobs wait, run, or stalled (for the metrics; no actor: nothing of any job is shown)."""
        counts = dict.fromkeys((*ACTIVE_JOB_STATUSES, STALLED), 0)
        for job in self.jobs.active_jobs():
            counts[shown_status(job, now)] += 1
        return counts

    def cancel(self, actor: Actor, job_id: str) -> Job:
        """Stop a job: its worker notices between batches.  A finished job cannot be cancelled."""
        self.get(actor, job_id)
        job = self.jobs.update_job(job_id, None, {"status": "cancelled", "finished_at": utc_now()},
                                   lambda cancelled: self.audit.entry(actor, "bulk_check.cancel", job_id,
                                                                      {"rows_done": cancelled["rows_done"]}))
        if job is not None:
            return job
        job = self.jobs.get_job(job_id)
        if job["status"] != "cancelled":
            raise Conflict(f"The bulk check is already {job['status']}.", job_status=job["status"])
        return job

    def results(self, actor: Actor, job_id: str) -> tuple[Job, Iterator[Document]]:
        """The job and the results of every row checked so far, in input order, each with the
        cells uploaded in its row."""
        job = self.get(actor, job_id)
        if job.get("results_purged"):
            raise NotFound(f"The results of bulk check {job_id} were purged: they are kept "
                           f"BULK_RESULT_RETENTION_DAYS days.")
        return job, self._with_input(job_id, job["rows_done"])

    def _with_input(self, job_id: str, count: int) -> Iterator[Document]:
        results = self.jobs.iter_results(job_id, count)
        for start in range(0, count, RESULT_PAGE_ROWS):
            for row in self.jobs.job_rows(job_id, start, min(RESULT_PAGE_ROWS, count - start)):
                result = next(results)
                yield {"row": result["row"], "input": row["cells"], **result}
