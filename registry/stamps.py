"""Ids, timestamps and clocks, the same everywhere they are minted.

Whatever counts time against a limit (rate limits, daily quotas, scanning
windows, how long an unfinished write may wait for its audit entry) reads a
``Clock``: the system's, or in tests and drills the Unix time written in the
file ``CLOCK_FILE`` names, which every process of a deployment reads alike,
so a test moves time forward for all of them without sleeping.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

Clock = Callable[[], float]  # Unix seconds now
SECONDS_PER_DAY = 86400


def iso(moment: dt.datetime) -> str:
    """Timestamps are UTC ISO 8601 with milliseconds and ``Z``, comparable as strings."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utc_now() -> str:
    return iso(dt.datetime.now(dt.UTC))


def new_id() -> str:
    """A UUIDv7 (RFC 9562): random, but time-ordered, so new ids append to an index
    instead of landing on a random page of it."""
    unix_ms = time.time_ns() // 1_000_000
    value = (unix_ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


def clock_from(settings: dict[str, Any]) -> Clock:
    """The system clock, or the time written in ``CLOCK_FILE`` (tests and drills only)."""
    path = settings.get("CLOCK_FILE")
    if not path:
        return time.time
    file = Path(path)
    return lambda: float(file.read_text().strip())


def day_of(now: float) -> str:
    """The UTC calendar day of a moment (``2026-11-26``): the window of daily quotas."""
    return dt.datetime.fromtimestamp(now, dt.UTC).date().isoformat()


def next_midnight(now: float) -> float:
    """When the UTC day of ``now`` ends."""
    return (now // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY


def iso_at(now: float) -> str:
    """A Unix time as a stored timestamp."""
    return iso(dt.datetime.fromtimestamp(now, dt.UTC))
