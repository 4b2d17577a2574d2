"""Retention: check records, bulk-check jobs and their uploaded rows and results are kept for the
configured number of days (``CHECK_RETENTION_DAYS``, ``BULK_JOB_RETENTION_DAYS``,
``BULK_RESULT_RETENTION_DAYS``; 0 keeps them for ever), then purged by the maintenance round or
``irontrace purge``.

Each purge that removes anything is one audit entry (``retention.purge``: what, how many, the
cutoff and the period), written with the deletes (SQLite: one transaction; Elasticsearch: through
the outbox).  The audit log itself is never purged: it is the record that the rest was.  Ages count
by the configured clock; a record is purged only once it is strictly older than its period.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from registry.access import Actor
from registry.records import AuditEntry
from registry.services.audit import AuditService
from registry.stamps import SECONDS_PER_DAY, iso_at
from registry.storage.interfaces import CheckLog, JobStore

Purge = Callable[[str, Callable[[int], AuditEntry]], int]  # (cutoff, entry of the count) -> count


class RetentionService:
    def __init__(self, checks: CheckLog, jobs: JobStore, audit: AuditService, settings: dict[str, Any]) -> None:
        self.audit = audit
        # Whole jobs before their results alone, so a job past both periods is deleted, not first marked.
        self.purges: list[tuple[str, int, Purge]] = [
            ("checks", settings["CHECK_RETENTION_DAYS"], checks.purge),
            ("bulk_checks", settings["BULK_JOB_RETENTION_DAYS"],
             lambda cutoff, entry: jobs.purge_jobs(cutoff, False, entry)),
            ("bulk_check_results", settings["BULK_RESULT_RETENTION_DAYS"],
             lambda cutoff, entry: jobs.purge_jobs(cutoff, True, entry)),
        ]

    def purge(self, now: float, actor: Actor | None = None) -> dict[str, int]:
        """Remove what is past its period at ``now``; how many of each kind (kinds kept for ever are
        left out).  ``actor`` is who purges (the system, in the maintenance round)."""
        by = actor or Actor.system()
        counts: dict[str, int] = {}
        for what, days, purge in self.purges:
            if not days:
                continue
            cutoff = iso_at(now - days * SECONDS_PER_DAY)

            def entry(count: int, what: str = what, days: int = days, cutoff: str = cutoff) -> AuditEntry:
                return self.audit.entry(by, "retention.purge", what,
                                        {"records": what, "count": count, "cutoff": cutoff, "days": days})

            counts[what] = purge(cutoff, entry)
        return counts
