"""``irontrace serve``: gunicorn by default, from anywhere, sized to what the container may use."""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import requests

from registry import capacity
from tests.processes import BIN, Served, irontrace

ANSI = re.compile(rb"\x1b\[")


def children_of(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_the_readme_s_first_commands_serve_the_demo_with_gunicorn_from_a_fresh_directory(tmp_path):
    # `irontrace demo && irontrace serve`, in a directory without gunicorn.conf.py (the package has its settings).
    env = {"IRONTRACE_DB": str(tmp_path / "irontrace.db"), "IRONTRACE_WORKERS": "2"}
    demo = irontrace("demo", "--count", "10", env=env)
    assert demo.returncode == 0, demo.stderr
    border = next(line.split()[1] for line in demo.stdout.splitlines() if line.strip().startswith("border"))
    with Served(env, cwd=tmp_path) as server:
        assert b"gunicorn" in Path(f"/proc/{server.process.pid}/cmdline").read_bytes()
        assert len(children_of(server.process.pid)) == 2  # the workers asked for, not the host's CPUs
        answer = requests.post(server.url + "/v1/checks", json={"identifier": "КМТ РС300 С55А17О44"},
                               headers={"Authorization": f"Bearer {border}"}, timeout=30)
        assert answer.status_code == 200 and answer.json()["verdict"] == "possible_match"
        assert requests.get(server.url + "/v1/reports", timeout=30).status_code == 401
    log = server.log
    assert b"Booting worker" in log and b"2 workers x 4 threads; SQLite page cache" in log
    assert not ANSI.search(log)


class UnixSocketHTTP(http.client.HTTPConnection):
    """HTTP over a unix socket (what a reverse proxy in front talks to)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=30)
        self.socket_path = str(path)

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.socket_path)


def test_without_host_or_port_serve_binds_what_irontrace_bind_says_a_unix_socket_too(tmp_path):
    path = tmp_path / "irontrace.sock"
    env = {**os.environ, "IRONTRACE_DB": str(tmp_path / "irontrace.db"), "IRONTRACE_BIND": f"unix:{path}",
           "IRONTRACE_WORKERS": "1"}
    server = subprocess.Popen([str(BIN / "irontrace"), "serve"], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "irontrace serve exited"
            try:
                http = UnixSocketHTTP(path)
                http.request("GET", "/healthz")
                status = http.getresponse().status
                http.close()
                break
            except OSError:
                assert time.monotonic() < deadline, "nothing answered on the socket"
                time.sleep(0.1)
        assert status == 200
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_workers_default_to_the_cpus_this_process_may_use(tmp_path):
    env = {"IRONTRACE_DB": str(tmp_path / "irontrace.db")}
    with Served(env, cwd=tmp_path) as server:
        assert len(children_of(server.process.pid)) == capacity.available_cpus()


def test_dev_keeps_flask_s_server_and_its_log_has_no_colour_codes_off_a_terminal(tmp_path):
    env = {"IRONTRACE_DB": str(tmp_path / "irontrace.db")}
    with Served(env, "--dev", cwd=tmp_path) as server:
        served_by = requests.get(server.url + "/healthz", timeout=30).headers.get("Server", "")
        assert served_by.startswith("Werkzeug")
        assert requests.get(server.url + "/nowhere", timeout=30).status_code == 404  # coloured yellow on a tty
        assert requests.get(server.url + "/v1/reports", timeout=30).status_code == 401  # bold red on a tty
    assert b'"GET /nowhere HTTP/1.1" 404' in server.log and b'"GET /v1/reports HTTP/1.1" 401' in server.log
    assert not ANSI.search(server.log)


def test_cpu_quota_and_memory_limit_of_a_cgroup(tmp_path):
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("150000 100000\n")
    (v2 / "memory.max").write_text(f"{2 * 1024 ** 3}\n")
    assert capacity.cgroup_cpu_quota(v2) == 1.5
    assert capacity.available_cpus(v2) == min(2, len(os.sched_getaffinity(0)))
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    assert capacity.memory_limit_bytes(v2) == min(2 * 1024 ** 3, physical)
    (v2 / "cpu.max").write_text("max 100000\n")
    (v2 / "memory.max").write_text("max\n")
    assert capacity.cgroup_cpu_quota(v2) is None
    assert capacity.available_cpus(v2) == len(os.sched_getaffinity(0))
    assert capacity.memory_limit_bytes(v2) == physical

    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "memory").mkdir()
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text(f"{512 * 1024 ** 2}\n")
    assert capacity.cgroup_cpu_quota(v1) == 0.5 and capacity.available_cpus(v1) == 1
    assert capacity.memory_limit_bytes(v1) == 512 * 1024 ** 2
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "memory" / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # v1's "no limit"
    assert capacity.cgroup_cpu_quota(v1) is None
    assert capacity.memory_limit_bytes(v1) == physical
    assert capacity.cgroup_cpu_quota(tmp_path / "none") is None


def test_the_page_cache_is_shared_out_so_every_connection_fits():
    gib = 1024 ** 3
    assert capacity.sqlite_cache_mb(2 * gib, 8 * 5) == 12  # 8 workers x (4 threads + bulk) in 2 GiB: 512 MiB
    assert capacity.sqlite_cache_mb(64 * gib, 2 * 5) == capacity.MAX_CACHE_MB
    assert capacity.sqlite_cache_mb(gib // 4, 64 * 5) == capacity.MIN_CACHE_MB
