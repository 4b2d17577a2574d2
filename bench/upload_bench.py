"""Benchmark: what bulk-check uploads of hostile and of large shapes cost the server.

    python bench/upload_bench.py --markdown
    python bench/upload_bench.py --code /tmp/irontrace-main   # the same, served by another checkout

Serves a demo registry on SQLite with gunicorn (3 workers, as the attack in
issue 12 was made) and uploads, one after another, to ``POST /v1/bulk-checks``:

- ``wide``: the issue's file, 66 MB of CSV with 10,000 columns, all empty but
  the serial;
- ``wide, columns allowed``: the same with ``IRONTRACE_BULK_MAX_COLUMNS``
  raised over 10,000, so that it is read and stored (a fresh server);
- ``one line``: a single 50 MB line;
- ``inventory``: 1,000,000 rows of three columns (serial, make, note).

For each: the answer's status, the seconds until it came, the highest
resident memory of every gunicorn worker (``VmHWM``, summed: each worker's
own peak, as the issue summed them), and how much the database file (with
its WAL) grew.  Each upload gets a fresh server, so peaks do not carry over.
Prints JSON, and with ``--markdown`` the section for bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from workload import machine  # noqa: E402

from tests.processes import BIN, free_port  # noqa: E402

WORKERS = 3
MB = 1_000_000
STARTUP_SECONDS = 60


def wide_csv(path: Path, columns: int = 10_000, size: int = 66 * MB) -> None:
    """A serial and ``columns - 1`` empty cells per row, to ``size`` bytes."""
    with path.open("w", encoding="utf-8") as out:
        out.write("serial," + ",".join(f"c{n}" for n in range(1, columns)) + "\n")
        row, written = 0, 0
        empty = "," * (columns - 1) + "\n"
        while written < size:
            line = f"SN{row:08d}{empty}"
            out.write(line)
            written += len(line)
            row += 1


def one_line(path: Path, size: int = 50 * MB) -> None:
    with path.open("wb") as out:
        out.write(b"serial,")
        for _ in range(size // MB):
            out.write(b"A" * MB)


def inventory(path: Path, rows: int = 1_000_000) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("serial,make,note\n")
        for n in range(rows):
            out.write(f"SN{n:08d},Komatsu,yard {n % 7}\n")


class Server:
    """gunicorn serving ``code``'s registry:create_app() on a fresh copy of the demo registry."""

    def __init__(self, code: Path, template: Path, workdir: Path, env: dict[str, str]) -> None:
        self.db = workdir / f"registry-{time.monotonic_ns()}.db"
        self.db.write_bytes(template.read_bytes())
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(code), "IRONTRACE_DB": str(self.db), **env}
        self.code = code

    def __enter__(self) -> Server:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(self.code / "gunicorn.conf.py"), "-w", str(WORKERS),
             "-b", f"127.0.0.1:{self.port}", "registry:create_app()"],
            cwd=self.code, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/readyz", timeout=5).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not start")

    def workers_peak_mb(self) -> float:
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text().split()
        total = 0
        for pid in children:
            status = Path(f"/proc/{pid}/status").read_text()
            total += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        return round(total / 1024, 1)

    def database_mb(self) -> float:
        files = [self.db, Path(f"{self.db}-wal")]
        return round(sum(f.stat().st_size for f in files if f.exists()) / MB, 1)

    def __exit__(self, *exc: object) -> None:
        os.killpg(self.process.pid, 15)
        self.process.wait(timeout=30)


def admin_key(code: Path, db: Path) -> str:
    created = subprocess.run([str(BIN / "irontrace"), "keys", "create", "--role", "admin"], capture_output=True,
                             text=True, env={**os.environ, "PYTHONPATH": str(code), "IRONTRACE_DB": str(db)},
                             check=True)
    return created.stdout.strip().splitlines()[-1]


def upload(server: Server, key: str, path: Path) -> dict:
    before = server.database_mb()
    started = time.perf_counter()
    with path.open("rb") as body:
        answer = requests.post(server.url + "/v1/bulk-checks", data=body, timeout=1800,
                               headers={"Authorization": f"Bearer {key}", "Content-Type": "text/csv"})
    elapsed = time.perf_counter() - started
    time.sleep(2)  # let a worker thread that took the job start on it
    problem = answer.json() if answer.status_code >= 400 else {}
    return {"status": answer.status_code, "seconds": round(elapsed, 1), "workers_peak_mb": server.workers_peak_mb(),
            "database_growth_mb": round(server.database_mb() - before, 1),
            "refused": f"{problem.get('limit')} {problem.get('unit')}" if problem else None,
            "file_mb": round(path.stat().st_size / MB, 1)}


def cases(workdir: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    wide = workdir / "wide.csv"
    wide_csv(wide)
    yield "wide: 66 MB, 10,000 columns, all but the serial empty", wide, {}
    yield "the same, IRONTRACE_BULK_MAX_COLUMNS=10001", wide, {"IRONTRACE_BULK_MAX_COLUMNS": "10001"}
    line = workdir / "line.csv"
    one_line(line)
    yield "one line of 50 MB", line, {}
    rows = workdir / "inventory.csv"
    inventory(rows)
    yield "inventory: 1,000,000 rows, 3 columns", rows, {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--code", type=Path, default=ROOT, help="The checkout whose code serves (default: this one).")
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "irontrace-upload-bench")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    template = args.workdir / "demo.db"
    if not template.exists():
        subprocess.run([str(BIN / "irontrace"), "demo", "--count", "500"], check=True, capture_output=True,
                       env={**os.environ, "PYTHONPATH": str(args.code), "IRONTRACE_DB": str(template)})
    key = admin_key(args.code, template)
    results = {"machine": machine(), "code": str(args.code), "workers": WORKERS, "uploads": {}}
    for name, path, env in cases(args.workdir):
        env = {"IRONTRACE_BULK_MAX_BYTES": str(70 * MB), "IRONTRACE_BULK_MAX_ROWS": "1000000", **env}
        with Server(args.code, template, args.workdir, env) as server:
            results["uploads"][name] = upload(server, key, path)
        print(name, results["uploads"][name], file=sys.stderr)
    print(json.dumps(results, indent=2))
    if args.markdown:
        print("\n| upload | status | seconds | workers' peak memory (sum) | database growth |")
        print("| --- | --- | --- | --- | --- |")
        for name, r in results["uploads"].items():
            status = f"{r['status']}" + (f" ({r['refused']})" if r["refused"] else "")
            print(f"| {name} | {status} | {r['seconds']} | {r['workers_peak_mb']} MB | {r['database_growth_mb']} MB |")


if __name__ == "__main__":
    main()
