"""The services an app instance runs with, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from registry.bulk import BulkCheckService, BulkSettings, BulkWorker
from registry.services import CheckService, ReportService
from registry.storage import open_storage
from registry.storage.base import Storage
from registry.storage.jobs import open_job_store

EXTENSION_KEY = "irontrace"


@dataclass
class Services:
    storage: Storage
    reports: ReportService
    checks: CheckService
    bulk: BulkCheckService
    workers: list[BulkWorker] = field(default_factory=list)

    @classmethod
    def open(cls, settings: dict[str, Any]) -> "Services":
        """Storage chosen by configuration, and the job store beside it in the same engine."""
        storage = open_storage(settings)
        checks = CheckService(storage)
        bulk = BulkCheckService(checks, open_job_store(storage), BulkSettings.of(settings))
        return cls(storage, ReportService(storage), checks, bulk)

    def start_workers(self, count: int) -> None:
        """Background threads running bulk-check jobs in this process."""
        self.workers += [BulkWorker(self.bulk).start() for _ in range(count)]

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    def close(self) -> None:
        """Stop the workers, then release storage."""
        self.stop_workers()
        self.storage.close()


def in_process_workers(settings: dict[str, Any]) -> int:
    """``BULK_WORKER_THREADS``, where -1 means one on SQLite and none on Elasticsearch,
    whose jobs run in ``irontrace worker`` processes."""
    threads = settings["BULK_WORKER_THREADS"]
    if threads >= 0:
        return threads
    return 0 if settings.get("ES_URL") else 1


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
