"""Benchmark: a border post's replica of a centre registry (issue 16).

    python bench/replica_bench.py --reports 100000 --markdown

Generates a registry (``registry.demo``), imports it into an embedded centre
served by gunicorn (2 workers), then measures: ``irontrace replica init`` of
the whole registry (wall clock, the command as an operator runs it: by
default from the centre's snapshot file, made by that first request; ``--via
feed`` copies through the change feed instead), the
replica's file size beside the centre's, a sync applying ``--changes`` report
updates made at the centre (in-process ``Replica.sync``, so the figure is the
sync and not Python's start-up), and single-check latency on the replica
against the centre's embedded engine (in-process ``CheckService.check``, the
same corrupted readings on both).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from workload import ROOT, UNLIMITED, build_queries, latency_summary, machine, run_and_print, write_registry

from registry.access import Actor
from registry.config import load_settings
from registry.replica.sync import Centre, Replica
from registry.services import open_services
from registry.vocabulary import ACTIVE_STATUSES, BORDER
from search.query import CheckQuery
from tests.processes import Gunicorn

BIN = Path(sys.executable).parent


def irontrace(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / "irontrace"), *args], env={**os.environ, **env}, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"irontrace {' '.join(args)} failed: {done.stderr[-2000:]}")
    return done


def file_mb(path: Path) -> float:
    return round(sum(p.stat().st_size for p in path.parent.glob(path.name + "*")) / 2**20, 1)


def check_latency(db: Path, readings: list[str]) -> dict[str, float]:
    services = open_services(load_settings({"DB": str(db)}), with_sources=False)
    actor = Actor(principal="bench", role=BORDER)
    try:
        for reading in readings[:50]:  # warm the page cache
            services.checks.check(actor, CheckQuery(identifier=reading))
        latencies = []
        for reading in readings:
            started = time.perf_counter()
            services.checks.check(actor, CheckQuery(identifier=reading))
            latencies.append((time.perf_counter() - started) * 1000)
        return latency_summary(latencies)
    finally:
        services.close()


def run(args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory(prefix="replica-bench-") as work:
        return measure(args, Path(work))


def measure(args: argparse.Namespace, work: Path) -> dict:
    registry, centre_db, replica_db = work / "registry.ndjson", work / "centre.db", work / "replica.db"
    write_registry(registry, args.reports, seed=42)
    centre_env = {"IRONTRACE_DB": str(centre_db), **UNLIMITED}
    replica_env = {"IRONTRACE_DB": str(replica_db), "IRONTRACE_REPLICA_PAGE_SIZE": str(args.page_size)}
    started = time.perf_counter()
    irontrace("import", str(registry), env=centre_env)
    imported_s = time.perf_counter() - started
    key = irontrace("keys", "create", "--role", "replica", env=centre_env).stdout.strip().splitlines()[-1]
    with Gunicorn(centre_env, workers=2) as centre:
        started = time.perf_counter()
        irontrace("replica", "init", "--from", centre.url, "--via", args.via,
                  env={**replica_env, "IRONTRACE_KEY": key})
        init_s = time.perf_counter() - started
        snapshots = list(Path(f"{centre_db}.snapshots").glob("*.db"))
        snapshot_mb = round(snapshots[0].stat().st_size / 2**20, 1) if snapshots else None

        operator = Actor.operator()
        services = open_services(load_settings({"DB": str(centre_db)}), with_sources=False)
        try:
            changed = 0
            for report in services.reports.export(operator):
                if changed == args.changes:
                    break
                if report["status"] in ACTIVE_STATUSES:
                    services.reports.update(operator, report["id"], {"color": "bench"}, report["version"])
                    changed += 1
        finally:
            services.close()
        replica_services = open_services(load_settings({"DB": str(replica_db)}), with_sources=False)
        try:
            assert replica_services.engine.replica is not None
            sync = Replica(replica_services.engine.replica, replica_services.audit, Centre(centre.url, key),
                           args.page_size)
            started = time.perf_counter()
            summary = sync.sync()
            sync_s = time.perf_counter() - started
        finally:
            replica_services.close()
    readings = [q["reading"] for q in build_queries(registry, args.checks)]
    return {
        "machine": machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_average": os.getloadavg(), "reports": args.reports, "import_s": round(imported_s, 1),
        "via": args.via, "init_s": round(init_s, 1), "snapshot_mb": snapshot_mb,
        "centre_mb": file_mb(centre_db), "replica_mb": file_mb(replica_db),
        "changes": changed, "changes_applied": summary.upserts + summary.removals, "sync_s": round(sync_s, 2),
        "check_latency_ms": {"centre": check_latency(centre_db, readings),
                             "replica": check_latency(replica_db, readings)},
    }


def markdown(result: dict) -> str:
    centre, replica = result["check_latency_ms"]["centre"], result["check_latency_ms"]["replica"]
    return "\n".join([
        f"Machine: {result['machine']}; {result['date']}; load average at the end {result['load_average']}.",
        "",
        "| measure | figure |",
        "| --- | --- |",
        f"| registry | {result['reports']:,} reports (import {result['import_s']} s) |",
        f"| `irontrace replica init --via {result['via']}` | {result['init_s']} s |",
        f"| snapshot file sent | {result['snapshot_mb']} MiB |",
        f"| replica file / centre file | {result['replica_mb']} MiB / {result['centre_mb']} MiB |",
        f"| sync of {result['changes']:,} changes | {result['sync_s']} s ({result['changes_applied']} applied) |",
        f"| check latency p50 / p90 / p99, centre | {centre['p50']} / {centre['p90']} / {centre['p99']} ms |",
        f"| check latency p50 / p90 / p99, replica | {replica['p50']} / {replica['p90']} / {replica['p99']} ms |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--checks", type=int, default=500)
    parser.add_argument("--page-size", type=int, default=5000)
    parser.add_argument("--via", choices=("snapshot", "feed"), default="snapshot")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
