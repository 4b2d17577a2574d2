"""The service layer: the rules of the registry, independent of HTTP and of the engine.

Every service method takes the acting ``registry.access.Actor`` first and
checks its permission before acting; services return records or result
objects (``results.CheckResult``) that already know how much the actor may
see.  ``open_services`` wires them over the engine chosen by configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from integrations.config import build_federation
from integrations.federation import Federation
from registry.services.audit import AuditService
from registry.services.bulk import BulkCheckService, BulkSettings
from registry.services.bulk_worker import BulkWorker
from registry.services.checks import CheckService
from registry.services.feeds import FeedService
from registry.services.imports import ImportService
from registry.services.keys import KeyService
from registry.services.reports import ReportService
from registry.services.users import LockPolicy, UserService, password_hasher
from registry.storage import open_engine
from registry.storage.interfaces import Engine

EXTENSION_KEY = "irontrace"  # where a Flask app keeps its ``Services`` (``app.extensions``), for API and web alike


@dataclass
class Services:
    """Every service of one app instance or command, over one engine."""

    engine: Engine
    reports: ReportService
    imports: ImportService
    feeds: FeedService
    checks: CheckService
    keys: KeyService
    users: UserService
    audit: AuditService
    bulk: BulkCheckService
    federation: Federation | None = None
    workers: list[BulkWorker] = field(default_factory=list)

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
        self.engine.close()


def services_over(engine: Engine, settings: dict[str, Any], federation: Federation | None = None) -> Services:
    """The services over one engine, checks also asking ``federation``'s sources."""
    audit = AuditService(engine.audit)
    reports = ReportService(engine.reports, audit)
    imports = ImportService(engine.reports, audit)
    checks = CheckService(engine.candidates, engine.checks, audit, federation)
    bulk = BulkCheckService(checks, audit, engine.jobs, BulkSettings.of(settings))
    return Services(engine, reports, imports, FeedService(reports, imports), checks,
                    KeyService(engine.keys, audit), UserService(engine.users, audit, LockPolicy.of(settings),
                                                                hasher=password_hasher(settings)),
                    audit, bulk, federation)


def open_services(settings: dict[str, Any], with_sources: bool = True) -> Services:
    """The engine chosen by configuration, and the external sources it names (none by default)."""
    federation = build_federation(settings) if with_sources else None
    return services_over(open_engine(settings), settings, federation)


def in_process_workers(settings: dict[str, Any], engine: Engine) -> int:
    """``BULK_WORKER_THREADS``, where -1 means the engine's default."""
    threads: int = settings["BULK_WORKER_THREADS"]
    return threads if threads >= 0 else engine.in_process_workers
