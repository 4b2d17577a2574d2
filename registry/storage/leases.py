"""Who holds a bulk-check job: the lease rules every engine's job store applies the same way."""

from __future__ import annotations

from registry.records import Job
from registry.vocabulary import ACTIVE_JOB_STATUSES


def claimable(job: Job, now: float) -> bool:
    """Queued, or running under a lease nobody renewed in time."""
    return job["status"] == "queued" or (job["status"] == "running" and job["lease_expires"] < now)


def holds_lease(job: Job, owner: str | None) -> bool:
    """``owner`` still runs this job; ``None`` stands for anyone, while the job is active."""
    if owner is None:
        return job["status"] in ACTIVE_JOB_STATUSES
    return job["status"] == "running" and job.get("lease_owner") == owner


def at_checkpoint(job: Job, owner: str, rows_done: int) -> bool:
    """The worker still owns the job, and it stands at the checkpoint the worker knows."""
    return holds_lease(job, owner) and job["rows_done"] == rows_done
