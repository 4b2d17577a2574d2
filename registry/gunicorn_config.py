"""gunicorn's settings for IronTrace: what ``irontrace serve`` runs (``-c python:registry.gunicorn_config``),
and what ``gunicorn.conf.py`` at the top of the repository (the Dockerfile's) takes over.

Threaded workers keep HTTP connections alive between checks (a sync worker
closes each one, which costs a checkpoint client a new TCP handshake per
check); processes give parallelism across cores.  The number of workers
defaults to the CPUs the container may use, not the host's, and the SQLite
page cache of every connection (each thread of each worker, and its
bulk-check thread) is sized so that all of them fit in the memory it may
use (``registry.capacity``).  ``IRONTRACE_BIND``, ``IRONTRACE_WORKERS``,
``IRONTRACE_THREADS`` and ``IRONTRACE_SQLITE_CACHE_MB`` override.
"""

from __future__ import annotations

import os
from typing import Any

from registry import capacity

__all__ = ["bind", "workers", "worker_class", "threads", "keepalive", "graceful_timeout", "on_starting"]

CACHE_SETTING = "IRONTRACE_SQLITE_CACHE_MB"
BULK_THREADS_PER_WORKER = 1  # each worker's bulk-check thread holds a connection too (on SQLite)

bind = os.environ.get("IRONTRACE_BIND", "127.0.0.1:8000")  # irontrace serve's --host/--port override it
workers = int(os.environ.get("IRONTRACE_WORKERS", capacity.available_cpus()))
worker_class = "gthread"
threads = int(os.environ.get("IRONTRACE_THREADS", 4))
keepalive = 30
graceful_timeout = 10


def on_starting(server: Any) -> None:
    """Size the page cache from the final worker and thread counts (``-w`` may have changed them);
    the workers, forked after this, inherit it."""
    if CACHE_SETTING in os.environ:
        return
    connections = server.cfg.workers * (server.cfg.threads + BULK_THREADS_PER_WORKER)
    cache_mb = capacity.sqlite_cache_mb(capacity.memory_limit_bytes(), connections)
    os.environ[CACHE_SETTING] = str(cache_mb)
    server.log.info("%d workers x %d threads; SQLite page cache %d MB per connection",
                    server.cfg.workers, server.cfg.threads, cache_mb)
