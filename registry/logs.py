"""Logs as JSON lines, and failures that repeat logged once per interval.

One JSON object per line (``time``, ``level``, ``logger``, ``message`` and
the fields a record carries in ``extra={"fields": {...}}``) is what log
shippers read without parsing rules; a traceback stays inside its line.
``gunicorn.conf.py`` puts every logger of a served process through
``JsonFormatter``, gunicorn's own included.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

FIELDS = "fields"  # the ``extra`` key whose dict becomes top-level members of the line


class JsonFormatter(logging.Formatter):
    """A record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        line.update(getattr(record, FIELDS, None) or {})
        if record.exc_info:
            line["error"] = f"{record.exc_info[0].__name__}: {record.exc_info[1]}" if record.exc_info[0] else None
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(level: str) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` sending every logger to stderr as JSON lines at ``level``,
    gunicorn's own included (gunicorn's ``logconfig_dict``)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            "gunicorn.error": {"level": level.upper(), "handlers": ["stderr"], "propagate": False},
            # The app's line per request (``irontrace.request``) is the access log: it knows who acted.
            "gunicorn.access": {"level": "WARNING", "handlers": ["stderr"], "propagate": False},
        },
    }


class OncePerInterval:
    """Logs a repeating failure at most once per ``interval`` seconds per kind, with how many
    times it happened since the last line: a full disk under load is one line a minute, not a
    traceback per request."""

    def __init__(self, logger: logging.Logger, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.logger = logger
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}  # kind -> (when last logged, occurrences since)

    def warning(self, kind: str, message: str, **fields: Any) -> bool:
        """Log ``message`` unless ``kind`` was logged less than ``interval`` ago; whether it was."""
        with self._lock:
            now = self.clock()
            logged_at, since = self._last.get(kind, (None, 0))
            if logged_at is not None and now - logged_at < self.interval:
                self._last[kind] = (logged_at, since + 1)
                return False
            self._last[kind] = (now, 0)
        self.logger.warning(message, extra={FIELDS: {"kind": kind, "repeated": since, **fields}})
        return True
