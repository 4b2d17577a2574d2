"""Upkeep every long-running process does on a schedule: at start-up, then every ``MAINTENANCE_SECONDS``.

- Complete the audit entries of writes a crash or an outage interrupted
  (Elasticsearch's outbox; nothing to do on SQLite): at start-up this is the
  recovery, afterwards the sweep.
- Publish the audit log's head to the heads file (``AuditService.publish_head``).
- Forget counters that expired (rate-limit state, yesterday's rows).
- Raise ``report.review_due`` for reports past their review date (``reviews.ReviewService``).
- Purge what is past its retention period (``retention.RetentionService``).

Several processes doing this at once is harmless: recovery never appends an
entry twice, the heads file takes a head only when it moved on, and purging
is idempotent.  A failure (storage unavailable) is logged and retried at the
next round.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from registry.errors import IronTraceError
from registry.services.audit import AuditService
from registry.services.periodic import PeriodicTask
from registry.stamps import Clock
from registry.storage.interfaces import Counters

log = logging.getLogger(__name__)


class Maintenance(PeriodicTask):
    thread_name = "irontrace-maintenance"

    def __init__(self, audit: AuditService, counters: Counters, clock: Clock, interval_seconds: float,
                 steps: Sequence[Callable[[float], object]] = ()) -> None:
        super().__init__(interval_seconds)
        self.audit = audit
        self.counters = counters
        self.steps = (audit.log.complete_pending, audit.publish_head, counters.purge, *steps)
        self.clock = clock

    def run_once(self) -> None:
        """One round: recover, publish, forget, then the further steps (reviews, retention); each step
        goes on whatever happened to the one before."""
        for step in self.steps:
            try:
                step(self.clock())
            except IronTraceError as exc:
                log.warning("maintenance: %s failed: %s", step.__name__, exc.detail)
