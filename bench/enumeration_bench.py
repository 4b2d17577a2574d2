"""Benchmark: how much of the registry one key learns in a day, at full size, per role.

    python bench/enumeration_bench.py [--backend sqlite|elasticsearch]

Loads the demo registry (``irontrace demo``), serves it with gunicorn as
deployed (default limits), and runs issue 12's attacks in full, each from a
fresh key: every 6-digit tail (000000-999999) as one bulk-check job, the tails
through ``/v1/checks/bulk`` until the service refuses, growing the tails of
eight registered identifiers, and a sweep of the identifier families that
two tolerated typos would cover (``registry.demo.enumeration``); as a dealer,
then as a border officer (who is shown tails and typos, and has a larger
quota, so its attacks are held to a dealer's day of rows, and the one-job
attack, which it is allowed, is not run) for comparison.  The target: a
dealer key learns at most 1% of the case references.  On Elasticsearch,
``IRONTRACE_ES_URL`` names the cluster.  Prints the table for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import requests
from elasticsearch import Elasticsearch
from workload import machine

from registry.demo import demo_reports
from registry.demo.enumeration import (
    Attacker,
    Refused,
    covering_sweep,
    csv_file,
    families_worth_sweeping,
    grow_tails,
    tail_sweep,
)
from search.normalize import normalize
from tests.processes import Gunicorn, irontrace

ALL_TAILS = 1_000_000
DAY_OF_ROWS = 5000  # the dealer's default quota: what a sweep is sized to


def new_key(env: dict[str, str], role: str) -> str:
    created = irontrace("keys", "create", "--role", role, env=env)
    return created.stdout.strip().splitlines()[-1]


def alerts(server: Gunicorn, key: str) -> int:
    params = {"action": "alert.scanning", "subject": key.split("_")[1]}
    return len(server.http.get(server.url + "/v1/audit", params=params, timeout=60).json()["items"])


def one_job_of_every_tail(attacker: Attacker, reports: list[dict]) -> None:
    answer = requests.post(attacker.url + "/v1/bulk-checks", data=csv_file(tail_sweep(0, ALL_TAILS)),
                           headers=attacker.headers, timeout=3600)
    if answer.status_code != 202:
        raise Refused(answer.status_code, answer.json())


def seeds(reports: list[dict]) -> list[str]:
    return [normalize(r["identifiers"][0]["value"])[-6:] for r in reports[1:400:50]]


# Each attack with the rows it may send: all it wants (a dealer: its quota stops it), or a dealer's day.
ATTACKS: dict[str, Callable[[Attacker, list[dict], int], object]] = {
    "every 6-digit tail as one job": lambda a, reports, rows: one_job_of_every_tail(a, reports),
    "the tails through /v1/checks/bulk": lambda a, reports, rows: a.ask(tail_sweep(0, rows)),
    "growing 8 tails a character at a time": lambda a, reports, rows: grow_tails(a.ask, seeds(reports)),
    "a sweep two typos would make cover 5 families": lambda a, reports, rows: a.ask(
        covering_sweep(families_worth_sweeping(reports, 5), DAY_OF_ROWS // 5)),
}
DEALER_ONLY = ("every 6-digit tail as one job",)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch"), default="sqlite")
    parser.add_argument("--roles", default="dealer,border")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average {os.getloadavg()[0]:.1f}")
    reports = demo_reports()
    total = len({(r["reporting_agency"]["name"], r["external_ref"]) for r in reports})
    with tempfile.TemporaryDirectory() as workdir:
        if args.backend == "sqlite":
            env = {"IRONTRACE_DB": str(Path(workdir) / "enumeration.db")}
        else:
            prefix = f"enumbench-{uuid.uuid4().hex[:8]}"
            env = {"IRONTRACE_ES_URL": os.environ["IRONTRACE_ES_URL"], "IRONTRACE_ES_INDEX_PREFIX": prefix}
        env["IRONTRACE_AUDIT_HEADS_FILE"] = str(Path(workdir) / "heads.ndjson")
        assert irontrace("demo", env=env).returncode == 0
        try:
            with Gunicorn(env, workers=2) as server:
                print(f"\n{args.backend}, demo registry: {total} case references (1% = {total // 100})\n")
                print("| role | attack | rows answered | refused | case references learned | share | alert | time |")
                print("| --- | --- | --- | --- | --- | --- | --- | --- |")
                for role in args.roles.split(","):
                    rows = ALL_TAILS if role == "dealer" else DAY_OF_ROWS
                    for name, attack in ATTACKS.items():
                        if name in DEALER_ONLY and role != "dealer":
                            continue
                        key = new_key(env, role)
                        attacker = Attacker(server.url, key)
                        started = time.perf_counter()
                        with suppress(Refused):
                            attack(attacker, reports, rows)
                        learned = len(attacker.learned())
                        refused = attacker.refusals[0].status if attacker.refusals else "-"
                        print(f"| {role} | {name} | {attacker.rows_sent:,} | {refused} | {learned} | "
                              f"{learned / total:.1%} | {'yes' if alerts(server, key) else 'no'} | "
                              f"{time.perf_counter() - started:.0f} s |", flush=True)
        finally:
            if args.backend == "elasticsearch":
                with Elasticsearch(env["IRONTRACE_ES_URL"]) as es:
                    es.indices.delete(index=",".join(es.indices.get(index=f"{env['IRONTRACE_ES_INDEX_PREFIX']}-*")))


if __name__ == "__main__":
    main()
