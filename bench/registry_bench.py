"""Benchmark: import rate, single-check latency over HTTP, accuracy on corrupted readings.

    python bench/registry_bench.py --reports 100000                      # embedded SQLite
    python bench/registry_bench.py --reports 100000 --backend elasticsearch

Generates a realistic registry, imports it with ``irontrace import``, serves
it with gunicorn and sends one check at a time over HTTP (``bench/workload.py``
says what is measured).  On Elasticsearch it also measures, on the same data
and readings, the baseline a typical team would write: a ``fuzzy`` query with
``fuzziness: AUTO`` on a keyword field holding the raw identifiers.  It
starts its own Elasticsearch node (``scripts/es_node.py``) unless
``IRONTRACE_ES_URL`` names one.  Prints JSON, and with ``--markdown`` the
section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from elasticsearch import Elasticsearch, helpers
from workload import (
    UNLIMITED,
    build_queries,
    child_pids,
    elasticsearch_url,
    evaluate,
    http_searcher,
    import_registry,
    machine,
    run_and_print,
    strangers,
    write_registry,
)

from tests.processes import Gunicorn

BASELINE_BATCH = 5000


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def storage_env(args: argparse.Namespace, workdir: Path, stack: ExitStack) -> dict[str, str]:
    """IRONTRACE_* settings for the chosen backend; starts an Elasticsearch node if needed."""
    if args.backend == "sqlite":
        db = workdir / f"bench-{args.reports}.db"
        for old in workdir.glob(db.name + "*"):
            old.unlink()
        return {"IRONTRACE_DB": str(db)}
    return {"IRONTRACE_ES_URL": elasticsearch_url(stack), "IRONTRACE_ES_INDEX_PREFIX": f"bench-{uuid.uuid4().hex[:8]}"}


def load_baseline(es: Elasticsearch, index: str, registry: Path) -> float:
    """The plain approach: raw identifier values in a keyword field.  Returns seconds taken."""
    es.indices.create(index=index, mappings={"properties": {
        "identifiers": {"type": "keyword"}, "external_ref": {"type": "keyword"}, "agency": {"type": "keyword"},
    }}, settings={"number_of_shards": 1, "number_of_replicas": 0})
    started = time.perf_counter()

    def actions():
        with registry.open(encoding="utf-8") as source:
            for report in map(json.loads, source):
                yield {"_index": index, "_source": {
                    "identifiers": [i["value"] for i in report["identifiers"]],
                    "external_ref": report["external_ref"],
                    "agency": report["reporting_agency"]["name"],
                }}

    helpers.bulk(es.options(request_timeout=120), actions(), chunk_size=BASELINE_BATCH)
    es.indices.refresh(index=index)
    return time.perf_counter() - started


def baseline_searcher(es: Elasticsearch, index: str):
    def search(reading: str):
        hits = es.search(index=index, size=10, query={"fuzzy": {"identifiers": {
            "value": reading, "fuzziness": "AUTO"}}})["hits"]["hits"]
        return None, [(h["_source"]["external_ref"], h["_source"]["agency"]) for h in hits]

    return search


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="irontrace-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    registry = workdir / f"registry-{args.reports}.ndjson"
    generation_seconds = write_registry(registry, args.reports, args.seed)
    queries = build_queries(registry, args.queries)
    never_reported = strangers(args.strangers, args.seed)
    result: dict = {"backend": args.backend, "reports": args.reports, "machine": machine(),
                    "generation_seconds": round(generation_seconds, 1)}

    with ExitStack() as stack:
        env = storage_env(args, workdir, stack)
        import_seconds = import_registry(registry, env)
        result["import_seconds"] = round(import_seconds, 1)
        result["import_reports_per_second"] = round(args.reports / import_seconds)
        if args.backend == "sqlite":
            result["database_mb"] = round(sum(p.stat().st_size for p in workdir.glob("bench-*.db*")) / 2**20)

        with Gunicorn({**env, **UNLIMITED}, workers=args.workers) as server:
            result["irontrace"] = evaluate(http_searcher(server), queries, never_reported)
            rss = [rss_mb(pid) for pid in child_pids(server.process.pid)]
            result["worker_rss_mb"] = round(max(rss), 1) if rss else None
        result["gunicorn_workers"] = args.workers

        if args.backend == "elasticsearch":
            es = Elasticsearch(env["IRONTRACE_ES_URL"], request_timeout=60)
            index = env["IRONTRACE_ES_INDEX_PREFIX"] + "-baseline"
            result["baseline_load_seconds"] = round(load_baseline(es, index, registry), 1)
            result["baseline"] = evaluate(baseline_searcher(es, index), queries, never_reported)
            stats = es.indices.stats(index=env["IRONTRACE_ES_INDEX_PREFIX"] + "-*")["indices"]
            result["index_mb"] = {name: round(s["total"]["store"]["size_in_bytes"] / 2**20)
                                  for name, s in stats.items()}
    return result


def markdown(result: dict) -> str:
    def measured(name: str, outcome: dict) -> list[str]:
        lat = outcome["check_latency_ms"]
        kinds = ", ".join(f"{k} {v:.0%}" for k, v in outcome["top1_accuracy_by_kind"].items())
        return [
            f"- {name}: single check p50 {lat['p50']} ms, p90 {lat['p90']} ms, p99 {lat['p99']} ms, "
            f"max {lat['max']} ms ({outcome['queries']} sequential checks)",
            f"  - top-1 accuracy on corrupted readings: {outcome['top1_accuracy']:.1%} ({kinds})",
            f"  - {outcome['unregistered_queries']} serials never reported: {outcome['false_hits']} false hits, "
            f"{outcome['false_alarms']} possible matches (alarms), {outcome['answered_with_matches']} answered "
            f"with matches",
        ]

    lines = [
        f"### {result['reports']:,} reports, {result['backend']}",
        "",
        f"- machine: {result['machine']}",
        f"- import: {result['import_reports_per_second']:,} reports/s ({result['import_seconds']} s, "
        "`irontrace import` of NDJSON)"
        + (f"; database {result['database_mb']} MB" if "database_mb" in result else ""),
        *measured(f"IronTrace over HTTP (gunicorn, {result['gunicorn_workers']} workers)", result["irontrace"]),
        f"- serving worker resident memory: {result['worker_rss_mb']} MB",
    ]
    if "baseline" in result:
        lines += measured("baseline `fuzzy` query, `fuzziness: AUTO`, raw keyword field (client to "
                          "Elasticsearch, no HTTP service in front)", result["baseline"])
        lines.append(f"- index sizes (MB): {result['index_mb']}")
    return "\n".join(lines + [""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch"), default="sqlite")
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--strangers", type=int, default=500, help="serials never reported")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", help="keep files here (default: a new temp dir)")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
