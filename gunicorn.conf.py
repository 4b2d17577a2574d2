"""gunicorn settings, read automatically when gunicorn starts in this directory.

Threaded workers keep HTTP connections alive between checks (a sync worker
closes each one, which costs a checkpoint client a new TCP handshake per
check); processes give parallelism across cores.  Settings come from the
``IRONTRACE_*`` variables (``registry.config``): a bad one stops gunicorn
here, before any worker starts, with a message naming it and no traceback.

Logs: every line, gunicorn's own included, is one JSON object on stderr;
the access log is the app's line per request (``registry.api.request_log``),
which knows the key and role that acted, so gunicorn writes none of its own.

Metrics: each worker writes its Prometheus samples to files in
``PROMETHEUS_MULTIPROC_DIR`` (a fresh temporary directory unless it is set),
emptied at start and cleaned of a worker's live gauges when it exits, so
``/metrics`` sums every worker, past ones included, whichever one answers.
"""

import multiprocessing
import os
import shutil
import sys
import tempfile
from pathlib import Path

from registry.config import ConfigurationError, load_settings
from registry.logs import logging_config

try:
    settings = load_settings()
except ConfigurationError as error:
    print(f"irontrace: configuration error: {error}", file=sys.stderr)
    sys.exit(2)

# Before any worker imports prometheus_client: the variable decides where samples go.
_own_metrics_dir = "PROMETHEUS_MULTIPROC_DIR" not in os.environ
metrics_dir = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="irontrace-metrics-")))

bind = settings["BIND"]
workers = settings["WORKERS"] or multiprocessing.cpu_count()
worker_class = "gthread"
threads = settings["THREADS"]
keepalive = 30
graceful_timeout = 10
logconfig_dict = logging_config(settings["LOG_LEVEL"])


def on_starting(server):
    """Samples of an earlier run would be summed with this one's: start from nothing."""
    metrics_dir.mkdir(parents=True, exist_ok=True)
    for stale in metrics_dir.glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    """A worker that exited no longer counts in live gauges; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid, str(metrics_dir))


def on_exit(server):
    if _own_metrics_dir:
        shutil.rmtree(metrics_dir, ignore_errors=True)
