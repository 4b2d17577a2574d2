"""Benchmark: the Elasticsearch engine on a 3-node cluster against one node (issue 17).

    python bench/cluster_bench.py --reports 1000000 --markdown

For each topology (3 nodes first, then 1; ``--nodes`` to choose), on this one
machine: start the nodes (``scripts/es_node.py``, ``--heap`` each), import a
generated registry with ``irontrace import`` (reused from ``--workdir``), serve
it with gunicorn pointed at every node, and measure checks per second and their
latency with ``--clients`` concurrent keep-alive clients for ``--seconds``
(corrupted readings of registered identifiers, ``bench/workload.py``), then a
bulk-check job's rows per second (``bulk_bench``'s inventory and worker), and
the indices' size on disk.  All nodes share this machine's cores: a cluster
here measures the cost of replication and coordination, not the capacity that
three machines would add.  Prints JSON, and with ``--markdown`` the section for
bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

import requests
from bulk_bench import BATCH_SIZE, REGISTERED_SHARE, inventory, job_env, run_job
from es_node import start_cluster, start_node  # noqa: E402
from workload import (
    UNLIMITED,
    build_queries,
    generated_registry,
    import_registry,
    index_sizes,
    latency_summary,
    machine,
    run_and_print,
)

from tests.processes import Gunicorn  # noqa: E402

PREFIX = "clusterbench"
# An import's bulk request of a thousand reports, replicated, on nodes sharing two busy cores, can take
# longer than the default 10 s; timeouts are not retried, so one would end the import.
IMPORT_TIMEOUT_SECONDS = 60


def concurrent_checks(server: Gunicorn, readings: list[str], clients: int, seconds: float) -> dict:
    """``clients`` threads, each with its own keep-alive session, sending checks back to back for
    ``seconds``; checks per second, latency, and any answer that was not 200."""
    deadline = time.monotonic() + seconds
    latencies: list[float] = []
    failed: list[int] = []
    lock = threading.Lock()

    def client(offset: int) -> None:
        with requests.Session() as session:
            session.headers.update(server.http.headers)
            n = offset
            while time.monotonic() < deadline:
                started = time.perf_counter()
                status = session.post(server.url + "/v1/checks", json={"identifier": readings[n % len(readings)]},
                                      timeout=60).status_code
                elapsed = (time.perf_counter() - started) * 1000
                with lock:
                    if status == 200:
                        latencies.append(elapsed)
                    else:
                        failed.append(status)
                n += clients

    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(offset,)) for offset in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    return {"clients": clients, "seconds": round(elapsed, 1), "checks": len(latencies), "failed": len(failed),
            "failed_statuses": dict(Counter(failed)),
            "checks_per_second": round(len(latencies) / elapsed, 1), "latency_ms": latency_summary(latencies)}


def measure(nodes: int, args: argparse.Namespace, registry: Path, readings: list[str], data: bytes) -> dict:
    result: dict = {"nodes": nodes}
    with ExitStack() as stack:
        started = time.perf_counter()
        cluster = stack.enter_context(start_cluster(nodes) if nodes > 1 else start_node())
        result["start_seconds"] = round(time.perf_counter() - started, 1)
        env = {"IRONTRACE_ES_URL": cluster.url, "IRONTRACE_ES_INDEX_PREFIX": PREFIX,
               "IRONTRACE_ES_TIMEOUT_SECONDS": str(IMPORT_TIMEOUT_SECONDS),
               "IRONTRACE_AUDIT_HEADS_FILE": str(Path(args.workdir) / f"audit-heads-{nodes}.ndjson"), **UNLIMITED}
        seconds = import_registry(registry, env)
        result["import_seconds"] = round(seconds, 1)
        result["import_reports_per_second"] = round(args.reports / seconds)
        with Gunicorn(env, workers=args.workers) as server:
            concurrent_checks(server, readings, args.clients, args.warmup)  # caches and connections warm
            result["checks"] = concurrent_checks(server, readings, args.clients, args.seconds)
        result["bulk"] = run_job({**env, **job_env(data, args.rows, args.batch_size)}, data, args.rows, 1, 0, stack)
        url = cluster.url.split(",")[0]
        result["index_sizes"] = index_sizes(url, PREFIX)
    return result


def run(args: argparse.Namespace) -> dict:
    os.environ["IRONTRACE_ES_HEAP"] = args.heap
    workdir = Path(args.workdir)
    registry = generated_registry(workdir, args.reports, args.seed)
    readings = [query["reading"] for query in build_queries(registry, args.queries)]
    data, mix = inventory(registry, args.rows, REGISTERED_SHARE, args.seed)
    result: dict = {"reports": args.reports, "machine": machine(), "heap": args.heap, "gunicorn_workers": args.workers,
                    "rows": args.rows, "mix": mix, "batch_size": args.batch_size,
                    "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "topologies": []}
    for nodes in args.nodes:
        result["topologies"].append(measure(nodes, args, registry, readings, data))
        print(result["topologies"][-1], file=sys.stderr, flush=True)  # a long run's figures so far
    return result


def markdown(result: dict) -> str:
    lines = [
        f"### {result['reports']:,} reports: 3 Elasticsearch nodes against 1, on one machine ({result['date']})",
        "",
        f"- machine: {result['machine']}; heap {result['heap']} per node; gunicorn {result['gunicorn_workers']} "
        "workers; every node, gunicorn, the clients and the worker share the same cores",
        "",
        "| nodes | import reports/s | checks/s | p50 ms | p99 ms | failed | bulk rows/s | reports index MB "
        "(primaries / with replicas) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for t in result["topologies"]:
        checks, latency = t["checks"], t["checks"]["latency_ms"]
        reports = next((v for k, v in t["index_sizes"].items() if "-reports-" in k), {})
        lines.append(f"| {t['nodes']} | {t['import_reports_per_second']:,} | {checks['checks_per_second']} | "
                     f"{latency['p50']} | {latency['p99']} | {checks['failed']} | {t['bulk']['rows_per_second']:,} | "
                     f"{reports.get('primaries_mb')} / {reports.get('total_mb')} |")
    first = result["topologies"][0]
    lines += ["", f"- checks: {first['checks']['clients']} concurrent keep-alive clients for "
                  f"{first['checks']['seconds']} s each (after a warm-up); bulk: a {result['rows']:,}-row file, one "
                  f"`irontrace worker`, batches of {result['batch_size']}", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--nodes", type=int, nargs="+", default=[3, 1])
    parser.add_argument("--heap", default="-Xms2g -Xmx2g", help="JVM heap of each node")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--queries", type=int, default=5000)
    parser.add_argument("--rows", type=int, default=20_000, help="rows of the bulk-check file")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=f"/tmp/irontrace-cluster-bench-{uuid.uuid4().hex[:6]}")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
