"""Rate limits and daily row quotas as pure rules over small stored states.

The states live in the engine's ``Counters`` (shared by every process of a
deployment); these functions only say what a state becomes and what the
caller may do, given the time, so that every engine and every process
decides alike and tests decide with a clock of their own.

Rate limits are token buckets kept as one number, the *theoretical arrival
time* of the generic cell rate algorithm (GCRA): a request may go ahead if
that time is at most ``burst - 1`` intervals ahead of now, and moves it one
interval on.  A full bucket holds ``burst`` requests and refills at
``per_minute``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from registry.records import Document

ROUNDING = 1e-9  # float error never costs a request


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests a minute on average, in bursts of up to ``burst``."""

    per_minute: int
    burst: int

    def __post_init__(self) -> None:
        if self.per_minute <= 0 or self.burst < 1:
            raise ValueError(f"A rate limit needs a positive rate and a burst of at least 1 "
                             f"(got {self.per_minute} a minute, burst {self.burst}).")

    @property
    def interval(self) -> float:
        """Seconds one request's token takes to come back."""
        return 60.0 / self.per_minute

    @property
    def window(self) -> int:
        """Seconds an empty bucket takes to fill: the window of ``RateLimit-Policy``."""
        return math.ceil(self.burst * self.interval)


@dataclass(frozen=True)
class Allowance:
    """What a rate limit says of one request: whether it may go ahead, and what the
    ``RateLimit-*`` headers tell the client."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int  # until the bucket is full again
    retry_after: int  # refused: seconds until the next request is allowed; else 0


def take(rate: Rate, state: Document | None, now: float) -> tuple[Document, Allowance]:
    """Spend one request of the bucket ``state`` (``None``: full) at ``now``; a refused request
    spends nothing."""
    arrival = max(state["tat"] if state else now, now)
    ahead = arrival - now
    if ahead > (rate.burst - 1) * rate.interval + ROUNDING:
        wait = ahead - (rate.burst - 1) * rate.interval
        return {"tat": arrival}, Allowance(False, rate.burst, 0, math.ceil(ahead), max(1, math.ceil(wait)))
    arrival += rate.interval
    remaining = math.floor(rate.burst - (arrival - now) / rate.interval + ROUNDING)
    return {"tat": arrival}, Allowance(True, rate.burst, remaining, math.ceil(arrival - now), 0)


def peek(rate: Rate, state: Document | None, now: float) -> Allowance:
    """Whether a request would be allowed now, spending nothing."""
    return take(rate, state, now)[1]


@dataclass(frozen=True)
class QuotaCharge:
    """What charging ``requested`` rows to a key's day did."""

    allowed: bool
    limit: int
    used: int  # rows counted today, this charge included if allowed
    requested: int


def charge_rows(used: int, requested: int, limit: int) -> QuotaCharge:
    """Count ``requested`` rows against a daily ``limit`` of which ``used`` are spent: all of them,
    or none (a file is never checked in part)."""
    allowed = used + requested <= limit
    return QuotaCharge(allowed, limit, used + requested if allowed else used, requested)
