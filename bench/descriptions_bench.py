"""Benchmark: description checks in Russian, Kazakh and English: accuracy on a labelled set, latency at scale.

    python bench/descriptions_bench.py --workdir W prepare [--reports 5000 --queries 600]
                                                           [--latency-reports 1000000 --latency-queries 2000]
    python bench/descriptions_bench.py --workdir W measure [--backend sqlite|elasticsearch] [--markdown]

``prepare`` writes, with ``registry.demo``, a labelled registry (reports
described in ru, kk and en) and queries paraphrasing its active reports: half
in the description's language, half in another, each naming 2-4 attributes
(colour, maker, model, kind of machine, equipment, marks) that no other active
report shares all of, with other word forms than the description's.  With
``--latency-reports`` it also writes a large registry and paraphrases of its
reports (2-4 attributes, no uniqueness: they time checks, they do not grade
them).

``measure`` imports each registry with ``irontrace import``, serves it with
gunicorn and sends every query as ``POST /v1/checks {"description": ...}``,
one at a time.  It reads only the files ``prepare`` wrote, so the same
labelled set can be measured with another version of the code: run this
script from that version's tree (``measure`` imports nothing from
``registry.demo``).  Same-language queries are right when their report
is first; cross-language ones when it is in the first five.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from workload import ROOT, UNLIMITED, latency_summary, machine, run_and_print

WARMUP = 100
SEED = 23
TOP_CROSS = 5


def prepare(args: argparse.Namespace, workdir: Path) -> dict:
    from registry.demo.reports import described_reports, description_queries, labelled_registry, paraphrase_query
    from registry.demo.text import attributes

    workdir.mkdir(parents=True, exist_ok=True)
    registry = labelled_registry(args.reports, SEED)
    _write(workdir / "labelled.ndjson", registry.reports)
    _write(workdir / "labelled-queries.ndjson", description_queries(registry, args.queries, random.Random(SEED)))
    prepared = {"labelled_reports": args.reports, "labelled_queries": args.queries}
    if args.latency_reports:
        rng, sample, active = random.Random(SEED + 1), [], 0
        with (workdir / "large.ndjson").open("w", encoding="utf-8") as out:
            for report, facts, language in described_reports(args.latency_reports, SEED + 1):
                out.write(json.dumps(report, ensure_ascii=False) + "\n")
                if report["status"] in ("stolen", "missing"):  # reservoir sample of active reports
                    active += 1
                    if len(sample) < args.latency_queries:
                        sample.append((report, facts, language))
                    elif (slot := rng.randrange(active)) < args.latency_queries:
                        sample[slot] = (report, facts, language)
        queries = []
        for n, (report, facts, language) in enumerate(sample):
            named = attributes(facts)
            named = rng.sample(named, rng.randint(2, min(4, len(named))))
            queries.append(paraphrase_query(report, facts, language, named, n % 2 == 0, rng))
        _write(workdir / "large-queries.ndjson", queries)
        prepared.update(latency_reports=args.latency_reports, latency_queries=len(queries))
    (workdir / "prepared.json").write_text(json.dumps(prepared))
    return prepared


def measure(args: argparse.Namespace, workdir: Path) -> dict:
    from tests.processes import Gunicorn

    prepared = json.loads((workdir / "prepared.json").read_text())
    result: dict = {"backend": args.backend, "machine": machine(), "code": str(ROOT), **prepared}
    for name in ("labelled", "large"):
        if not (workdir / f"{name}.ndjson").exists():
            continue
        with ExitStack() as stack:
            env = _storage_env(args, workdir, name)
            started = time.perf_counter()
            imported = subprocess.run([str(_bin() / "irontrace"), "import", str(workdir / f"{name}.ndjson")],
                                      env={**os.environ, **env}, capture_output=True, text=True)
            if imported.returncode != 0:
                raise SystemExit(f"import failed: {imported.stdout[-2000:]}\n{imported.stderr[-2000:]}")
            seconds = time.perf_counter() - started
            server = stack.enter_context(Gunicorn({**env, **UNLIMITED}, workers=args.workers))
            queries = [json.loads(line) for line in (workdir / f"{name}-queries.ndjson").open(encoding="utf-8")]
            result[name] = {"import_seconds": round(seconds, 1), **_ask(server, queries)}
    return result


def _ask(server, queries: list[dict]) -> dict:
    def check(text: str) -> list[tuple[str, str]]:
        answer = server.http.post(server.url + "/v1/checks", json={"description": text}, timeout=60)
        answer.raise_for_status()
        return [(m["external_ref"], m["reporting_agency"]["name"]) for m in answer.json()["matches"]]

    for query in queries[:WARMUP]:
        check(query["text"])
    latencies, graded = [], {}
    for query in queries:
        started = time.perf_counter()
        ranked = check(query["text"])
        latencies.append((time.perf_counter() - started) * 1000)
        wanted = (query["external_ref"], query["agency"])
        position = ranked.index(wanted) if wanted in ranked else None
        pair = f"{query['report_language']}->{query['language']}"
        right = position == 0 if query["same_language"] else position is not None and position < TOP_CROSS
        graded.setdefault(pair, []).append(right)
        graded.setdefault("same language, first" if query["same_language"] else "cross-language, top 5",
                          []).append(right)
    return {
        "queries": len(queries),
        "check_latency_ms": latency_summary(latencies),
        "right": {k: round(sum(v) / len(v), 3) for k, v in sorted(graded.items())},
        "counts": {k: len(v) for k, v in sorted(graded.items())},
    }


def _storage_env(args: argparse.Namespace, workdir: Path, name: str) -> dict[str, str]:
    if args.backend == "sqlite":
        db = workdir / f"{name}-{uuid.uuid4().hex[:6]}.db"
        return {"IRONTRACE_DB": str(db)}
    return {"IRONTRACE_ES_URL": os.environ["IRONTRACE_ES_URL"],
            "IRONTRACE_ES_INDEX_PREFIX": f"bench-desc-{uuid.uuid4().hex[:8]}"}


def _bin() -> Path:
    import sys

    return Path(sys.executable).parent


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def markdown(result: dict) -> str:
    lines = [f"### descriptions, {result['backend']} ({result['code']})", "", f"- machine: {result['machine']}"]
    for name, title in (("labelled", f"labelled set, {result.get('labelled_reports', 0):,} reports"),
                        ("large", f"latency, {result.get('latency_reports', 0):,} reports")):
        if name not in result:
            continue
        outcome = result[name]
        lat = outcome["check_latency_ms"]
        lines.append(f"- {title}: import {outcome['import_seconds']} s; {outcome['queries']} checks, "
                     f"p50 {lat['p50']} ms, "
                     f"p90 {lat['p90']} ms, p99 {lat['p99']} ms, max {lat['max']} ms")
        lines += [f"  - {k}: {v:.1%} of {outcome['counts'][k]}" for k, v in outcome["right"].items()]
    return "\n".join(lines + [""])


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    return prepare(args, workdir) if args.step == "prepare" else measure(args, workdir)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("step", choices=("prepare", "measure"))
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--queries", type=int, default=600)
    parser.add_argument("--latency-reports", type=int, default=0)
    parser.add_argument("--latency-queries", type=int, default=2000)
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch"), default="sqlite")
    parser.add_argument("--workers", type=int, default=2)
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
