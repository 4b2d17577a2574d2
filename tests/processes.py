"""Real server processes for tests: gunicorn and the ``irontrace`` command."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
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
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def __exit__(self, *exc) -> None:
        self.stop()


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

    ``http`` is a session carrying an admin key for the same registry.
    """

    def __init__(self, env: dict[str, str], workers: int = 3) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.workers = workers
        self.process: subprocess.Popen | None = None
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {admin_key(env)}"

    def start(self) -> Gunicorn:
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONFIG), "-w", str(self.workers),
             "-b", f"127.0.0.1:{self.port}", "--graceful-timeout", "5", "registry:create_app()"],
            env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
        )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()  # never leave a half-started server behind
            raise
        return self

    def _wait_until_ready(self) -> None:
        """Poll ``/readyz`` until it answers 200; a slow worker boot is waited out, not an error."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                if requests.get(self.url + "/readyz", timeout=READY_POLL_TIMEOUT_SECONDS).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not become ready within {STARTUP_TIMEOUT_SECONDS} s")

    def stop(self) -> None:
        self.http.close()
        super().stop()

    def __enter__(self) -> Gunicorn:
        return self.start()
