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
from registry.files.heads import HeadsFile
from registry.services.audit import AuditService
from registry.services.bulk import BulkCheckService, BulkSettings
from registry.services.bulk_worker import BulkWorker
from registry.services.changes import ChangeService, ReadOnlyReports, ReplicaStatus
from registry.services.checks import CheckService
from registry.services.confirmations import ConfirmationService
from registry.services.deliverer import Deliverer
from registry.services.feeds import FeedService
from registry.services.imports import ImportService
from registry.services.keys import KeyService
from registry.services.maintenance import Maintenance
from registry.services.metrics import MetricsService
from registry.services.reports import ReportService
from registry.services.retention import RetentionService
from registry.services.reviews import ReviewService
from registry.services.sightings import SightingService
from registry.services.usage import UsageService
from registry.services.users import LockPolicy, UserService, password_hasher
from registry.services.webhooks import WebhookService
from registry.stamps import clock_from
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
    metrics: MetricsService
    usage: UsageService
    maintenance: Maintenance
    confirmations: ConfirmationService
    webhooks: WebhookService
    deliverer: Deliverer
    reviews: ReviewService
    retention: RetentionService
    changes: ChangeService
    federation: Federation | None = None
    workers: list[BulkWorker] = field(default_factory=list)

    def start_workers(self, count: int) -> None:
        """Background threads of a long-running process: ``count`` running bulk-check jobs, the
        maintenance round (audit recovery and head, counters, review notices, retention) and the webhook
        deliverer (which also marks overdue confirmation requests)."""
        self.workers += [BulkWorker(self.bulk).start() for _ in range(count)]
        self.maintenance.start()
        self.deliverer.start()

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.maintenance.stop()
        self.deliverer.stop()

    def close(self) -> None:
        """Stop the workers, then release external sources and storage."""
        self.stop_workers()
        if self.federation is not None:
            self.federation.close()
        self.engine.close()


def services_over(engine: Engine, settings: dict[str, Any], federation: Federation | None = None) -> Services:
    """The services over one engine, checks also asking ``federation``'s sources."""
    clock = clock_from(settings)
    audit = AuditService(engine.audit, HeadsFile(settings["AUDIT_HEADS_FILE"]))
    replica = engine.replica.state() if engine.replica is not None else None
    report_store = engine.reports if replica is None else ReadOnlyReports(engine.reports, replica["centre"])
    replica_status = None if replica is None or engine.replica is None else ReplicaStatus(
        engine.replica, settings["REPLICA_STALE_MINUTES"], clock)
    usage = UsageService(engine.counters, audit, settings, clock)
    webhooks = WebhookService(engine.webhooks, audit, clock, settings)
    reports = ReportService(report_store, audit, SightingService(engine.checks, engine.sightings, webhooks, clock,
                                                                   settings), clock)
    reviews = ReviewService(report_store, engine.review_notices, webhooks, clock, settings)
    imports = ImportService(report_store, audit)
    checks = CheckService(engine.candidates, engine.checks, audit, usage, federation, webhooks, clock,
                          settings["REPORT_REVIEW_MONTHS"], replica_status)
    bulk = BulkCheckService(checks, audit, usage, engine.jobs, BulkSettings.of(settings))
    retention = RetentionService(engine.checks, engine.jobs, audit, settings)
    # A replica's copy is reviewed at the centre: it raises no review notices of its own.
    upkeep = (retention.purge,) if replica is not None else (reviews.sweep_due, retention.purge)
    maintenance = Maintenance(audit, engine.counters, clock, settings["MAINTENANCE_SECONDS"], upkeep)
    confirmations = ConfirmationService(engine.confirmations, engine.checks, report_store, webhooks, clock, settings)
    deliverer = Deliverer(engine.webhooks, webhooks.handoff, clock, settings, confirmations.sweep_overdue)
    return Services(engine, reports, imports, FeedService(reports, imports), checks,
                    KeyService(engine.keys, audit), UserService(engine.users, audit, LockPolicy.of(settings),
                                                                hasher=password_hasher(settings)),
                    audit, bulk, MetricsService(engine, bulk), usage, maintenance, confirmations, webhooks, deliverer,
                    reviews, retention, ChangeService(engine.changes, engine.feed_snapshots, audit, clock,
                                                   settings["REPLICA_SNAPSHOT_MAX_AGE_MINUTES"]), federation)


def open_services(settings: dict[str, Any], with_sources: bool = True) -> Services:
    """The engine chosen by configuration, and the external sources it names (none by default)."""
    federation = build_federation(settings) if with_sources else None
    return services_over(open_engine(settings), settings, federation)


def in_process_workers(settings: dict[str, Any], engine: Engine) -> int:
    """``BULK_WORKER_THREADS``, where -1 means the engine's default."""
    threads: int = settings["BULK_WORKER_THREADS"]
    return threads if threads >= 0 else engine.in_process_workers
