"""Asking every configured external source at once, without ever waiting past a deadline.

``Federation.start`` sends a check's identifier to each enabled source on a
shared thread pool and returns at once; the caller does its local work, then
``PendingLookups.collect`` waits for each source only until that source's
deadline.  A source that has not answered by then is reported as ``timeout``;
its thread finishes on its own shortly after (requests are bounded by the same
deadline) and a late answer still fills the cache.

Three small parts, each testable alone: ``RetryPolicy`` (backoff, only for
idempotent lookups, only within the deadline), ``CircuitBreaker`` (one per
source: stop calling a failing source, try again after a pause) and
``TtlCache`` (a short memory of answers, so repeated checks cost nothing).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from integrations.base import ExternalMatch, ExternalSource, SourceError, SourceTimeout, SourceUnavailable
from search.query import CheckQuery

log = logging.getLogger(__name__)

T = TypeVar("T")
Clock = Callable[[], float]

DEFAULT_DEADLINE_SECONDS = 0.8  # a border officer's answer never waits longer for a foreign registry
POOL_WORKERS = 64  # lookups in flight across all sources and checks (bulk checks included) of one process
RETRY_ATTEMPTS = 2  # retries after the first try, for idempotent lookups only
RETRY_BASE_DELAY_SECONDS = 0.05  # doubles on each retry
FAILURES_TO_OPEN = 3  # consecutive failures that open a source's circuit
OPEN_SECONDS = 30.0  # how long an open circuit refuses calls before one trial
CACHE_TTL_SECONDS = 60.0  # external answers are reused this long
CACHE_MAX_ENTRIES = 10_000

OK, TIMEOUT, UNAVAILABLE, SKIPPED = "ok", "timeout", "unavailable", "skipped"


class RetryPolicy:
    """Retry a call that failed for want of service, with exponential backoff, inside a deadline."""

    def __init__(self, attempts: int = RETRY_ATTEMPTS, base_delay: float = RETRY_BASE_DELAY_SECONDS,
                 clock: Clock = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        self.attempts = attempts
        self.base_delay = base_delay
        self.clock = clock
        self.sleep = sleep

    def run(self, call: Callable[[float], T], idempotent: bool, deadline_at: float) -> T:
        """``call(remaining_seconds)``; retried on ``SourceUnavailable`` only when idempotent."""
        attempt = 0
        while True:
            remaining = deadline_at - self.clock()
            if remaining <= 0:
                raise SourceTimeout("deadline passed before the source answered")
            try:
                return call(remaining)
            except SourceUnavailable:
                delay = self.base_delay * 2 ** attempt
                if not idempotent or attempt >= self.attempts or self.clock() + delay >= deadline_at:
                    raise
            self.sleep(delay)
            attempt += 1


class CircuitBreaker:
    """Closed, open after ``failures_to_open`` failures in a row, half-open (one trial) after ``open_seconds``."""

    def __init__(self, failures_to_open: int = FAILURES_TO_OPEN, open_seconds: float = OPEN_SECONDS,
                 clock: Clock = time.monotonic) -> None:
        self.failures_to_open = failures_to_open
        self.open_seconds = open_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        with self._lock:
            if self._opened_at is None:
                return "closed"
            return "half_open" if self.clock() - self._opened_at >= self.open_seconds else "open"

    def allow(self) -> bool:
        """Whether a call may go out now; when half-open, only one trial at a time."""
        with self._lock:
            if self._opened_at is None:
                return True
            if self.clock() - self._opened_at < self.open_seconds or self._trial_running:
                return False
            self._trial_running = True
            return True

    def record_success(self) -> None:
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_running = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_running = False
            if self._opened_at is not None or self._failures >= self.failures_to_open:
                self._opened_at = self.clock()


class TtlCache(Generic[T]):
    """A bounded map whose entries expire ``ttl`` seconds after they were put."""

    def __init__(self, ttl: float = CACHE_TTL_SECONDS, max_entries: int = CACHE_MAX_ENTRIES,
                 clock: Clock = time.monotonic) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[float, T]] = OrderedDict()

    def get(self, key: Hashable) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self.clock() >= entry[0]:
                del self._entries[key]
                return None
            return entry[1]

    def put(self, key: Hashable, value: T) -> None:
        with self._lock:
            self._entries.pop(key, None)
            self._entries[key] = (self.clock() + self.ttl, value)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)


@dataclass(frozen=True)
class SourceAnswer:
    """How one source did for one check: what the response's ``sources`` list shows."""

    name: str
    status: str
    elapsed_ms: int
    matches: list[ExternalMatch] = field(default_factory=list)
    detail: str | None = None
    cached: bool = False


@dataclass
class FederatedSource:
    """A source as the fan-out runs it: its adapter, deadline and circuit."""

    source: ExternalSource
    deadline: float = DEFAULT_DEADLINE_SECONDS
    breaker: CircuitBreaker = field(default_factory=CircuitBreaker)
    roles: frozenset[str] | None = None  # whose checks may ask it (its credential's audience); None: all

    @property
    def name(self) -> str:
        return self.source.name


@dataclass(frozen=True)
class _Outcome:
    """What a lookup thread ended with: matches or an error, and when."""

    matches: list[ExternalMatch] | None
    error: SourceError | None
    finished: float


@dataclass
class _InFlight:
    entry: FederatedSource
    future: Future[_Outcome]
    started: float


class PendingLookups:
    """The lookups of one check: answers already known, and calls still in flight."""

    def __init__(self, order: list[str], known: list[SourceAnswer], in_flight: list[_InFlight], clock: Clock) -> None:
        self._order = order
        self._known = known
        self._in_flight = in_flight
        self._clock = clock

    def collect(self) -> list[SourceAnswer]:
        """Every source's answer, waiting for each no later than its deadline; in configuration order."""
        answers = {answer.name: answer for answer in self._known}
        for flight in self._in_flight:
            answers[flight.entry.name] = self._wait(flight)
        return [answers[name] for name in self._order]

    def _wait(self, flight: _InFlight) -> SourceAnswer:
        name, deadline = flight.entry.name, flight.entry.deadline
        remaining = flight.started + deadline - self._clock()
        try:
            outcome = flight.future.result(timeout=max(remaining, 0))
        except FutureTimeout:
            flight.future.cancel()  # still queued: it never runs, and never counts against the source
            return SourceAnswer(name, TIMEOUT, round(deadline * 1000), detail=f"no answer within {deadline:.2f} s")
        elapsed_ms = round((outcome.finished - flight.started) * 1000)
        if outcome.error is not None:
            return SourceAnswer(name, outcome.error.status, elapsed_ms, detail=str(outcome.error))
        return SourceAnswer(name, OK, elapsed_ms, outcome.matches or [])


class Federation:
    """The enabled external sources, with one pool, one cache and a breaker per source."""

    def __init__(self, sources: list[FederatedSource], cache: TtlCache[list[ExternalMatch]] | None = None,
                 retry: RetryPolicy | None = None, clock: Clock = time.monotonic) -> None:
        self.sources = sources
        self.cache = cache if cache is not None else TtlCache()
        self.retry = retry or RetryPolicy()
        self.clock = clock
        self._pool = ThreadPoolExecutor(POOL_WORKERS, thread_name_prefix="irontrace-source")

    def start(self, query: CheckQuery, role: str) -> PendingLookups:
        """Send the query to every source that may be asked now, for a check made in ``role``;
        returns without waiting."""
        known: list[SourceAnswer] = []
        in_flight: list[_InFlight] = []
        for entry in self.sources:
            if not query.identifier:
                known.append(SourceAnswer(entry.name, SKIPPED, 0,
                                          detail="external sources are asked about identifiers only"))
                continue
            if entry.roles is not None and role not in entry.roles:
                known.append(SourceAnswer(entry.name, SKIPPED, 0, detail=f"not asked for {role} checks"))
                continue
            cached = self.cache.get((entry.name, query.identifier))
            if cached is not None:
                known.append(SourceAnswer(entry.name, OK, 0, cached, cached=True))
            elif not entry.breaker.allow():
                known.append(SourceAnswer(entry.name, UNAVAILABLE, 0, detail="circuit open after repeated failures"))
            else:
                started = self.clock()
                future = self._pool.submit(self._lookup, entry, query, started + entry.deadline)
                in_flight.append(_InFlight(entry, future, started))
        return PendingLookups([entry.name for entry in self.sources], known, in_flight, self.clock)

    def _lookup(self, entry: FederatedSource, query: CheckQuery, deadline_at: float) -> _Outcome:
        """Runs on the pool: the call with its retries, then the breaker and cache learn the outcome.

        A lookup that only got a thread after its deadline is not made: its
        check has answered already, and the source did nothing wrong.
        """
        if self.clock() >= deadline_at:
            return _Outcome(None, SourceTimeout("queued past its deadline"), self.clock())
        try:
            matches = self.retry.run(lambda remaining: entry.source.lookup(query, remaining),
                                     entry.source.idempotent, deadline_at)
        except SourceError as exc:
            entry.breaker.record_failure()
            log.warning("external source %s: %s (%s)", entry.name, exc.status, exc)
            return _Outcome(None, exc, self.clock())
        except Exception as exc:  # an adapter bug must not crash a check: it is that source's error
            entry.breaker.record_failure()
            log.exception("external source %s failed unexpectedly", entry.name)
            return _Outcome(None, SourceError(f"adapter failed ({type(exc).__name__})"), self.clock())
        entry.breaker.record_success()
        if entry.source.idempotent:  # a screening's answer (its reference) belongs to that screening alone
            self.cache.put((entry.name, query.identifier), matches)
        return _Outcome(matches, None, self.clock())

    def health(self) -> list[dict[str, str]]:
        """Each source's health probe and circuit state, probed in parallel within its deadline."""
        started = self.clock()
        futures = [(entry, self._pool.submit(entry.source.health, entry.deadline)) for entry in self.sources]
        report = []
        for entry, future in futures:
            try:
                future.result(timeout=max(started + entry.deadline - self.clock(), 0))
                status, detail = OK, None
            except FutureTimeout:
                status, detail = TIMEOUT, f"no answer within {entry.deadline:.2f} s"
            except SourceError as exc:
                status, detail = exc.status, str(exc)
            except Exception as exc:  # an adapter bug is that source's error, as in a lookup
                log.exception("external source %s health probe failed unexpectedly", entry.name)
                status, detail = SourceError.status, f"adapter failed ({type(exc).__name__})"
            report.append({"name": entry.name, "status": status, "circuit": entry.breaker.state,
                           **({"detail": detail} if detail else {})})
        return report

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
