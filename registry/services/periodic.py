"""A round of work repeated in a background thread until the process stops.

The webhook deliverer and the maintenance upkeep are both "do one round, wait,
do it again"; this is that loop once, with a start that is safe to call twice
and a stop that waits for the round in progress.
"""

from __future__ import annotations

import logging
import threading
from typing import Self

from registry.errors import IronTraceError

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 30


class PeriodicTask:
    """Subclasses set ``thread_name`` and implement ``run_once``; ``interval_seconds`` apart."""

    thread_name = "irontrace-periodic"

    def __init__(self, interval_seconds: float) -> None:
        self.interval_seconds = interval_seconds
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> object:
        raise NotImplementedError

    def run(self) -> None:
        """Rounds until ``stop``; a round that fails on storage is logged and the next one tries again."""
        while not self.stopping.is_set():
            try:
                self.run_once()
            except IronTraceError as exc:
                log.warning("%s: %s", self.thread_name, exc.detail)
            self.stopping.wait(self.interval_seconds)

    def start(self) -> Self:
        """Run in a background thread (once, however often this is called)."""
        if self._thread is None or not self._thread.is_alive():
            self.stopping.clear()
            self._thread = threading.Thread(target=self.run, name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_SECONDS)
