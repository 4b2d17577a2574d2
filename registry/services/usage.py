"""What each key may spend: requests a minute, failed authentications per address, rows a day.

All three are counted in the engine's ``Counters``, so every gunicorn worker
(and, on Elasticsearch, every host) of a deployment shares them and they
survive restarts; the rules are pure (``registry.metering``,
``registry.scanning``) and the time comes from the configured clock.

When the engine cannot count (it refuses writes: a full disk), rate limits
let requests through and say so in the log (at most once a minute): they
protect capacity, and reads should survive a full disk.  Quotas do not: a
check that cannot be counted is not answered.

Rows checked a day are what keeps one key from walking through the registry:
single checks, synchronous bulk checks and bulk-check jobs all count, a whole
file at once when it is submitted, and a file that does not fit in what is
left of the day is refused whole.  The same counter notices readings that
follow one another (a scan, ``registry.scanning``) and raises one alert per
key and day: an ``alert.scanning`` audit entry and a warning in the log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from itertools import islice
from typing import Any

from registry.access import Actor
from registry.errors import QuotaExceeded, StorageUnavailable
from registry.metering import Allowance, Rate, charge_rows, peek, take
from registry.records import Document
from registry.scanning import MAX_OBSERVED, observe
from registry.services.audit import AuditService
from registry.stamps import SECONDS_PER_DAY, Clock, day_of, iso_at, next_midnight
from registry.storage.interfaces import Counters
from registry.vocabulary import ROLES

log = logging.getLogger(__name__)

DAILY_ROWS_QUOTA = "daily_rows"  # the ``quota`` a quota problem names
UNCOUNTED_WARNING_SECONDS = 60  # how often a process says that it cannot count requests
SLOW_UPDATE_SECONDS = 60  # a rate-limit state is kept this long past its window: an update may wait that long


class UsageService:
    def __init__(self, counters: Counters, audit: AuditService, settings: dict[str, Any], clock: Clock) -> None:
        self.counters = counters
        self.audit = audit
        self.clock = clock
        self.rate = Rate(settings["RATE_LIMIT_PER_MINUTE"], settings["RATE_LIMIT_BURST"])
        self.auth_failures = Rate(settings["AUTH_FAILURES_PER_MINUTE"], settings["AUTH_FAILURE_BURST"])
        self.daily_rows: dict[str, int] = _daily_rows(settings["DAILY_ROWS"])
        self.scan_alert_readings: int = settings["SCAN_ALERT_READINGS"]
        self._warned_uncounted = -float(UNCOUNTED_WARNING_SECONDS)

    # -- requests ----------------------------------------------------------------------

    def throttle(self, principal: str) -> Allowance | None:
        """Spend one request of the key's rate limit; the allowance says whether it may go ahead
        (``None``: it could not be counted, and goes ahead)."""
        return self._spend(f"rate:{principal}", self.rate)

    def address_blocked(self, address: str | None) -> Allowance | None:
        """The refusal for an address that failed to authenticate too often lately, else ``None``;
        checked before a presented key is, so guesses from there are not even tried."""
        now = self.clock()
        try:
            allowance = peek(self.auth_failures, self.counters.get(_failures(address), now), now)
        except StorageUnavailable as exc:
            self._uncounted(exc)
            return None
        return None if allowance.allowed else allowance

    def failed_authentication(self, address: str | None) -> None:
        """Count one failed authentication against the client address."""
        self._spend(_failures(address), self.auth_failures)

    def _spend(self, name: str, rate: Rate) -> Allowance | None:
        now = self.clock()
        decided: list[Allowance] = []

        def change(state: Document | None) -> Document:
            # The time is read with the stored state in hand, never before the update: other
            # processes' requests stored while this one waited for the counter (a lost race, a
            # lock) moved the bucket on to their later time, and against an earlier ``now`` it
            # looks that much emptier; with a fast rate that refused requests far below it.
            updated, allowance = take(rate, state, self.clock())
            decided[:] = [allowance]  # the call whose result is stored is the last one
            return updated

        try:
            # A bucket is full again, and its state forgettable, one window after its last request
            # (the update may take a while: ``SLOW_UPDATE_SECONDS`` more; a full bucket is kept longer).
            self.counters.update(name, change, now, now + rate.window + SLOW_UPDATE_SECONDS)
        except StorageUnavailable as exc:
            self._uncounted(exc)
            return None
        return decided[0]

    def _uncounted(self, error: StorageUnavailable) -> None:
        if time.monotonic() - self._warned_uncounted >= UNCOUNTED_WARNING_SECONDS:
            self._warned_uncounted = time.monotonic()
            log.warning("rate limits are not counted while storage refuses it (requests go ahead): %s", error.detail)

    # -- rows ----------------------------------------------------------------------------

    def daily_limit(self, actor: Actor) -> int | None:
        """Rows ``actor`` may check a UTC day: its key's own quota, else its role's; ``None``: no quota."""
        return actor.daily_rows if actor.daily_rows is not None else self.daily_rows.get(actor.role)

    def charge(self, actor: Actor, readings: Iterable[str]) -> None:
        """Count the rows of a check (one per reading) against the actor's day, all or none;
        ``QuotaExceeded`` when they do not fit.  Readings are watched for scans either way (the
        first ``MAX_OBSERVED`` of a file: only those are held in memory, however long it is)."""
        limit = self.daily_limit(actor)
        if limit is None:
            return
        remaining = iter(readings)
        observed = list(islice(remaining, MAX_OBSERVED))
        requested = len(observed) + sum(1 for _ in remaining)
        now = self.clock()
        outcome: dict[str, Any] = {}

        def change(state: Document | None) -> Document:
            state = state or {"rows": 0, "refused": 0, "scan": None}
            charged = charge_rows(state["rows"], requested, limit)
            scan, flagged = observe(state["scan"], observed)
            alert = scan["flagged"] >= self.scan_alert_readings and not scan["alerted"]
            outcome.update(charged=charged, alert=alert, scan=scan, flagged=len(flagged))
            return {"rows": charged.used, "refused": state["refused"] + (0 if charged.allowed else requested),
                    "scan": {**scan, "alerted": scan["alerted"] or alert}}

        day = day_of(now)
        self.counters.update(f"rows:{actor.principal}:{day}", change, now, next_midnight(now) + SECONDS_PER_DAY)
        if outcome["alert"]:
            self._alert(actor, day, outcome["scan"])
        charged = outcome["charged"]
        if not charged.allowed:
            resets = next_midnight(now)
            raise QuotaExceeded(
                f"This key may check {limit} rows a day; {charged.used} are used today and this request has "
                f"{charged.requested}. The quota resets at {iso_at(resets)}.",
                retry_after_seconds=max(1, int(resets - now)), quota=DAILY_ROWS_QUOTA, limit=limit,
                used=charged.used, requested=charged.requested, resets_at=iso_at(resets))

    def rows_today(self, actor: Actor) -> int:
        """Rows ``actor`` checked today (for operators and tests)."""
        now = self.clock()
        state = self.counters.get(f"rows:{actor.principal}:{day_of(now)}", now)
        return int(state["rows"]) if state else 0

    def _alert(self, actor: Actor, day: str, scan: Document) -> None:
        log.warning("key %s (%s) looks like it is scanning the registry: %s readings today follow earlier ones, "
                    "e.g. %s", actor.principal, actor.role, scan["flagged"], ", ".join(scan["examples"]))
        self.audit.record(actor, "alert.scanning", actor.principal, {
            "day": day, "readings_following_others": scan["flagged"], "examples": scan["examples"]})


def _failures(address: str | None) -> str:
    return f"auth-failures:{address or 'unknown'}"


def _daily_rows(configured: dict[str, Any]) -> dict[str, int]:
    """The per-role quotas, checked at start-up: roles the registry knows, positive whole numbers."""
    unknown = set(configured) - set(ROLES)
    bad = {role: rows for role, rows in configured.items() if not isinstance(rows, int) or rows < 1}
    if unknown or bad:
        raise ValueError(f"DAILY_ROWS maps roles ({', '.join(ROLES)}) to positive whole numbers of rows; "
                         f"got unknown roles {sorted(unknown)} and bad quotas {bad}.")
    return dict(configured)
