"""Per-key rate limits: a token bucket per API key, in each serving process.

Each key may make ``per_minute`` requests a minute on average, in bursts of
up to ``burst``.  Buckets live in the process, so with N gunicorn workers a
key's ceiling is N times the setting; that is enough to stop a runaway script
or a scraper, which is the point, without a shared counter on every request.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if per_minute <= 0 or burst < 1:
            raise ValueError(f"A rate limit needs a positive rate and a burst of at least 1 "
                             f"(got {per_minute} a minute, burst {burst}).")
        self.rate = per_minute / 60.0  # tokens per second
        self.burst = burst
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when counted)

    def acquire(self, key: str) -> int:
        """Take one token for ``key``: 0 if the request may go ahead, else whole seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.rate))
