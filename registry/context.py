"""The services an app instance runs with, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from integrations.config import build_federation
from integrations.federation import Federation
from registry.access import KeyService
from registry.audit import AuditService
from registry.bulk import BulkCheckService, BulkSettings, BulkWorker
from registry.config import DEFAULTS
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
    keys: KeyService
    audit: AuditService
    bulk: BulkCheckService
    federation: Federation | None = None
    workers: list[BulkWorker] = field(default_factory=list)

    @classmethod
    def over(cls, storage: Storage, federation: Federation | None = None,
             bulk_settings: BulkSettings | None = None) -> "Services":
        """The services over one storage engine (the job store beside it in the same engine),
        checks also asking ``federation``'s sources."""
        audit = AuditService(storage)
        checks = CheckService(storage, audit, federation)
        bulk = BulkCheckService(checks, audit, open_job_store(storage), bulk_settings or BulkSettings.of(DEFAULTS))
        return cls(storage, ReportService(storage, audit), checks, KeyService(storage, audit), audit, bulk,
                   federation)

    @classmethod
    def open(cls, settings: dict[str, Any]) -> "Services":
        """Storage chosen by configuration, and the external sources it names (none by default)."""
        return cls.over(open_storage(settings), build_federation(settings), BulkSettings.of(settings))

    def start_workers(self, count: int) -> None:
        """Background threads running bulk-check jobs in this process."""
        self.workers += [BulkWorker(self.bulk).start() for _ in range(count)]

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    def close(self) -> None:
        """Stop the workers, then release external sources and storage."""
        self.stop_workers()
        if self.federation is not None:
            self.federation.close()
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
