"""What access control and the audit log add to each request, on each engine.

Every request authenticates its key (one read of the key record) and every
check appends one audit entry; both are measured in-process, beside a whole
check of a serial never reported, on an empty registry (neither cost depends
on the registry's size)::

    python bench/access_bench.py [--es-url URL] [--repeat N]

Without ``--es-url`` only SQLite is measured.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from workload import machine, percentile

from registry.access import BORDER, Actor
from registry.config import load_settings
from registry.services import Services, open_services
from search.query import CheckQuery

READING = "ZZZ1234567"


def percentiles(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """p50 and p99 of ``action``, in milliseconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append((time.perf_counter() - started) * 1000)
    return percentile(times, 0.50), percentile(times, 0.99)


def measure(services: Services, repeat: int) -> dict[str, tuple[float, float]]:
    actor = Actor(principal="bench", role=BORDER, address="127.0.0.1")
    key, _ = services.keys.create(Actor.operator(), BORDER)
    services.checks.check(actor, CheckQuery(READING))  # indices, connections, caches in place
    return {
        "authenticate a key": percentiles(lambda: services.keys.authenticate(key, "127.0.0.1"), repeat),
        "append an audit entry": percentiles(
            lambda: services.audit.record(actor, "check", "bench", {"query": {"identifier": READING}}), repeat),
        "whole check (with its audit entry)": percentiles(
            lambda: services.checks.check(actor, CheckQuery(READING)), repeat),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--es-url")
    parser.add_argument("--repeat", type=int, default=500)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as workdir:
        engines = {"sqlite": {"DB": str(Path(workdir) / "access.db")}}
        if args.es_url:
            engines["elasticsearch"] = {"ES_URL": args.es_url, "ES_INDEX_PREFIX": f"bench-{uuid.uuid4().hex[:8]}"}
        for engine, settings in engines.items():
            services = open_services(load_settings(settings))
            try:
                for name, (p50, p99) in measure(services, args.repeat).items():
                    print(f"| {engine} | {name} | {p50:.2f} ms | {p99:.2f} ms |")
            finally:
                if engine == "elasticsearch":
                    es, prefix = services.engine.reports.cluster.client, settings["ES_INDEX_PREFIX"]  # type: ignore[attr-defined]
                    es.indices.delete(index=",".join(es.indices.get(index=f"{prefix}-*")))
                services.close()


if __name__ == "__main__":
    main()
