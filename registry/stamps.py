"""Ids and timestamps, the same everywhere they are minted."""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid


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
