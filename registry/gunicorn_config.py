"""gunicorn's settings for IronTrace: what ``irontrace serve`` runs (``-c python:registry.gunicorn_config``),
and what ``gunicorn.conf.py`` at the top of the repository (the Dockerfile's) takes over.

Threaded workers keep HTTP connections alive between checks (a sync worker
closes each one, which costs a checkpoint client a new TCP handshake per
check); processes give parallelism across cores.  Settings come from the
``IRONTRACE_*`` variables (``registry.config``): a bad one stops gunicorn
here, before any worker starts, with a message naming it and no traceback.

Size: ``IRONTRACE_WORKERS=0`` (the default) starts one worker per CPU this
container may use, not per CPU of the host, and the SQLite page cache of
every connection (each thread of each worker, and its bulk-check threads)
is sized so that all of them fit in the memory it may use
(``registry.capacity``) unless ``IRONTRACE_SQLITE_CACHE_MB`` is set.

Logs: every line, gunicorn's own included, is one JSON object on stderr;
the access log is the app's line per request (``registry.api.request_log``),
which knows the key and role that acted, so gunicorn writes none of its own.

Metrics: each worker writes its Prometheus samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory unless it is set),
emptied at start and cleaned of a worker's live gauges when it exits, so
``/metrics`` sums every worker, past ones included, whichever one answers.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from registry import capacity
from registry.config import ENV_PREFIX, ConfigurationError, load_settings
from registry.logs import logging_config
from registry.storage.sqlite import IN_PROCESS_WORKERS

__all__ = ["bind", "workers", "worker_class", "threads", "keepalive", "graceful_timeout", "logconfig_dict",
           "on_starting", "child_exit", "on_exit"]

CACHE_SETTING = "SQLITE_CACHE_MB"

try:
    settings = load_settings()
except ConfigurationError as error:
    print(f"irontrace: configuration error: {error}", file=sys.stderr)
    sys.exit(2)

# Before any worker imports prometheus_client: the variable decides where samples go.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="irontrace-metrics-")))

bind = settings["BIND"]  # irontrace serve's --host/--port override it
workers = settings["WORKERS"] or capacity.available_cpus()
worker_class = "gthread"
threads = settings["THREADS"]
keepalive = 30
graceful_timeout = 10
logconfig_dict = logging_config(settings["LOG_LEVEL"])


def on_starting(server: Any) -> None:
    """Start the metrics from nothing (an earlier run's samples would be summed with this one's),
    and size the page cache from the final worker and thread counts (``-w`` may have changed
    them): the workers, forked after this, inherit it."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()
    if ENV_PREFIX + CACHE_SETTING in os.environ:
        return
    bulk_threads = settings["BULK_WORKER_THREADS"] if settings["BULK_WORKER_THREADS"] >= 0 else IN_PROCESS_WORKERS
    connections = server.cfg.workers * (server.cfg.threads + bulk_threads)
    cache_mb = capacity.sqlite_cache_mb(capacity.memory_limit_bytes(), connections)
    os.environ[ENV_PREFIX + CACHE_SETTING] = str(cache_mb)
    server.log.info("%d workers x %d threads; SQLite page cache %d MB per connection",
                    server.cfg.workers, server.cfg.threads, cache_mb)


def child_exit(server: Any, worker: Any) -> None:
    """A worker that exited no longer counts in live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(metrics_dir))


def on_exit(server: Any) -> None:
    """Remove the metrics directory this run made (never one it was given)."""
    if _own_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
