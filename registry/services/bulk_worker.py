"""The worker that runs queued bulk-check jobs, in batches, under a lease.

Any number of workers (threads in the app, ``irontrace worker`` processes)
can share the jobs of one engine: a job whose worker died is resumed at its
last checkpoint (see ``registry.storage.interfaces.JobStore``).  With
``processes`` a worker checks the next few batches in child processes while
it commits one, in order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing import get_context
from typing import Any

from registry.access import Actor
from registry.errors import IronTraceError
from registry.metrics import BULK_ROWS_CHECKED
from registry.records import Document, Job
from registry.services.bulk import BulkCheckService, advanced, counters, job_owner, matched_rows, stored_result
from registry.services.checks import CheckService
from registry.services.pools import child_pool
from registry.services.webhooks import Audience
from registry.stamps import utc_now

log = logging.getLogger(__name__)

WORKER_STOP_TIMEOUT_SECONDS = 30
BATCHES_IN_FLIGHT_PER_PROCESS = 2  # one being checked, one waiting, so a process never idles

_process_checks: CheckService | None = None  # in a checking process: its own connection to the registry


def _open_process_checks(settings: dict[str, Any]) -> None:
    global _process_checks
    _process_checks = CheckService.from_settings(settings)


def _check_in_process(rows: list[Document], actor: Actor) -> list[dict[str, Any]]:
    assert _process_checks is not None, "the pool's initializer opens the registry"
    return _process_checks.check_rows(actor, rows)


class BulkWorker:
    """Runs queued jobs, one at a time, until stopped; safe beside any number of others."""

    def __init__(self, bulk: BulkCheckService, processes: int = 0, settings: dict[str, Any] | None = None) -> None:
        """``processes`` > 0 checks that many batches at once in child processes, each opening the
        registry from ``settings``; results are still committed one batch at a time, in order."""
        self.bulk = bulk
        self.jobs = bulk.jobs
        self.settings = bulk.settings
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._processes = processes
        self._process_settings = settings
        self._in_flight = processes * BATCHES_IN_FLIGHT_PER_PROCESS
        self._pool = self._new_pool() if processes > 0 else None

    def _new_pool(self) -> ProcessPoolExecutor:
        # Spawned, not forked: a child must not share the parent's connections.
        assert self._process_settings is not None, "checking processes open the registry from settings"
        return child_pool(self._processes, get_context("spawn"), _open_process_checks, (self._process_settings,))

    def run(self) -> None:
        """Poll for jobs until ``stop``; storage outages are waited out, not fatal."""
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
            except IronTraceError as exc:
                log.warning("bulk worker %s: %s", self.owner, exc.detail)
                worked = False
            if not worked:
                self.stopping.wait(self.settings.poll_seconds)

    def run_once(self) -> bool:
        """Claim one job and work on it; ``False`` when there was none."""
        job = self.jobs.claim_job(self.owner, self.settings.lease_seconds, time.time())
        if job is None:
            return False
        try:
            self._process(job)
        except IronTraceError:
            raise  # storage trouble: the lease runs out and the job is resumed later
        except BrokenProcessPool:  # a checking process died (killed, out of memory): not the job's fault
            log.warning("bulk worker %s: a checking process died; starting new ones", self.owner)
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)
            self._pool = self._new_pool()  # the job is resumed from its checkpoint once its lease runs out
        except Exception as exc:  # a defect, not an outage: retrying would fail the same way
            log.exception("bulk check %s failed", job["id"])
            self.jobs.update_job(job["id"], self.owner, {"status": "failed", "finished_at": utc_now(),
                                                          "error": f"{type(exc).__name__}: {exc}"})
        return True

    def _process(self, job: Job) -> None:
        started = self.jobs.update_job(job["id"], self.owner, {
            "started_at": job["started_at"] or utc_now(), "run_started": time.time(),
            "run_started_rows": job["rows_done"],
        })
        if started is None:
            return
        job = started
        for results in self._checked_batches(job):
            if self.stopping.is_set():
                return  # shutting down: another worker resumes when the lease runs out
            first_row = job["rows_done"]
            job = advanced(job, results)
            lease_until = time.time() + self.settings.lease_seconds
            entry = self.bulk.audit.entry(job_owner(job), "bulk_check.batch", job["id"], {
                "rows": [first_row, job["rows_done"]], "matched": matched_rows(results)})
            if not self.jobs.commit_batch(job, self.owner, [stored_result(r) for r in results], lease_until, entry):
                log.info("bulk check %s was cancelled or taken over", job["id"])
                return
            BULK_ROWS_CHECKED.labels("job").inc(len(results))
        done = self.bulk.audit.entry(job_owner(job), "bulk_check.done", job["id"], {
            "rows_total": job["rows_total"], **counters(job)})
        webhooks = self.bulk.checks.webhooks
        finished: dict[str, Any] = {"id": job["id"], "status": "done", "rows_total": job["rows_total"],
                                    **counters(job)}
        owner = Audience.of(principals=[job["owner"]["principal"]])
        deliveries = webhooks.deliveries_for("bulk_check.finished", owner, finished) if webhooks else []
        if self.jobs.update_job(job["id"], self.owner, {"status": "done", "finished_at": utc_now()},
                                lambda _: done, deliveries) is None:
            return  # cancelled after its last batch, or taken over: not this worker's to finish
        if webhooks:
            webhooks.stored(deliveries)

    def _checked_batches(self, job: Job) -> Iterator[list[dict[str, Any]]]:
        """Results of the job's batches after its checkpoint, in order; with processes, the
        next few batches are being checked while one is committed."""
        size, total = self.settings.batch_size, job["rows_total"]
        batches = (self.jobs.job_rows(job["id"], start, min(size, total - start))
                   for start in range(job["rows_done"], total, size))
        owner = job_owner(job)
        if self._pool is None:
            yield from (self.bulk.checks.check_rows(owner, rows) for rows in batches)
            return
        pending: deque[Future[list[dict[str, Any]]]] = deque()
        try:
            for rows in batches:
                pending.append(self._pool.submit(_check_in_process, rows, owner))
                if len(pending) >= self._in_flight:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()

    def start(self) -> BulkWorker:
        """Run in a background thread of this process."""
        self._thread = threading.Thread(target=self.run, name=f"bulk-worker-{self.owner}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(WORKER_STOP_TIMEOUT_SECONDS)
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
