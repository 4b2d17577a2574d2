"""Benchmark: bulk-check throughput (rows per second) of one job against a large registry.

    python bench/bulk_bench.py --reports 1000000 --rows 100000 --workdir /tmp/irontrace-bulk-bench
    python bench/bulk_bench.py --reports 100000 --rows 100000 --backend elasticsearch

Builds (or reuses, in ``--workdir``) a generated registry imported with
``irontrace import``, writes a dealer's inventory as a semicolon-separated
Windows-1251 CSV with Russian headers (``--registered-share`` of the rows are
registered identifiers, half as registered and half damaged the ways plates
are misread; the rest serials never reported), submits it as a job and times
``irontrace worker`` processes running it to the end: upload reading, queueing
and checking are reported apart.  Prints JSON, and with ``--markdown`` the
section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import csv
import io
import itertools
import json
import os
import random
import sys
import time
import uuid
from contextlib import ExitStack
from pathlib import Path

from workload import (
    QUERY_SEED,
    ROOT,
    generated_registry,
    imported_store,
    machine,
    run_and_print,
    strangers,
)

sys.path.insert(0, str(ROOT / "scripts"))
from registry.access import Actor  # noqa: E402
from registry.config import load_settings  # noqa: E402
from registry.demo import corrupted_readings  # noqa: E402
from registry.services import open_services  # noqa: E402
from registry.services.bulk import COUNTERS  # noqa: E402
from registry.vocabulary import ACTIVE_JOB_STATUSES  # noqa: E402
from tests.processes import Worker  # noqa: E402

OPERATOR = Actor.operator()  # the benchmark submits as the local operator, as `irontrace bulk-check` does
SAMPLED_REPORTS = 200_000  # registered identifiers are drawn from the first reports of the file
POLL_SECONDS = 0.5
REGISTERED_SHARE = 0.1  # of an inventory's rows: a dealer's stock is mostly never reported
BATCH_SIZE = 500  # rows a worker checks at a time (the service's default)


def inventory(registry: Path, rows: int, registered_share: float, seed: int) -> tuple[bytes, dict[str, int]]:
    """The file a dealer uploads, and how many rows of each kind it holds."""
    rng = random.Random(QUERY_SEED)
    registered = int(rows * registered_share)
    with registry.open(encoding="utf-8") as source:
        sample = [json.loads(line) for line in itertools.islice(source, SAMPLED_REPORTS)]
    active = [r for r in sample if r["status"] in ("stolen", "missing")]
    exact = [rng.choice(rng.choice(active)["identifiers"])["value"] for _ in range(registered // 2)]
    damaged = [q["reading"] for q in corrupted_readings(active, registered - len(exact), rng)]
    readings = exact + damaged + strangers(rows - registered, seed)
    rng.shuffle(readings)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["№", "Заводской номер", "Примечание"])
    writer.writerows([n, reading, "склад 3"] for n, reading in enumerate(readings, start=1))
    return out.getvalue().encode("cp1251", errors="replace"), {
        "registered_as_is": len(exact), "registered_damaged": len(damaged), "never_reported": rows - registered}


def job_env(data: bytes, rows: int, batch_size: int) -> dict[str, str]:
    """Settings that let a job of ``data`` through and check it in batches of ``batch_size``."""
    return {"IRONTRACE_BULK_BATCH_SIZE": str(batch_size), "IRONTRACE_BULK_POLL_SECONDS": "0.2",
            "IRONTRACE_BULK_MAX_BYTES": str(len(data) + 1), "IRONTRACE_BULK_MAX_ROWS": str(rows)}


def run_job(env: dict[str, str], data: bytes, rows: int, workers: int, processes: int, stack: ExitStack) -> dict:
    """Submit ``data`` (a CSV of ``rows`` rows) as a job of the registry ``env`` names and time ``workers``
    ``irontrace worker --processes N`` running it to the end: reading, submitting, checking apart."""
    os.environ.update(env)
    services = open_services(load_settings())
    result: dict = {}
    started = time.perf_counter()
    upload = services.bulk.read(io.BytesIO(data), "csv", rows)
    result["read_seconds"] = round(time.perf_counter() - started, 2)
    upload.close()
    started = time.perf_counter()
    job = services.bulk.submit(OPERATOR, io.BytesIO(data), "csv", "inventory.csv")
    result["submit_seconds"] = round(time.perf_counter() - started, 2)
    assert len(upload.rows) == job["rows_total"] == rows
    started = time.perf_counter()
    running = [stack.enter_context(Worker(env, processes)) for _ in range(workers)]
    while (job := services.bulk.get(OPERATOR, job["id"]))["status"] in ACTIVE_JOB_STATUSES:
        time.sleep(POLL_SECONDS)
    elapsed = time.perf_counter() - started
    for worker in running:
        worker.stop()
    result["status"] = job["status"]
    result["check_seconds"] = round(elapsed, 1)
    result["rows_per_second"] = round(rows / elapsed)
    result["verdicts"] = {k: job[k] for k in COUNTERS}
    services.close()
    return result


def run(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir)
    registry = generated_registry(workdir, args.reports, args.seed)
    data, mix = inventory(registry, args.rows, args.registered_share, args.seed)
    result: dict = {"backend": args.backend, "reports": args.reports, "rows": args.rows, "mix": mix,
                    "file_mb": round(len(data) / 2**20, 1), "machine": machine(), "workers": args.workers,
                    "processes": args.processes,
                    "batch_size": args.batch_size}
    with ExitStack() as stack:
        store, _ = imported_store(args.backend, args.reports, workdir, registry, stack)
        env = {**store, **job_env(data, args.rows, args.batch_size)}
        result.update(run_job(env, data, args.rows, args.workers, args.processes, stack))
    return result


def markdown(result: dict) -> str:
    mix = result["mix"]
    return "\n".join([
        f"### {result['rows']:,}-row file against {result['reports']:,} reports, {result['backend']}",
        "",
        f"- machine: {result['machine']}",
        f"- file: {result['file_mb']} MB Windows-1251 CSV; {mix['registered_as_is']:,} registered identifiers "
        f"as registered, {mix['registered_damaged']:,} damaged, {mix['never_reported']:,} never reported",
        f"- reading the upload: {result['read_seconds']} s; submitting it (read again, then the rows "
        f"stored with the job): {result['submit_seconds']} s",
        f"- checking ({result['workers']} `irontrace worker --processes {result['processes']}`, batches of "
        f"{result['batch_size']}): "
        f"{result['check_seconds']} s = **{result['rows_per_second']:,} rows/s**",
        f"- verdicts: {result['verdicts']}",
        "",
    ])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "elasticsearch"), default="sqlite")
    parser.add_argument("--registered-share", type=float, default=REGISTERED_SHARE)
    parser.add_argument("--workers", type=int, default=1, help="irontrace worker processes (a job runs in one)")
    parser.add_argument("--processes", type=int, default=0, help="irontrace worker --processes")
    parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=f"/tmp/irontrace-bulk-bench-{uuid.uuid4().hex[:6]}")
    run_and_print(parser, run, markdown)


if __name__ == "__main__":
    main()
