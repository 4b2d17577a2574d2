"""Slow clients do not starve the others: the shipped nginx configuration in front of gunicorn.

The attack of issue 12: sockets that send a request a byte at a time (or send a
body's headers and then nothing) hold a gunicorn thread each until every thread
is held.  Here gunicorn runs with one worker of two threads, so three such
sockets would be enough; the test opens 40, half stuck in their headers, half
in their bodies, through ``deploy/nginx.conf`` as compose runs it (its upstream
and listen lines pointed at this test's ports), and checks that other clients
are answered at once, and that nginx ends a stalled body with 408 after its
read timeout.  nginx comes from Debian (``.ci/run`` installs it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.processes import Gunicorn, free_port

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "nginx.conf"
SLOW_SOCKETS = 40
PROMPT_SECONDS = 3.0  # a request of an unhindered client is answered well within this
BODY_TIMEOUT_SECONDS = 10  # client_body_timeout in deploy/nginx.conf


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if found is None:
        reason = "nginx is not installed (.ci/run installs it: apt-get install nginx-light)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return found


def rendered_config(upstream_port: int, listen_port: int, work: Path) -> str:
    """The shipped file, with this test's ports and writable paths; nothing else changed."""
    text = CONFIG.read_text()
    text = re.sub(r"server irontrace:8000;", f"server 127.0.0.1:{upstream_port};", text)
    text = re.sub(r"listen 8080;", f"listen 127.0.0.1:{listen_port};", text)
    text = text.replace("/tmp/", f"{work}/")
    assert f"127.0.0.1:{upstream_port}" in text and f"127.0.0.1:{listen_port}" in text
    return text


@pytest.fixture
def proxied(tmp_path):
    binary = nginx_binary()
    with Gunicorn({"IRONTRACE_DB": str(tmp_path / "slow.db"), "IRONTRACE_BULK_WORKER_THREADS": "0"},
                  workers=1, threads=2) as server:
        work = tmp_path / "nginx"
        work.mkdir()
        work.chmod(0o777)  # nginx's workers run as nobody when it is started as root
        listen_port = free_port()
        (work / "nginx.conf").write_text(rendered_config(server.port, listen_port, work))
        nginx = subprocess.Popen([binary, "-p", str(work), "-c", str(work / "nginx.conf"), "-e", "stderr",
                                  "-g", "daemon off;"], stderr=subprocess.PIPE, start_new_session=True)
        url = f"http://127.0.0.1:{listen_port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                assert nginx.poll() is None, nginx.stderr.read().decode()
                try:
                    if requests.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except requests.RequestException:
                    assert time.monotonic() < deadline, "nginx did not start"
                    time.sleep(0.1)
            yield server, url, listen_port
        finally:
            nginx.terminate()
            nginx.wait(timeout=15)


def slow_socket(port: int, stuck_in_body: bool) -> socket.socket:
    """A client that starts a request and stops: after the headers' first line, or after a body's first byte."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=30)
    if stuck_in_body:
        sock.sendall(b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100000\r\n\r\n{")
    else:
        sock.sendall(b"POST /v1/checks HTTP/1.1\r\nHost: x\r\nContent-Le")
    return sock


def test_slow_clients_do_not_starve_the_others_and_stalled_bodies_time_out(proxied):
    server, url, port = proxied
    key = server.http.headers["Authorization"]
    sockets = [slow_socket(port, stuck_in_body=n % 2 == 0) for n in range(SLOW_SOCKETS)]
    last_byte_sent = time.monotonic()
    try:
        time.sleep(1)  # the slow clients are all connected and stuck before the others come
        for n in range(10):
            started = time.monotonic()
            health = requests.get(url + "/healthz", timeout=PROMPT_SECONDS)
            check = requests.post(url + "/v1/checks", json={"identifier": f"SN{n:08d}"}, timeout=PROMPT_SECONDS,
                                  headers={"Authorization": key})
            assert health.status_code == 200 and check.status_code == 200
            assert time.monotonic() - started < PROMPT_SECONDS
        stalled = sockets[0]  # stuck in its body: nginx answers 408 once its read timeout passes
        stalled.settimeout(BODY_TIMEOUT_SECONDS + 10)
        answer = stalled.recv(4096)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert BODY_TIMEOUT_SECONDS - 1 <= time.monotonic() - last_byte_sent <= BODY_TIMEOUT_SECONDS + 10
    finally:
        for sock in sockets:
            sock.close()
