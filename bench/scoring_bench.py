"""Benchmark: what scoring and screening cost per candidate, and what they leave of a bulk check.

    python bench/scoring_bench.py --reports 30000 --rows 5000 --workdir /tmp/irontrace-scoring-bench
    python bench/scoring_bench.py --profile    # also a cProfile of ranking one check with ~20 candidates

Imports a generated registry (``registry.demo``) into the embedded engine
(reused from ``--workdir``), then decides a dealer's inventory in-process in
batches of 500, as a bulk job's worker does (``CheckService.decide``; 5%
registered identifiers as registered, 5% damaged the ways plates are
misread, the rest serials never reported).  While it decides, the pairs the
engine screens (``reaches_any``), compares (``compare``) and aligns
(``align``) are recorded; each is then timed alone over exactly those pairs.
Prints JSON, and with ``--markdown`` the rows for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import sys
import time
from pathlib import Path

from workload import QUERY_SEED, ROOT, machine, run_and_print, strangers

sys.path.insert(0, str(ROOT))
import registry.storage.sqlite.candidates as sqlite_candidates  # noqa: E402
import search.matching as matching  # noqa: E402
import search.scoring as scoring  # noqa: E402
from registry.access import Actor  # noqa: E402
from registry.config import load_settings  # noqa: E402
from registry.demo import corrupted_readings, generate_reports  # noqa: E402
from registry.services import open_services  # noqa: E402
from search.query import CheckQuery  # noqa: E402

OPERATOR = Actor.operator()
SEED = 13
BATCH = 500  # rows a bulk worker decides together
PROFILED_CANDIDATES = 20  # the check profiled has about this many candidates


def build_registry(path: Path, count: int) -> list[dict]:
    """The generated reports, imported into ``path`` unless it exists already."""
    reports = list(generate_reports(count, SEED))
    if not path.exists():
        services = open_services(load_settings({"DB": str(path)}))
        try:
            services.imports.import_rows(OPERATOR, enumerate(reports, start=1))
        finally:
            services.close()
    return reports


def inventory(reports: list[dict], rows: int) -> list[str]:
    """A dealer's readings: 5% as registered, 5% damaged, the rest never reported, shuffled."""
    rng = random.Random(QUERY_SEED)
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    registered = rows // 10
    exact = [rng.choice(rng.choice(active)["identifiers"])["value"] for _ in range(registered // 2)]
    damaged = [q["reading"] for q in corrupted_readings(active, registered - len(exact), rng)]
    readings = exact + damaged + strangers(rows - registered, SEED)
    rng.shuffle(readings)
    return readings


def decide_all(services, readings: list[str]) -> tuple[float, list]:
    """Seconds to decide every reading in batches, and the outcomes."""
    queries = [CheckQuery(identifier=r, reading_source="copied") for r in readings]
    started = time.perf_counter()
    outcomes = []
    for start in range(0, len(queries), BATCH):
        outcomes.extend(d.outcome for d in services.checks.decide(OPERATOR, queries[start:start + BATCH]))
    return time.perf_counter() - started, outcomes


class Recorder:
    """Wraps the scoring entry points the engine calls, keeping their arguments."""

    def __init__(self) -> None:
        self.screened: list[tuple[str, list[str]]] = []
        self.compared: list[tuple[scoring.Reading, str, str]] = []
        self.aligned: list[tuple[str, str]] = []
        self.ranked: list[tuple[CheckQuery, list]] = []

    def __enter__(self) -> Recorder:
        self.saved = (sqlite_candidates.reaches_any, matching.compare, scoring.align, matching.rank)
        originals = self.saved

        def reaches_any(query_skeleton, record_skeletons):
            record_skeletons = list(record_skeletons)
            self.screened.append((query_skeleton, record_skeletons))
            return originals[0](query_skeleton, record_skeletons)

        def compare(reading, value, record_type="other"):
            self.compared.append((reading, value, record_type))
            return originals[1](reading, value, record_type)

        def align(q, r):
            self.aligned.append((q, r))
            return originals[2](q, r)

        sqlite_candidates.reaches_any, matching.compare, scoring.align = reaches_any, compare, align
        return self

    def __exit__(self, *exc) -> None:
        sqlite_candidates.reaches_any, matching.compare, scoring.align, _ = self.saved


def per_call_us(function, calls: list[tuple], repeat: int = 3) -> float:
    """Best of ``repeat`` passes over ``calls``, in microseconds per call."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for args in calls:
            function(*args)
        best = min(best, time.perf_counter() - started)
    return round(best / max(1, len(calls)) * 1e6, 2)


def profile_rank(services, readings: list[str]) -> str:
    """cProfile of ``rank`` for a check with about PROFILED_CANDIDATES candidates, 200 times."""
    captured = []
    original = matching.rank

    def rank(query, candidates, *args):
        candidates = list(candidates)
        captured.append((query, candidates, args))
        return original(query, candidates, *args)

    import registry.services.checks as checks
    checks.rank = rank
    try:
        for reading in readings[:2000]:
            services.checks.decide(OPERATOR, [CheckQuery(identifier=reading, reading_source="copied")])
            if captured and len(captured[-1][1]) >= PROFILED_CANDIDATES:
                break
    finally:
        checks.rank = original
    query, candidates, args = max(captured, key=lambda c: min(len(c[1]), PROFILED_CANDIDATES))
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(200):
        original(query, candidates, *args)
    profiler.disable()
    out = io.StringIO()
    out.write(f"reading {query.identifier!r}, {len(candidates)} candidates, 200 rankings\n")
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(18)
    return out.getvalue()


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    reports = build_registry(workdir / f"registry-{args.reports}.db", args.reports)
    readings = inventory(reports, args.rows)
    services = open_services(load_settings({"DB": str(workdir / f"registry-{args.reports}.db")}))
    try:
        decide_all(services, readings[:BATCH])  # warm: page cache, first calls
        with Recorder() as recorded:
            decide_all(services, readings)
        seconds, outcomes = decide_all(services, readings)
        profile = profile_rank(services, readings) if args.profile else None
    finally:
        services.close()
    verdicts: dict[str, int] = {}
    for outcome in outcomes:
        verdicts[outcome.verdict] = verdicts.get(outcome.verdict, 0) + 1
    result = {
        "machine": machine(), "load_average": [round(x, 2) for x in os.getloadavg()],
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "reports": args.reports, "rows": len(readings), "verdicts": verdicts,
        "bulk_rows_per_second": round(len(readings) / seconds),
        "screened_reports": len(recorded.screened),
        "screen_us_per_report": per_call_us(scoring.reaches_any, recorded.screened),
        "compared_pairs": len(recorded.compared),
        "compare_us_per_pair": per_call_us(scoring.compare, recorded.compared),
        "aligned_pairs": len(recorded.aligned),
        "align_us_per_pair": per_call_us(scoring.align, recorded.aligned),
    }
    if profile:
        print(profile, file=sys.stderr)
    return result


def markdown(result: dict) -> str:
    return "\n".join([
        f"{result['date']}, load average {result['load_average']}, {result['machine']}",
        "",
        "| | per call | calls in the run |",
        "| --- | --- | --- |",
        f"| `reaches_any` (screen one candidate report) | {result['screen_us_per_report']} µs "
        f"| {result['screened_reports']:,} |",
        f"| `compare` (one reading, one identifier) | {result['compare_us_per_pair']} µs "
        f"| {result['compared_pairs']:,} |",
        f"| `align` (pairs that reach the alignment) | {result['align_us_per_pair']} µs "
        f"| {result['aligned_pairs']:,} |",
        f"| bulk check in-process, {result['reports']:,} reports, {result['rows']:,} rows "
        f"| {result['bulk_rows_per_second']:,} rows/s | |",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=30_000)
    parser.add_argument("--rows", type=int, default=5_000)
    parser.add_argument("--workdir", default="/tmp/irontrace-scoring-bench")
    parser.add_argument("--profile", action="store_true")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
