"""Benchmark: the rows of issue 13 for one engine, over HTTP, with the floor beside them.

    python bench/engine_bench.py --reports 100000 --markdown
    IRONTRACE_ES_URL=http://127.0.0.1:9250 python bench/engine_bench.py --reports 100000 \\
        --backend elasticsearch --markdown

Imports the generated registry with ``irontrace import`` (unless ``--workdir``
already holds it: the import is timed once), serves it with gunicorn as the
README does (``gunicorn.conf.py``, ``--workers``) and measures, in one run:

- the floor: an empty authenticated request (``GET /v1/sources`` with no
  external source configured: key check, rate limit, JSON answer), one after
  the other, before and after the checks;
- single checks, one after the other, on corrupted readings and serials never
  reported (``bench/workload.py``): latency, top-1 accuracy kind by kind,
  false hits;
- throughput: ``wrk`` (Debian's package, C, in a process of its own) with 8
  keep-alive connections for ``--seconds``, each request a check of the next
  reading of the same list: checks/s, p50, p99, and every answer that was not
  200 by status, plus socket errors;
- the private memory (Private_Clean + Private_Dirty) of every serving process;
- the size of the database file, or of the Elasticsearch indices;
- a bulk check of ``--bulk-rows`` (``bench/bulk_bench.py``'s dealer inventory,
  one ``irontrace worker --processes --bulk-processes``), after the server.

Elasticsearch: the node ``IRONTRACE_ES_URL`` names, else one started for the
run (``workload.BENCH_ES_HEAP``); the store is ``workload.imported_store``'s,
shared with ``bench/bulk_bench.py``.  Prints JSON, and with ``--markdown`` a
section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

from bulk_bench import BATCH_SIZE, REGISTERED_SHARE, inventory, job_env, run_job
from workload import (
    ROOT,
    UNLIMITED,
    build_queries,
    child_pids,
    evaluate,
    generated_registry,
    http_searcher,
    imported_store,
    index_sizes,
    latency_summary,
    machine,
    run_and_print,
    strangers,
)

from tests.processes import Gunicorn

FLOOR_REQUESTS = 2000
WRK_CONNECTIONS = 8
WRK_THREADS = 2
WRK_TIMEOUT = "10s"
# Each request checks the next reading; every status is counted (a summary's non-2xx alone says not why).
WRK_SCRIPT = r"""
local readings = {}
for line in io.lines(os.getenv("READINGS")) do readings[#readings + 1] = line end
local n = 0
statuses = {}  -- global: done() reads each thread's copy
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("KEY")
request = function()
  n = n + 1
  return wrk.format(nil, "/v1/checks", nil, '{"identifier": "' .. readings[(n % #readings) + 1] .. '"}')
end
response = function(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end
setup = function(thread) table.insert(threads, thread) end
threads = {}
done = function(summary, latency, requests)
  local counted = {}
  for _, thread in ipairs(threads) do
    for status, count in pairs(thread:get("statuses")) do counted[status] = (counted[status] or 0) + count end
  end
  local parts = {}
  for status, count in pairs(counted) do parts[#parts + 1] = string.format('"%d": %d', status, count) end
  local e = summary.errors
  io.write(string.format('WRK {"requests": %d, "seconds": %.3f, "p50_ms": %.3f, "p90_ms": %.3f, ' ..
    '"p99_ms": %.3f, "max_ms": %.3f, "statuses": {%s}, "socket_errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3, latency:percentile(90) / 1e3,
    latency:percentile(99) / 1e3, latency.max / 1e3, table.concat(parts, ", "),
    e.connect + e.read + e.write + e.timeout))
end
"""


def private_mb(pid: int) -> float:
    """Memory only this process holds (pages shared with others, such as the page cache of a mapped
    file, are not counted)."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


def floor(server: Gunicorn) -> dict:
    """The cheapest authenticated request, one after the other: what any check costs at least."""
    latencies = []
    for _ in range(FLOOR_REQUESTS):
        started = time.perf_counter()
        server.http.get(server.url + "/v1/sources", timeout=30).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    return latency_summary(latencies)


def throughput(server: Gunicorn, readings: list[str], seconds: int, workdir: Path) -> dict:
    with tempfile.TemporaryDirectory(dir=workdir) as scratch:
        script, lines = Path(scratch) / "checks.lua", Path(scratch) / "readings.txt"
        script.write_text(WRK_SCRIPT)
        lines.write_text("\n".join(r.replace("\\", "").replace('"', "") for r in readings) + "\n")
        key = server.http.headers["Authorization"].removeprefix("Bearer ")
        out = subprocess.run(
            ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", WRK_TIMEOUT,
             "-s", str(script), server.url],
            env={**os.environ, "READINGS": str(lines), "KEY": key}, capture_output=True, text=True, check=True,
        ).stdout
    result = json.loads(next(line for line in out.splitlines() if line.startswith("WRK ")).removeprefix("WRK "))
    answered = result["statuses"].get("200", 0)
    result["connections"] = WRK_CONNECTIONS
    result["errors"] = result["requests"] - answered + result["socket_errors"]
    result["checks_per_second"] = round(answered / result["seconds"], 1)
    return result


def sizes(args: argparse.Namespace, workdir: Path, env: dict[str, str]) -> dict:
    if args.backend == "sqlite":
        db = Path(env["IRONTRACE_DB"])
        files = [p for p in workdir.glob(db.name + "*") if p.is_file() and not p.name.endswith(".ready")]
        return {"database_mb": round(sum(p.stat().st_size for p in files) / 2**20)}
    return {"index_mb": index_sizes(env["IRONTRACE_ES_URL"].split(",")[0], env["IRONTRACE_ES_INDEX_PREFIX"])}


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    registry = generated_registry(workdir, args.reports, args.seed)
    queries = build_queries(registry, args.queries)
    never_reported = strangers(args.strangers, args.seed)
    with ExitStack() as stack:
        env, timing = imported_store(args.backend, args.reports, workdir, registry, stack)
        result: dict = {"backend": args.backend, "reports": args.reports, "machine": machine(),
                        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                        "load_average_before": os.getloadavg(), **timing}
        result.update(sizes(args, workdir, env))
        with Gunicorn({**env, **UNLIMITED}, workers=args.workers) as server:
            result["floor_ms"] = floor(server)
            result["checks"] = evaluate(http_searcher(server), queries, never_reported)
            result["floor_after_ms"] = floor(server)
            result["throughput"] = throughput(server, [q["reading"] for q in queries] + never_reported,
                                              args.seconds, workdir)
            pids = [server.process.pid, *child_pids(server.process.pid)]
            result["private_memory_mb"] = {"total": round(sum(map(private_mb, pids))),
                                           "per_process": [round(private_mb(p)) for p in pids]}
        if args.bulk_rows:
            data, mix = inventory(registry, args.bulk_rows, REGISTERED_SHARE, args.seed)
            bulk_env = {**env, **job_env(data, args.bulk_rows, BATCH_SIZE)}
            result["bulk"] = {"rows": args.bulk_rows, "mix": mix, "processes": args.bulk_processes,
                              **run_job(bulk_env, data, args.bulk_rows, 1, args.bulk_processes, stack)}
        result["load_average_after"] = os.getloadavg()
    result["gunicorn_workers"] = args.workers
    return result


def markdown(result: dict) -> str:
    checks, load = result["checks"], result["throughput"]
    lat, fl = checks["check_latency_ms"], result["floor_ms"]
    kinds = ", ".join(f"{k} {v:.0%}" for k, v in checks["top1_accuracy_by_kind"].items())
    size = (f"database {result['database_mb']} MB" if "database_mb" in result
            else "indices (MB, primaries) " + ", ".join(f"{name} {s['primaries_mb']}"
                                                        for name, s in result["index_mb"].items()))
    loads = "/".join(f"{v:.1f}" for v in result["load_average_before"])
    return "\n".join([
        f"### {result['reports']:,} reports, {result['backend']} ({result['date']})",
        "",
        f"- machine: {result['machine']}; gunicorn {result['gunicorn_workers']} workers; load average "
        f"(1/5/15 min) {loads} before the run",
        f"- import: {result.get('import_reports_per_second', 0):,} reports/s ({result.get('import_seconds')} s); "
        f"{size}",
        f"- floor (empty authenticated request): p50 {fl['p50']} ms, p99 {fl['p99']} ms "
        f"(after the checks: p50 {result['floor_after_ms']['p50']} ms, p99 {result['floor_after_ms']['p99']} ms)",
        f"- single check over HTTP: p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms"
        f" (p50 = {lat['p50'] / fl['p50']:.1f}x the floor)",
        f"- top-1 accuracy {checks['top1_accuracy']:.1%} ({kinds}); never reported: {checks['false_hits']} false "
        f"hits, {checks['answered_with_matches']} of {checks['unregistered_queries']} answered with matches",
        f"- throughput, wrk {load['connections']} keep-alive connections, {load['seconds']:.0f} s: "
        f"**{load['checks_per_second']:,} checks/s**, p50 {load['p50_ms']} ms, p99 {load['p99_ms']} ms, "
        f"errors {load['errors']} (statuses {load['statuses']}, socket errors {load['socket_errors']})",
        f"- private memory of the serving processes: {result['private_memory_mb']['total']} MB in all "
        f"({result['private_memory_mb']['per_process']}, master first)",
        *([bulk_line(result["bulk"])] if "bulk" in result else []),
        "",
    ])


def bulk_line(bulk: dict) -> str:
    mix = bulk["mix"]
    return (f"- bulk check of {bulk['rows']:,} rows ({mix['registered_as_is']:,} registered as is, "
            f"{mix['registered_damaged']:,} damaged, {mix['never_reported']:,} never reported), one "
            f"`irontrace worker --processes {bulk['processes']}`: **{bulk['rows_per_second']:,} rows/s** "
            f"({bulk['check_seconds']} s; reading the upload {bulk['read_seconds']} s); verdicts {bulk['verdicts']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch"), default="sqlite")
    parser.add_argument("--queries", type=int, default=2000, help="corrupted readings checked one by one")
    parser.add_argument("--strangers", type=int, default=500, help="serials never reported checked one by one")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--seconds", type=int, default=30, help="of wrk's 8 concurrent clients")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=str(ROOT / "bench" / "out"))
    parser.add_argument("--bulk-rows", type=int, default=30_000, help="rows of a bulk check after the server's "
                        "figures (bench/bulk_bench.py's inventory; 0: none)")
    parser.add_argument("--bulk-processes", type=int, default=2, help="of the one irontrace worker")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
