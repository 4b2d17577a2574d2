"""The job store seam: bulk-check jobs, their input rows and their results.

A job is a plain JSON document (``BulkJobSchema`` fields plus its lease);
its input rows are stored with it so that any worker can run or resume it.
Workers take a job with a *lease* (owner and expiry, set by compare-and-set)
and commit each batch's results, keyed by (job, row), together with the
checkpoint ``rows_done``: a worker killed mid-job loses only its uncommitted
batch, and the next one resumes at the checkpoint, so every row's result is
kept exactly once, in input order.
"""

from __future__ import annotations

import abc
from typing import Iterator

from registry.storage.base import Document, Storage

ACTIVE_STATUSES = ("queued", "running")
FINAL_STATUSES = ("done", "failed", "cancelled")


def claimable(job: Document, now: float) -> bool:
    """Queued, or running under a lease nobody renewed in time."""
    return job["status"] == "queued" or (job["status"] == "running" and job["lease_expires"] < now)


def holds_lease(job: Document, owner: str | None) -> bool:
    """``owner`` still runs this job; ``None`` stands for anyone, while the job is active."""
    if owner is None:
        return job["status"] in ACTIVE_STATUSES
    return job["status"] == "running" and job.get("lease_owner") == owner


def at_checkpoint(job: Document, owner: str, rows_done: int) -> bool:
    """The worker still owns the job, and it stands at the checkpoint the worker knows."""
    return holds_lease(job, owner) and job["rows_done"] == rows_done


class JobStore(abc.ABC):
    """Jobs, rows and results, beside the reports in the same engine."""

    @abc.abstractmethod
    def create_job(self, job: Document, rows: list[Document]) -> None:
        """Store a new job with its input rows (row index = position in ``rows``)."""

    @abc.abstractmethod
    def get_job(self, job_id: str) -> Document:
        """The job as stored now; ``NotFound`` otherwise."""

    @abc.abstractmethod
    def claim_job(self, owner: str, lease_seconds: float, now: float) -> Document | None:
        """Take the oldest claimable job for ``owner`` (status ``running``, lease until
        ``now + lease_seconds``); ``None`` when there is none.  Two workers never
        both get the same job."""

    @abc.abstractmethod
    def job_rows(self, job_id: str, start: int, count: int) -> list[Document]:
        """Input rows ``start`` to ``start + count``, in order (all of them exist)."""

    @abc.abstractmethod
    def commit_batch(self, job: Document, owner: str, results: list[Document], lease_until: float) -> bool:
        """Store the results of the rows after the checkpoint and the job's new state
        (``job``: counters advanced, lease renewed to ``lease_until``), only if
        ``owner`` still holds the lease at the old checkpoint.  ``False`` when it
        does not (cancelled, or taken over): nothing is written then."""

    @abc.abstractmethod
    def update_job(self, job_id: str, owner: str | None, changes: Document) -> Document | None:
        """Apply ``changes`` to the stored job if ``owner`` holds its lease (``None``: if it is
        still active, for cancelling); the updated job, or ``None`` if it was not applied."""

    @abc.abstractmethod
    def iter_results(self, job_id: str, count: int) -> Iterator[Document]:
        """Results of rows ``0`` to ``count``, in input order, fetched a page at a time."""

    def close(self) -> None:
        """Release connections; the default has none."""


def open_job_store(storage: Storage) -> JobStore:
    """Jobs live in the engine that holds the reports: the same SQLite file or cluster."""
    if storage.name == "elasticsearch":
        from registry.storage.jobs_elasticsearch import ElasticsearchJobStore

        return ElasticsearchJobStore(storage)
    from registry.storage.jobs_sqlite import SQLiteJobStore

    return SQLiteJobStore(storage)
