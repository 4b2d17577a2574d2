"""gunicorn settings, read automatically when gunicorn starts in this directory.

Threaded workers keep HTTP connections alive between checks (a sync worker
closes each one, which costs a checkpoint client a new TCP handshake per
check); processes give parallelism across cores.
"""

import multiprocessing
import os

bind = os.environ.get("IRONTRACE_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("IRONTRACE_WORKERS", multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("IRONTRACE_THREADS", 4))
keepalive = 30
graceful_timeout = 10
