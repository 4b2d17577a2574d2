"""Prometheus metrics of the registry (prometheus-client), defined once, observed where things happen.

Under gunicorn each worker is a process of its own: ``gunicorn.conf.py``
sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker starts, so every worker
writes its samples to files there and ``exposition`` sums them (client
multiprocess mode); without it (one process) the samples live in memory.
External sources' calls and circuits are observed in ``integrations.federation``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
if os.environ.get(MULTIPROCESS_DIR_VARIABLE):  # samples go to files there: the directory must exist
    os.makedirs(os.environ[MULTIPROCESS_DIR_VARIABLE], exist_ok=True)
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter("irontrace_http_requests", "HTTP requests answered, by endpoint and status",
                        ["method", "endpoint", "status"])
HTTP_IN_FLIGHT = Gauge("irontrace_http_requests_in_flight", "HTTP requests being answered now, in live processes",
                       multiprocess_mode="livesum")
HTTP_LATENCY = Histogram("irontrace_http_request_duration_seconds", "Time to answer an HTTP request",
                         ["method", "endpoint"], buckets=LATENCY_BUCKETS)
CHECKS = Counter("irontrace_checks", "Readings checked (single and bulk), by verdict and the best match's type",
                 ["verdict", "match_type"])
BULK_ROWS_CHECKED = Counter("irontrace_bulk_rows_checked", "Rows of bulk-check files checked, by jobs or at once",
                            ["mode"])
AUDIT_APPEND_FAILURES = Counter("irontrace_audit_append_failures", "Audit entries that could not be written",
                                ["action"])


def exposition(collectors: Iterable[Collector] = ()) -> tuple[bytes, str]:
    """Every metric of every serving process, plus ``collectors`` read now; and the content type."""
    scrape = CollectorRegistry(auto_describe=False)
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        MultiProcessCollector(scrape)
    else:
        scrape.register(REGISTRY)
    for collector in collectors:
        scrape.register(collector)
    return generate_latest(scrape), CONTENT_TYPE_LATEST
