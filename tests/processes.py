"""Real server processes for tests: gunicorn and the ``irontrace`` command."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent
GUNICORN_CONFIG = Path(__file__).resolve().parent.parent / "gunicorn.conf.py"
STARTUP_TIMEOUT_SECONDS = 60
READY_POLL_TIMEOUT_SECONDS = 5  # a worker still booting holds the first request that long


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def irontrace(*args: str, env: dict[str, str], input_text: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed console script, as a user would."""
    return subprocess.run(
        [str(BIN / "irontrace"), *args], env={**os.environ, **env}, input=input_text,
        capture_output=True, text=True, timeout=300,
    )


def admin_key(env: dict[str, str]) -> str:
    """A new admin key for the registry ``env`` points at, from ``irontrace keys create``."""
    created = irontrace("keys", "create", "--role", "admin", "--label", "tests", env=env)
    if created.returncode != 0:
        raise RuntimeError(f"irontrace keys create failed: {created.stderr[-2000:]}")
    return created.stdout.strip().splitlines()[-1]


class ProcessGroup:
    """A command run in a process group of its own, so a crash can be simulated for all of it."""

    process: subprocess.Popen | None = None

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hooks, as in a crash."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL for whatever of the group is still there (a worker stuck in a request
        outlives its master otherwise)."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=15)
        if self.process:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_until_ready(self, url: str) -> None:
        """Poll ``url``/readyz until it answers 200; a slow worker boot is waited out, not an error."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.output()[-2000:]}")
            try:
                if requests.get(url + "/readyz", timeout=READY_POLL_TIMEOUT_SECONDS).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the server did not become ready within {STARTUP_TIMEOUT_SECONDS} s")

    def output(self) -> str:
        """What the process wrote, for a failure's message."""
        stream = self.process.stderr or self.process.stdout
        return stream.read().decode(errors="replace") if stream else ""


class Worker(ProcessGroup):
    """``irontrace worker``: runs bulk-check jobs from the store that ``env`` names."""

    def __init__(self, env: dict[str, str], processes: int = 0) -> None:
        self.env = {**os.environ, **env}
        self.processes = processes

    def __enter__(self) -> Worker:
        self.process = subprocess.Popen(
            [str(BIN / "irontrace"), "worker", "--processes", str(self.processes)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        return self


class Gunicorn(ProcessGroup):
    """``gunicorn 'registry:create_app()'`` with several workers, as in production.

    ``http`` is a session carrying an admin key for the same registry.  Its log
    (JSON lines on stderr) goes to a file, never a pipe nobody reads, which would
    stall the server once full; ``log_lines`` reads it.
    """

    def __init__(self, env: dict[str, str], workers: int = 3, threads: int | None = None,
                 with_key: bool = True, options: tuple[str, ...] = (), max_file_bytes: int | None = None) -> None:
        """``options``: more gunicorn options; ``max_file_bytes``: no file of the server may grow past
        this (``RLIMIT_FSIZE``): a full disk, as the server sees one, without filling the machine's."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.threads = threads
        self.options = options
        self.max_file_bytes = max_file_bytes
        self.process: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log")  # noqa: SIM115 (closed in stop)
        self.http = requests.Session()
        if with_key:
            self.http.headers["Authorization"] = f"Bearer {admin_key(env)}"

    def start(self) -> Gunicorn:
        threads = ["--threads", str(self.threads)] if self.threads else []
        limit = self.max_file_bytes
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONFIG), "-w", str(self.workers), *threads,
             "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", *self.options, "registry:create_app()"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=self.log, start_new_session=True,
            preexec_fn=(lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))) if limit else None,
        )
        try:
            self.wait_until_ready(self.url)
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def output(self) -> str:
        return self.log_text()

    def log_text(self) -> str:
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")

    def log_lines(self) -> list[dict]:
        """Every JSON line logged so far (a line that is not JSON fails the test: logs are JSON)."""
        return [json.loads(line) for line in self.log_text().splitlines() if line.strip()]

    def stop(self) -> None:
        self.http.close()
        super().stop()
        self.log.close()

    def __enter__(self) -> Gunicorn:
        return self.start()


class Served(ProcessGroup):
    """``irontrace serve ARGS`` as a user starts it, from ``cwd``; its log (stdout and stderr, in a
    file: a pipe nobody reads would stall the server once full) is ``log``."""

    def __init__(self, env: dict[str, str], *args: str, cwd: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "IRONTRACE_BIND": f"127.0.0.1:{self.port}", **env}
        self.args = args
        self.cwd = cwd
        self.log_file = tempfile.NamedTemporaryFile(prefix="serve-", suffix=".log")  # noqa: SIM115 (closed in stop)
        self.log = b""

    def __enter__(self) -> Served:
        self.process = subprocess.Popen(
            [str(BIN / "irontrace"), "serve", *self.args], env=self.env, cwd=self.cwd, stdout=self.log_file,
            stderr=subprocess.STDOUT, start_new_session=True,
        )
        try:
            self.wait_until_ready(self.url)
        except BaseException:
            self.stop()
            raise
        return self

    def output(self) -> str:
        return Path(self.log_file.name).read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        super().stop()
        if not self.log_file.closed:
            self.log = Path(self.log_file.name).read_bytes()
            self.log_file.close()
