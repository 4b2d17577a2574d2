"""Profile: where a single check's time goes, in process (cProfile), on an imported registry.

    python bench/check_profile.py --db bench/out/sqlite-100000.db --registry bench/out/registry-100000.ndjson
    python bench/check_profile.py --es-url http://127.0.0.1:9260 --es-prefix bench-1000000 \\
        --registry W/registry-1000000.ndjson

Sends ``--checks`` checks of corrupted readings (``bench/workload.py``) through the
whole app (Flask's test client: routing, key authentication, rate limit, request
validation, the check service, the response) with an admin key of its own, under
cProfile, and splits the time per check into the stages the issue names by the
cumulative time of the function that does each one.  Stages nest in the code
(the audit entry is appended inside the check record's transaction), so each is
given apart from those inside it.  Prints JSON, and the 25 functions that take
the most time of their own.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import time
from pathlib import Path

from workload import UNLIMITED, WARMUP_QUERIES, build_queries, run_and_print

from registry import create_app
from registry.access import ADMIN, Actor
from registry.api.extension import EXTENSION_KEY

# stage: the functions (module path ending, name) whose cumulative time is the stage's, on either engine
STAGES: dict[str, tuple[tuple[str, str], ...]] = {
    "before the view (address block, other hooks)": (("flask/app.py", "preprocess_request"),),
    "authentication (key lookup)": (("registry/api/security.py", "_authenticate"),),
    "rate limit (shared counter)": (("registry/services/usage.py", "throttle"),),
    "daily rows (quota counter)": (("registry/services/usage.py", "charge"),),
    "request validation (webargs, schema)": (("webargs/core.py", "parse"),),
    "query keys": (("search/keys.py", "query_keys"),),
    "retrieval (candidates from the engine)": (("registry/storage/sqlite/candidates.py", "find_candidates_many"),
                                               ("registry/storage/elasticsearch/candidates.py",
                                                "find_candidates_many")),
    "screening and scoring (rank)": (("search/matching.py", "rank"),),
    "check record write (transaction or requests)": (("registry/storage/sqlite/checks.py", "save"),
                                                     ("registry/storage/elasticsearch/checks.py", "save")),
    "audit entry (sealing)": (("registry/services/audit.py", "entry"),),
    "audit append (with the record)": (("registry/storage/sqlite/audit.py", "append_in"),
                                       ("registry/storage/elasticsearch/outbox.py", "_announce"),
                                       ("registry/storage/elasticsearch/outbox.py", "_complete")),
    "answer (to_dict, explanations)": (("registry/services/results.py", "to_dict"),),
    "response serialization (schema dump)": (("marshmallow/schema.py", "dump"),),
    "check record terms (reading_terms)": (("search/keys.py", "reading_terms"),),
    "webhook events of the matches": (("registry/services/checks.py", "_matched_events"),),
    "after the view (headers, request log, metrics)": (("flask/app.py", "process_response"),),
}
WHOLE_REQUEST = (("flask/app.py", "wsgi_app"),)  # what the server spends; the test client's own work is left out
NESTED = {  # stage: the stages inside it
    "before the view (address block, other hooks)": ("authentication (key lookup)", "rate limit (shared counter)"),
    "check record write (transaction or requests)": ("audit append (with the record)",),
}


def cumulative_ms(stats: pstats.Stats, where: tuple[tuple[str, str], ...]) -> float:
    return sum(entry[3] for (file, _, function), entry in stats.stats.items()  # type: ignore[attr-defined]
               if any(function == name and file.endswith(path) for path, name in where)) * 1000


def run(args: argparse.Namespace) -> dict:
    store = ({"ES_URL": args.es_url, "ES_INDEX_PREFIX": args.es_prefix, "AUDIT_HEADS_FILE": args.es_heads_file}
             if args.es_url else {"DB": args.db})
    app = create_app({**store, **{k.removeprefix("IRONTRACE_"): int(v) for k, v in UNLIMITED.items()}})
    key, _ = app.extensions[EXTENSION_KEY].keys.create(Actor.operator(), ADMIN, None)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {key}"}
    readings = [q["reading"] for q in build_queries(Path(args.registry), WARMUP_QUERIES + args.checks)]
    for reading in readings[:WARMUP_QUERIES]:
        client.post("/v1/checks", json={"identifier": reading}, headers=headers)
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    for reading in readings[WARMUP_QUERIES:]:
        assert client.post("/v1/checks", json={"identifier": reading}, headers=headers).status_code == 200
    profile.disable()
    wall_ms = (time.perf_counter() - started) * 1000 / args.checks
    stats = pstats.Stats(profile)
    total_ms = cumulative_ms(stats, WHOLE_REQUEST) / args.checks
    stages = {stage: cumulative_ms(stats, where) / args.checks for stage, where in STAGES.items()}
    for outer, inner in NESTED.items():
        stages[outer] -= sum(stages[stage] for stage in inner)
    stages["everything else (Flask dispatch, routing, response JSON)"] = total_ms - sum(stages.values())
    listing = io.StringIO()
    pstats.Stats(profile, stream=listing).sort_stats("tottime").print_stats(25)
    return {"checks": args.checks, "load_average": os.getloadavg(), "wall_ms_per_check_profiled": round(wall_ms, 2),
            "profiled_ms_per_check": round(total_ms, 2),
            "stages_ms_per_check": {stage: round(ms, 3) for stage, ms in stages.items()},
            "stages_share": {stage: f"{ms / total_ms:.0%}" for stage, ms in stages.items()},
            "top_functions": listing.getvalue().splitlines()}


def markdown(result: dict) -> str:
    shares = result["stages_share"]
    rows = [f"| {stage} | {ms} | {shares[stage]} |" for stage, ms in result["stages_ms_per_check"].items()]
    return "\n".join([f"{result['checks']} checks in process, {result['profiled_ms_per_check']} ms a check under "
                      f"cProfile (load average {result['load_average'][0]:.1f})", "",
                      "| stage | ms per check | share |", "| --- | --- | --- |", *rows, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    store = parser.add_mutually_exclusive_group(required=True)
    store.add_argument("--db", help="an imported registry (bench/engine_bench.py leaves one)")
    store.add_argument("--es-url", help="an Elasticsearch node holding an imported registry")
    parser.add_argument("--es-prefix", default="irontrace", help="its indices' prefix")
    parser.add_argument("--es-heads-file", default=None, help="its audit heads file (AUDIT_HEADS_FILE)")
    parser.add_argument("--registry", required=True, help="the NDJSON it was imported from (for the readings)")
    parser.add_argument("--checks", type=int, default=500)
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
