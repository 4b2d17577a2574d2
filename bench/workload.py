"""What every IronTrace benchmark shares: the registry, the readings, the statistics.

The registry comes from ``registry.demo`` (seeded, realistic), the
readings are registered identifiers damaged the way plates are misread
(``corrupt``, every kind equally often) plus serials never reported, and a
result is "right" when its first match is the report the reading came from.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from argparse import ArgumentParser
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))
BIN = Path(sys.executable).parent

from registry.demo import (  # noqa: E402
    CORRUPTION_KINDS,
    corrupted_readings,
    generate_reports,
    unregistered_serials,
)

QUERY_SEED = 7
# Servers under a benchmark: the per-key rate limit lifted, so it measures the server, not the limit.
UNLIMITED = {"IRONTRACE_RATE_LIMIT_PER_MINUTE": "100000000", "IRONTRACE_RATE_LIMIT_BURST": "100000"}
WARMUP_QUERIES = 200
BENCH_ES_HEAP = "-Xms4g -Xmx4g"  # a node a benchmark starts for itself (unless IRONTRACE_ES_URL names one)

if TYPE_CHECKING:
    from tests.processes import Gunicorn


def machine() -> str:
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return (f"{model}, {os.cpu_count()} cores, {memory_gib:.0f} GiB, {platform.system()} {platform.release()}, "
            f"{platform.python_implementation()} {platform.python_version()}")


def write_registry(path: Path, count: int, seed: int) -> float:
    """The registry as NDJSON (what ``irontrace import`` reads); returns seconds taken."""
    started = time.perf_counter()
    with path.open("w", encoding="utf-8") as out:
        for report in generate_reports(count, seed):
            out.write(json.dumps(report, ensure_ascii=False) + "\n")
    return time.perf_counter() - started


def generated_registry(workdir: Path, count: int, seed: int) -> Path:
    """``registry-<count>.ndjson`` in ``workdir``, generated unless a run before left it there."""
    workdir.mkdir(parents=True, exist_ok=True)
    registry = workdir / f"registry-{count}.ndjson"
    if not registry.exists():
        write_registry(registry, count, seed)
    return registry


def build_queries(registry: Path, count: int) -> list[dict]:
    """Corrupted readings of registered active identifiers, each kind equally often."""
    with registry.open(encoding="utf-8") as source:
        return corrupted_readings(map(json.loads, source), count, random.Random(QUERY_SEED))


def strangers(count: int, seed: int) -> list[str]:
    return unregistered_serials(count, seed)


def elasticsearch_url(stack: ExitStack) -> str:
    """The node ``IRONTRACE_ES_URL`` names, else one started for the benchmark (stopped with ``stack``)."""
    url = os.environ.get("IRONTRACE_ES_URL")
    if url:
        return url
    from es_node import start_node

    os.environ.setdefault("IRONTRACE_ES_HEAP", BENCH_ES_HEAP)
    return str(stack.enter_context(start_node()).url)


def import_registry(registry: Path, env: dict[str, str]) -> float:
    """``irontrace import`` of ``registry`` into the store ``env`` names, as a user runs it; seconds taken."""
    started = time.perf_counter()
    imported = subprocess.run([str(BIN / "irontrace"), "import", str(registry)], env={**os.environ, **env},
                              capture_output=True, text=True)
    if imported.returncode != 0:
        raise SystemExit(f"import failed: {imported.stdout}\n{imported.stderr[-2000:]}")
    return time.perf_counter() - started


def imported_store(backend: str, reports: int, workdir: Path, registry: Path,
                   stack: ExitStack) -> tuple[dict[str, str], dict]:
    """The IRONTRACE_* settings of ``registry`` imported into ``backend``, importing it unless a run before
    did in ``workdir``, and the timing of the import that did it.

    Every benchmark of a workdir shares one store (``sqlite-<N>.db``, or indices ``bench-<N>-*``), so
    the engine and bulk benchmarks of a million reports import them once.
    """
    if backend == "sqlite":
        env = {"IRONTRACE_DB": str(workdir / f"sqlite-{reports}.db")}
    else:
        env = {"IRONTRACE_ES_URL": elasticsearch_url(stack), "IRONTRACE_ES_INDEX_PREFIX": f"bench-{reports}",
               "IRONTRACE_ES_TIMEOUT_SECONDS": "120",
               "IRONTRACE_AUDIT_HEADS_FILE": str(workdir / f"audit-heads-{reports}.ndjson")}
    marker = workdir / f"{backend}-{reports}.ready"
    if marker.exists():
        return env, json.loads(marker.read_text() or "{}")
    seconds = import_registry(registry, env)
    timing = {"import_seconds": round(seconds, 1), "import_reports_per_second": round(reports / seconds)}
    marker.write_text(json.dumps(timing))
    return env, timing


def http_searcher(server: Gunicorn) -> Searcher:
    """Checks over HTTP with the server's admin key (its rate limit lifted: see ``UNLIMITED``)."""

    def search(reading: str) -> tuple[str | None, list[tuple[str, str]]]:
        result = server.http.post(server.url + "/v1/checks", json={"identifier": reading}, timeout=30).json()
        return result["verdict"], [(m["external_ref"], m["reporting_agency"]["name"]) for m in result["matches"]]

    return search


def child_pids(parent: int) -> list[int]:
    """The processes ``parent`` started (a gunicorn master's workers)."""
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


def index_sizes(url: str, prefix: str) -> dict[str, dict[str, float]]:
    """MB on disk of each index of a registry over 1 MB: primaries alone, and with their replicas."""
    import requests

    stats = requests.get(f"{url}/{prefix}-*/_stats/store", timeout=60).json()["indices"]
    return {name: {"primaries_mb": round(s["primaries"]["store"]["size_in_bytes"] / 2**20),
                   "total_mb": round(s["total"]["store"]["size_in_bytes"] / 2**20)}
            for name, s in sorted(stats.items()) if s["primaries"]["store"]["size_in_bytes"] > 2**20}


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def latency_summary(latencies_ms: list[float]) -> dict[str, float]:
    return {
        "p50": round(percentile(latencies_ms, 0.50), 2),
        "p90": round(percentile(latencies_ms, 0.90), 2),
        "p99": round(percentile(latencies_ms, 0.99), 2),
        "max": round(max(latencies_ms), 2),
        "mean": round(statistics.fmean(latencies_ms), 2),
    }


# A searcher takes a reading and answers (verdict or None, [(external_ref, agency), ...] best first).
Searcher = Callable[[str], tuple[str | None, list[tuple[str, str]]]]


def evaluate(search: Searcher, queries: list[dict], never_reported: list[str]) -> dict:
    """Latency, top-1 accuracy per kind, and false matches on serials never reported: hits, alarms
    (``possible_match``) and any answer with matches at all (similar serials included)."""
    for query in queries[:WARMUP_QUERIES]:
        search(query["reading"])
    latencies, right = [], []
    for query in queries:
        started = time.perf_counter()
        _, ranked = search(query["reading"])
        latencies.append((time.perf_counter() - started) * 1000)
        right.append((query["kind"], bool(ranked) and ranked[0] == (query["external_ref"], query["agency"])))
    false_hits = false_alarms = answered = 0
    for serial in never_reported:
        verdict, ranked = search(serial)
        if verdict == "hit":
            false_hits += 1
        elif ranked:
            answered += 1
            false_alarms += verdict == "possible_match"
    by_kind = {kind: round(sum(ok for k, ok in right if k == kind) / max(1, sum(k == kind for k, _ in right)), 3)
               for kind in CORRUPTION_KINDS}
    return {
        "queries": len(queries),
        "check_latency_ms": latency_summary(latencies),
        "top1_accuracy": round(sum(ok for _, ok in right) / len(right), 3),
        "top1_accuracy_by_kind": by_kind,
        "unregistered_queries": len(never_reported),
        "false_hits": false_hits,
        "false_alarms": false_alarms,
        "answered_with_matches": answered,
    }


def run_and_print(parser: ArgumentParser, run: Callable[..., dict], markdown: Callable[[dict], str]) -> None:
    """Run a benchmark with its parsed arguments; print the JSON result and, with ``--markdown``,
    the section for bench/RESULTS.md."""
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, indent=2))
    if args.markdown:
        print(markdown(result))
