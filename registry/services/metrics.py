"""The metrics a scrape reads: every process's counters, and the state of storage and the bulk queue now."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from registry.access import READ_METRICS, Actor
from registry.errors import StorageFull, StorageUnavailable
from registry.metrics import exposition
from registry.services.bulk import BulkCheckService
from registry.storage.interfaces import Engine


class StorageCollector(Collector):
    """Read at each scrape, from storage itself rather than from any one process."""

    def __init__(self, engine: Engine, bulk: BulkCheckService) -> None:
        self.engine = engine
        self.bulk = bulk

    def collect(self) -> Iterator[Metric]:
        up, full = 1, 0
        try:
            self.engine.ping()
        except StorageFull:
            full = 1
        except StorageUnavailable:
            up = 0
        yield GaugeMetricFamily("irontrace_storage_up", "Whether storage answers (1) or not (0)", value=up)
        yield GaugeMetricFamily("irontrace_storage_full", "Whether storage is full: writes fail (1)", value=full)
        if not up:
            return
        queue = GaugeMetricFamily("irontrace_bulk_jobs", "Bulk-check jobs queued, running or stalled now",
                                  labels=["status"])
        for status, count in self.bulk.queue(time.time()).items():
            queue.add_metric([status], count)
        yield queue


class MetricsService:
    def __init__(self, engine: Engine, bulk: BulkCheckService) -> None:
        self.collector = StorageCollector(engine, bulk)

    def exposition(self, actor: Actor) -> tuple[bytes, str]:
        """The Prometheus text exposition, and its content type; admins only."""
        actor.require(READ_METRICS)
        return exposition([self.collector])
