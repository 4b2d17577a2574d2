"""Benchmark: import rate, single-check latency over HTTP, and accuracy on corrupted queries.

    python bench/registry_bench.py --reports 100000 --queries 2000

Generates a realistic registry (``registry.sample_data``), imports it with the
``irontrace import`` command, serves it with gunicorn, and sends one check at
a time over HTTP: officers' readings corrupted the way plates are misread,
plus serials that were never reported.  Prints a JSON summary and, with
``--markdown``, a table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.sample_data import CORRUPTION_KINDS, corrupt, generate_reports, unregistered_serials  # noqa: E402
from tests.processes import Gunicorn  # noqa: E402

BIN = Path(sys.executable).parent
QUERY_SEED = 7
WARMUP_QUERIES = 200


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def write_registry(path: Path, count: int, seed: int) -> float:
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for report in generate_reports(count, seed):
            out.write(json.dumps(report, ensure_ascii=False) + "\n")
    return time.perf_counter() - started


def load_registry(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as source:
        return [json.loads(line) for line in source]


def build_queries(reports: list[dict], count: int) -> list[dict]:
    """Corrupted readings of registered active identifiers, each kind equally often."""
    rng = random.Random(QUERY_SEED)
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    queries = []
    while len(queries) < count:
        kind = CORRUPTION_KINDS[len(queries) % len(CORRUPTION_KINDS)]
        report = rng.choice(active)
        identifier = rng.choice(report["identifiers"])
        try:
            reading = corrupt(identifier["value"], kind, rng)
        except ValueError:
            continue
        queries.append({"identifier": reading, "kind": kind, "external_ref": report["external_ref"],
                        "agency": report["reporting_agency"]["name"]})
    return queries


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_pids(master: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="irontrace-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    source = workdir / f"registry-{args.reports}.ndjson"
    generation_seconds = write_registry(source, args.reports, args.seed)
    reports = load_registry(source)
    env = {**os.environ, **({"IRONTRACE_DB": str(workdir / f"bench-{args.reports}.db")})}
    Path(env["IRONTRACE_DB"]).unlink(missing_ok=True)

    started = time.perf_counter()
    imported = subprocess.run([str(BIN / "irontrace"), "import", str(source)], env=env,
                              capture_output=True, text=True)
    import_seconds = time.perf_counter() - started
    if imported.returncode != 0:
        raise SystemExit(f"import failed: {imported.stdout}\n{imported.stderr[-2000:]}")

    db_bytes = sum(p.stat().st_size for p in workdir.glob(f"bench-{args.reports}.db*"))
    queries = build_queries(reports, args.queries)
    strangers = unregistered_serials(args.strangers, args.seed)
    del reports

    latencies, outcomes, false_matches = [], [], {"hit": 0, "possible_match": 0}
    with Gunicorn({k: v for k, v in env.items() if k.startswith("IRONTRACE_")}, workers=args.workers) as server:
        with requests.Session() as http:
            url = server.url + "/v1/checks"
            for query in queries[:WARMUP_QUERIES]:
                http.post(url, json={"identifier": query["identifier"]}, timeout=30)
            for query in queries:
                t0 = time.perf_counter()
                result = http.post(url, json={"identifier": query["identifier"]}, timeout=30).json()
                latencies.append((time.perf_counter() - t0) * 1000)
                top = result["matches"][0] if result["matches"] else None
                outcomes.append((query["kind"], bool(top and top["external_ref"] == query["external_ref"]
                                                     and top["reporting_agency"]["name"] == query["agency"])))
            for serial in strangers:
                verdict = http.post(url, json={"identifier": serial}, timeout=30).json()["verdict"]
                if verdict in false_matches:
                    false_matches[verdict] += 1
            rss = {pid: rss_mb(pid) for pid in worker_pids(server.process.pid)}

    by_kind = {
        kind: round(sum(ok for k, ok in outcomes if k == kind) / max(1, sum(1 for k, _ in outcomes if k == kind)), 3)
        for kind in CORRUPTION_KINDS
    }
    return {
        "reports": args.reports,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_implementation()} "
                   f"{platform.python_version()}, {platform.platform()}",
        "generation_seconds": round(generation_seconds, 1),
        "import_seconds": round(import_seconds, 1),
        "import_reports_per_second": round(args.reports / import_seconds),
        "database_mb": round(db_bytes / 2**20),
        "check_latency_ms": {
            "p50": round(percentile(latencies, 0.50), 2),
            "p90": round(percentile(latencies, 0.90), 2),
            "p99": round(percentile(latencies, 0.99), 2),
            "max": round(max(latencies), 2),
            "mean": round(statistics.fmean(latencies), 2),
        },
        "queries": len(queries),
        "top1_accuracy": round(sum(ok for _, ok in outcomes) / len(outcomes), 3),
        "top1_accuracy_by_kind": by_kind,
        "unregistered_queries": len(strangers),
        "false_hits": false_matches["hit"],
        "false_possible_matches": false_matches["possible_match"],
        "worker_rss_mb": round(max(rss.values()), 1) if rss else None,
        "gunicorn_workers": args.workers,
    }


def markdown(result: dict) -> str:
    lat = result["check_latency_ms"]
    kinds = ", ".join(f"{k} {v:.0%}" for k, v in result["top1_accuracy_by_kind"].items())
    return "\n".join([
        f"### {result['reports']:,} reports (embedded SQLite)",
        "",
        f"- machine: {result['machine']}",
        f"- import: {result['import_reports_per_second']:,} reports/s ({result['import_seconds']} s, "
        f"`irontrace import` of NDJSON); database {result['database_mb']} MB",
        f"- single check over HTTP ({result['queries']} sequential checks, gunicorn "
        f"{result['gunicorn_workers']} workers): p50 {lat['p50']} ms, p90 {lat['p90']} ms, "
        f"p99 {lat['p99']} ms, max {lat['max']} ms",
        f"- top-1 accuracy on corrupted queries: {result['top1_accuracy']:.1%} ({kinds})",
        f"- {result['unregistered_queries']} serials never reported: {result['false_hits']} false hits, "
        f"{result['false_possible_matches']} possible matches",
        f"- serving worker resident memory: {result['worker_rss_mb']} MB",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--strangers", type=int, default=500, help="serials never reported")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="keep files here (default: a new temp dir)")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.markdown:
        print(markdown(result))


if __name__ == "__main__":
    main()
