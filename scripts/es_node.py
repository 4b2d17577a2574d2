#!/usr/bin/env python3
"""Fetch, unpack, start and stop a real Elasticsearch (one node, or a local cluster) for tests.

Why this exists: the machines this project runs on reach only package registries
(PyPI, Maven Central, npm, Debian) - no Docker, no elastic.co downloads.  Elastic
publishes an "integ-test" zip of the server to Maven Central, so we fetch that with
Maven and run it directly.  Standard library only, so it works before any venv exists.

Usage as a library (e.g. from a pytest fixture)::

    from es_node import start_node
    with start_node() as node:
        ...  # talk to node.url

CLI::

    python scripts/es_node.py fetch            # download + unpack, print ES home
    python scripts/es_node.py run [--port N]   # start, print "ready <url>", block
    python scripts/es_node.py cluster [--nodes 3]   # N nodes, one cluster: "ready <url>,<url>,...", block

Limits of the integ-test zip (it only has the server plus the netty4, x-pack-core,
x-pack-security and apm modules): no `GET /` (so client `info()`/`ping()` fail with 405;
use `cluster.health()`), no painless scripts, no `_delete_by_query`/`_update_by_query`/
`_reindex`, no analysis-common tokenizers/filters beyond core (`lowercase` normalizer works,
`ngram` does not), no ingest-common processors. Core queries, aggs, bulk, mappings work.

Environment knobs:
    ES_JAVA_HOME          JDK to run the server with (else newest suitable one in /usr/lib/jvm)
    IRONTRACE_ES_CACHE    where distributions are unpacked (default ~/.cache/irontrace)
    IRONTRACE_ES_HEAP     JVM heap options (default "-Xms1g -Xmx1g")
    IRONTRACE_ES_START_TIMEOUT  seconds to wait for the node to get yellow (default 180)
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import dataclasses
import fcntl
import glob
import json
import os
import pwd
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Self

# Newest integ-test zip that both resolves on Maven Central from here and starts on
# this machine (9.5.5/9.5.6 are not published as integ-test zips).  The Python client
# must have the same major: pin `elasticsearch>=9,<10`.
ES_VERSION = "9.5.4"

MAVEN_GROUP = "org.elasticsearch.distribution.integ-test-zip"
MAVEN_ARTIFACT = "elasticsearch"
ES_USER = "irontrace-es"  # Elasticsearch refuses to run as root, so root runs it as this user.
DEFAULT_HEAP = "-Xms1g -Xmx1g"
DEFAULT_START_TIMEOUT = 180.0
STOP_TIMEOUT = 30.0
_COMPLETE_MARKER = ".irontrace-complete"


class NodeStartError(RuntimeError):
    """Anything that prevents us from getting a running node: fetch, unpack, JDK, start."""


# --------------------------------------------------------------------------- fetching


def cache_root() -> Path:
    """Directory holding unpacked distributions; shared across runs so unpacking happens once."""
    env = os.environ.get("IRONTRACE_ES_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "irontrace"


def _maven_coords(version: str) -> str:
    return f"{MAVEN_GROUP}:{MAVEN_ARTIFACT}:{version}:zip"


def _local_repo_zip(version: str) -> Path:
    """Where Maven caches the zip; checking it directly skips a ~5 s Maven start-up."""
    repo = Path.home() / ".m2" / "repository"
    return (
        repo.joinpath(*MAVEN_GROUP.split("."), MAVEN_ARTIFACT, version)
        / f"{MAVEN_ARTIFACT}-{version}.zip"
    )


def fetch_zip(version: str = ES_VERSION) -> Path:
    """Return the distribution zip, downloading it with Maven (which caches in ~/.m2)."""
    cached = _local_repo_zip(version)
    if cached.is_file() and zipfile.is_zipfile(cached):
        return cached
    mvn = shutil.which("mvn")
    if not mvn:
        raise NodeStartError(
            "Maven (mvn) not found; install it (apt-get install maven) to fetch Elasticsearch"
        )
    out_dir = Path(tempfile.mkdtemp(prefix="irontrace-es-fetch-"))
    try:
        cmd = [mvn, "-B", "-q", "dependency:copy", f"-Dartifact={_maven_coords(version)}",
               f"-DoutputDirectory={out_dir}"]
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
        target = out_dir / f"{MAVEN_ARTIFACT}-{version}.zip"
        if proc.returncode != 0 or not target.is_file():
            raise NodeStartError(
                f"could not fetch {_maven_coords(version)} with Maven (exit {proc.returncode}):\n"
                + _tail(proc.stdout + proc.stderr, 40)
            )
        # dependency:copy also installs into ~/.m2; prefer that stable path if present.
        if cached.is_file():
            return cached
        keep = cache_root() / target.name
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(target), keep)
        return keep
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)


def _extract(zip_path: Path, dest: Path) -> None:
    """Unzip keeping Unix modes (zipfile drops them, and bin/elasticsearch must be executable)."""
    dest_resolved = dest.resolve()
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            parts = Path(info.filename).parts
            if len(parts) <= 1:  # the top-level "elasticsearch-<version>/" directory itself
                continue
            target = dest.joinpath(*parts[1:])  # strip the top-level directory
            if not target.resolve().is_relative_to(dest_resolved):
                raise NodeStartError(f"refusing unsafe path in {zip_path}: {info.filename}")
            mode = (info.external_attr >> 16) & 0o7777
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            if mode:
                os.chmod(target, mode)


def ensure_distribution(version: str = ES_VERSION) -> Path:
    """Return ES_HOME for `version`, fetching and unpacking it once into the cache.

    A marker file is written last, so a half-finished unpack is never reused; a file
    lock makes parallel test workers wait for one unpack instead of racing.
    """
    home = cache_root() / f"elasticsearch-{version}"
    if (home / _COMPLETE_MARKER).is_file():
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    with open(home.parent / f".elasticsearch-{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (home / _COMPLETE_MARKER).is_file():
            return home
        zip_path = fetch_zip(version)
        staging = Path(tempfile.mkdtemp(prefix=f".elasticsearch-{version}-", dir=home.parent))
        try:
            _extract(zip_path, staging)
            if not (staging / "bin" / "elasticsearch").is_file():
                raise NodeStartError(f"{zip_path} does not look like an Elasticsearch distribution")
            os.chmod(staging, 0o755)  # mkdtemp makes 0700; the node user must be able to read it
            (staging / _COMPLETE_MARKER).write_text(f"{version}\n")
            if home.exists():  # leftover of an interrupted unpack (no marker)
                shutil.rmtree(home)
            staging.rename(home)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return home


# --------------------------------------------------------------------------- JDK


def _required_java(version: str) -> int:
    """ES 9.x needs JDK 21+, 8.x needs 17+ (the integ-test zip has no bundled JDK)."""
    major = int(version.split(".")[0])
    return 21 if major >= 9 else 17


def _java_major(java_home: Path) -> int | None:
    release = java_home / "release"
    try:
        m = re.search(r'^JAVA_VERSION="(\d+)', release.read_text(), re.MULTILINE)
        if m:
            return int(m.group(1))
    except OSError:
        pass
    try:
        out = subprocess.run([str(java_home / "bin" / "java"), "-version"],
                             check=False, capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)', out)
    return int(m.group(1)) if m else None


def find_java_home(version: str = ES_VERSION) -> Path:
    """Pick the JDK: $ES_JAVA_HOME if set, else the newest suitable JDK under /usr/lib/jvm.

    The default `java` here is 17, too old for ES 9, so we cannot just use PATH.
    """
    need = _required_java(version)
    env = os.environ.get("ES_JAVA_HOME")
    if env:
        home = Path(env)
        if not (home / "bin" / "java").is_file():
            raise NodeStartError(f"ES_JAVA_HOME={env} has no bin/java")
        major = _java_major(home)
        if major is not None and major < need:
            raise NodeStartError(
                f"ES_JAVA_HOME={env} is JDK {major}; Elasticsearch {version} needs {need}+"
            )
        return home
    candidates: dict[Path, int] = {}
    for java in glob.glob("/usr/lib/jvm/*/bin/java"):
        home = Path(java).parent.parent.resolve()
        if home not in candidates:
            major = _java_major(home)
            if major is not None:
                candidates[home] = major
    good = sorted(((m, str(h)) for h, m in candidates.items() if m >= need), reverse=True)
    if not good:
        found = ", ".join(f"{h} ({m})" for h, m in candidates.items()) or "none"
        raise NodeStartError(
            f"Elasticsearch {version} needs JDK {need}+; found in /usr/lib/jvm: {found}. "
            "Install one or set ES_JAVA_HOME."
        )
    return Path(good[0][1])


# --------------------------------------------------------------------------- user / files


def _ensure_user() -> pwd.struct_passwd:
    """Create the unprivileged system user the node runs as (idempotent)."""
    try:
        return pwd.getpwnam(ES_USER)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    proc = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home",
         "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", ES_USER],
        check=False, capture_output=True, text=True,
    )
    try:  # exit 9 = already exists (a parallel worker won the race) - fine
        return pwd.getpwnam(ES_USER)
    except KeyError:
        raise NodeStartError(f"could not create user {ES_USER}: {proc.stderr.strip()}") from None


def _others_can_reach(path: Path) -> bool:
    """True if every ancestor directory is searchable by 'other' (e.g. not under 0700 /root)."""
    for p in [path, *path.parents]:
        try:
            if not os.stat(p).st_mode & stat.S_IXOTH:
                return False
        except OSError:
            return False
    return True


def _link_tree(src: Path, dst: Path) -> None:
    """Mirror a tree with hard links (copy if linking fails): a cheap per-run ES_HOME."""
    def link_or_copy(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)
    shutil.copytree(src, dst, symlinks=True, copy_function=link_or_copy)


def _chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            os.lchown(os.path.join(root, name), uid, gid)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as ES does; ignore TIME_WAIT
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _tail(text: str, lines: int) -> str:
    return "\n".join(text.splitlines()[-lines:])


def _tail_file(path: Path, lines: int = 60) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            return _tail(f.read().decode("utf-8", "replace"), lines)
    except OSError:
        return ""


# --------------------------------------------------------------------------- node


@dataclasses.dataclass
class ElasticsearchNode:
    """A running node. `stop()` (or leaving the `with` block) kills it and deletes its data."""

    url: str
    process: subprocess.Popen[bytes]
    run_dir: Path
    home: Path
    http_port: int
    transport_port: int
    launch: _Launch | None = dataclasses.field(default=None, repr=False)  # how to start it again
    _stopped: bool = dataclasses.field(default=False, repr=False)
    _lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def console_log(self) -> Path:
        return self.run_dir / "console.log"

    def log_tail(self, lines: int = 60) -> str:
        """Tail of stdout/stderr plus the server log: what you want to see when it failed."""
        parts = [f"--- {self.console_log} ---\n{_tail_file(self.console_log, lines)}"]
        for log in sorted((self.run_dir / "logs").glob("*.log")):
            if log.name.startswith("gc"):
                continue
            parts.append(f"--- {log} ---\n{_tail_file(log, lines)}")
        return "\n".join(parts)

    def kill(self) -> None:
        """SIGKILL the node's whole process group, as a crash would; its data stays for ``restart``."""
        _signal_group(self.process, signal.SIGKILL)
        _wait_group_gone(self.process, 30)

    def terminate(self) -> None:
        """SIGTERM the node (a clean shutdown) and wait for it; its data stays for ``restart``."""
        _signal_group(self.process, signal.SIGTERM)
        if not _wait_group_gone(self.process, STOP_TIMEOUT):
            self.kill()

    def restart(self, timeout: float = DEFAULT_START_TIMEOUT) -> None:
        """Start the node again on its own data and ports, after ``kill`` or ``terminate``."""
        if self.launch is None:
            raise NodeStartError("this node cannot be restarted (no launch recorded)")
        self.process = self.launch.start()
        _wait_ready(self, timeout)

    def stop(self) -> None:
        """SIGTERM the whole process group (launcher + server JVM), wait, SIGKILL if needed."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        try:
            # The launcher may exit before the server JVM finishes its graceful shutdown,
            # so wait for the whole group to be gone, not just our direct child.
            _signal_group(self.process, signal.SIGTERM)
            if not _wait_group_gone(self.process, STOP_TIMEOUT):
                _signal_group(self.process, signal.SIGKILL)
                _wait_group_gone(self.process, 10)
        finally:
            _live_nodes.pop(id(self), None)
            shutil.rmtree(self.run_dir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# Nodes not yet stopped; stopped at interpreter exit so a forgotten node does not linger.
_live_nodes: dict[int, ElasticsearchNode] = {}


@atexit.register
def _stop_live_nodes() -> None:
    for node in list(_live_nodes.values()):
        node.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)  # start_new_session=True: pgid == pid


def _wait_group_gone(proc: subprocess.Popen[bytes], timeout: float) -> bool:
    """Reap our child and wait until no process is left in its group."""
    deadline = time.monotonic() + timeout
    while True:
        proc.poll()
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


_RUN_PREFIX = "irontrace-es-run-"
_OWNER_FILE = "owner.pid"


def _sweep_stale_run_dirs() -> None:
    """Delete run dirs left by test processes that were killed hard (stop() never ran).

    The node itself dies with its parent (setpriv --pdeathsig); only its files remain.
    """
    for d in Path(tempfile.gettempdir()).glob(_RUN_PREFIX + "*"):
        try:
            owner = int((d / _OWNER_FILE).read_text())
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(d, ignore_errors=True)
        except (OSError, ValueError):
            continue  # no/garbled owner file, or owner alive under another user: leave it


def _es_settings(home: Path, run_dir: Path, http_port: int, transport_port: int,
                 cluster: ClusterSpec | None = None) -> dict[str, str]:
    """-E settings for a throwaway, loopback-only node: a single-node cluster, or one node of
    ``cluster`` (real transport between the nodes, one machine)."""
    settings = {
        "xpack.security.enabled": "false",
        "network.host": "127.0.0.1",
        "http.port": str(http_port),
        "transport.port": str(transport_port),
        # Small CI disks would otherwise push indices read-only / leave shards unassigned.
        "cluster.routing.allocation.disk.threshold_enabled": "false",
        "path.data": str(run_dir / "data"),
        "path.logs": str(run_dir / "logs"),
        "path.repo": str(cluster.repo if cluster else run_dir / "snapshots"),  # filesystem snapshot repositories
    }
    if cluster is None:
        settings["discovery.type"] = "single-node"
    else:
        settings.update({
            "cluster.name": cluster.name,
            "node.name": f"node-{transport_port}",
            "discovery.seed_hosts": ",".join(f"127.0.0.1:{p}" for p in cluster.transport_ports),
            "cluster.initial_master_nodes": ",".join(f"node-{p}" for p in cluster.transport_ports),
        })
    modules = home / "modules"
    # Only set these if the module exists: unknown settings make ES refuse to start,
    # and the integ-test zip ships neither module.
    if (modules / "ingest-geoip").is_dir():
        settings["ingest.geoip.downloader.enabled"] = "false"  # would try the internet
    if (modules / "x-pack-ml").is_dir():
        settings["xpack.ml.enabled"] = "false"  # heavy native processes, not needed
    return settings


@dataclasses.dataclass(frozen=True)
class ClusterSpec:
    """What every node of a local multi-node cluster must agree on."""

    name: str
    transport_ports: tuple[int, ...]
    repo: Path  # shared snapshot repository directory (``path.repo``)


def _wait_ready(node: ElasticsearchNode, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    health = f"{node.url}/_cluster/health?wait_for_status=yellow&timeout=2s"
    last_err = "no answer yet"
    while time.monotonic() < deadline:
        rc = node.process.poll()
        if rc is not None:
            raise NodeStartError(
                f"Elasticsearch exited with code {rc} before becoming ready\n{node.log_tail()}"
            )
        try:
            with urllib.request.urlopen(health, timeout=10) as resp:
                body = json.load(resp)
                if body.get("status") in ("yellow", "green"):
                    return
                last_err = f"health status {body.get('status')}"
        except urllib.error.HTTPError as e:  # 408 while waiting for yellow, 503 early on
            last_err = f"HTTP {e.code}"
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
            last_err = str(getattr(e, "reason", e))
        time.sleep(0.5)
    raise NodeStartError(
        f"Elasticsearch not ready after {timeout:.0f}s ({last_err})\n{node.log_tail()}"
    )


@dataclasses.dataclass(frozen=True)
class _Launch:
    """Everything needed to start a node's process, again if need be, on the same data."""

    command: list[str]
    cwd: Path
    env: dict[str, str]
    console: Path
    drop_to: pwd.struct_passwd | None  # drop privileges in Popen (no setpriv on the machine)

    def start(self) -> subprocess.Popen[bytes]:
        drop = self.drop_to
        with open(self.console, "ab") as console:
            return subprocess.Popen(
                self.command,
                cwd=self.cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group, so stop() gets the server JVM too
                user=drop.pw_uid if drop else None,
                group=drop.pw_gid if drop else None,
                extra_groups=[] if drop else None,
            )


def _prepare(home: Path, java_home: Path, http_port: int, transport_port: int, user: pwd.struct_passwd | None,
             cluster: ClusterSpec | None) -> tuple[Path, Path, _Launch]:
    """A run directory of the node's own (data, logs, config, tmp) and how to launch it."""
    run_dir = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX))
    try:
        (run_dir / _OWNER_FILE).write_text(f"{os.getpid()}\n")
        for sub in ("data", "logs", "tmp", "snapshots"):
            (run_dir / sub).mkdir()
        # Per-run config copy: ES writes a keystore into its config dir on start,
        # and the unpacked config files are not world-readable.
        shutil.copytree(home / "config", run_dir / "config")
        es_home = home
        if user is not None:
            _chown_tree(run_dir, user.pw_uid, user.pw_gid)
            if not _others_can_reach(home):
                # e.g. cache under root's 0700 home: give the node a hard-linked view.
                # Linked after the chown on purpose: the links share inodes with the cache,
                # which must stay root-owned (read-only for the node).
                es_home = run_dir / "home"
                _link_tree(home, es_home)
        else:
            os.chmod(run_dir, 0o700)

        env = {k: v for k, v in os.environ.items()
               if k not in ("JAVA_HOME", "JAVA_TOOL_OPTIONS", "_JAVA_OPTIONS", "JAVA_OPTS")}
        env.update(
            ES_JAVA_HOME=str(java_home),
            ES_PATH_CONF=str(run_dir / "config"),
            ES_TMPDIR=str(run_dir / "tmp"),
            ES_JAVA_OPTS=os.environ.get("IRONTRACE_ES_HEAP", DEFAULT_HEAP),
            HOME=str(run_dir),
        )
        cmd = [str(es_home / "bin" / "elasticsearch")]
        for key, value in _es_settings(home, run_dir, http_port, transport_port, cluster).items():
            cmd += ["-E", f"{key}={value}"]

        setpriv = shutil.which("setpriv")
        prefix: list[str] = []
        if setpriv:
            # pdeathsig: if the test process dies hard, the node goes down too instead of
            # lingering with a 1 GB heap. setpriv sets it after dropping privileges.
            prefix = [setpriv]
            if user is not None:
                prefix += [f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--clear-groups"]
            prefix += ["--pdeathsig", "TERM", "--"]
        # Without setpriv, let Popen drop privileges itself (no pdeathsig then).
        launch = _Launch(prefix + cmd, run_dir, env, run_dir / "console.log", user if not setpriv else None)
    except Exception:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return run_dir, es_home, launch


def _launch_node(home: Path, java_home: Path, http_port: int, transport_port: int,
                 cluster: ClusterSpec | None = None) -> ElasticsearchNode:
    """Prepare and start one node process (not yet waited for)."""
    user = _ensure_user() if os.geteuid() == 0 else None
    try:
        run_dir, es_home, launch = _prepare(home, java_home, http_port, transport_port, user, cluster)
        process = launch.start()
    except NodeStartError:
        raise
    except Exception as e:
        raise NodeStartError(f"could not launch Elasticsearch: {e}") from e
    node = ElasticsearchNode(
        url=f"http://127.0.0.1:{http_port}",
        process=process,
        run_dir=run_dir,
        home=es_home,
        http_port=http_port,
        transport_port=transport_port,
        launch=launch,
    )
    _live_nodes[id(node)] = node
    return node


def _free_ports(count: int, taken: set[int] | None = None) -> list[int]:
    ports: list[int] = []
    while len(ports) < count:
        port = _free_port()
        if port not in ports and port not in (taken or set()):
            ports.append(port)
    return ports


def start_node(
    port: int | None = None,
    *,
    version: str = ES_VERSION,
    timeout: float | None = None,
) -> ElasticsearchNode:
    """Start a fresh single-node cluster and return once it is at least yellow.

    Every run gets its own temp dir (data, logs, config, tmp) so runs never share state.
    """
    if timeout is None:
        timeout = float(os.environ.get("IRONTRACE_ES_START_TIMEOUT", DEFAULT_START_TIMEOUT))
    home = ensure_distribution(version)
    java_home = find_java_home(version)
    if port is not None and not _port_is_free(port):
        raise NodeStartError(f"port {port} on 127.0.0.1 is already in use")
    http_port = port or _free_port()
    (transport_port,) = _free_ports(1, {http_port})
    _sweep_stale_run_dirs()
    node = _launch_node(home, java_home, http_port, transport_port)
    try:
        _wait_ready(node, timeout)
    except BaseException:
        node.stop()
        raise
    return node


@dataclasses.dataclass
class ElasticsearchCluster:
    """Several nodes on this machine forming one cluster over real transport.

    ``stop()`` stops every node and deletes its data and the shared snapshot repository.
    """

    nodes: list[ElasticsearchNode]
    repo: Path

    @property
    def urls(self) -> list[str]:
        return [node.url for node in self.nodes]

    @property
    def url(self) -> str:
        """Every node's URL, comma-separated, as ``IRONTRACE_ES_URL`` takes them."""
        return ",".join(self.urls)

    def health(self, **params: str) -> dict[str, object]:
        """``_cluster/health`` asked of the first node that answers."""
        query = "&".join(f"{k}={v}" for k, v in params.items())
        last: Exception | None = None
        for node in self.nodes:
            try:
                with urllib.request.urlopen(f"{node.url}/_cluster/health?{query}", timeout=60) as resp:
                    health: dict[str, object] = json.load(resp)
                    return health
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as e:
                last = e
        raise NodeStartError(f"no node of the cluster answers: {last}")

    def wait_for(self, status: str = "green", nodes: int | None = None, timeout: float = 120) -> None:
        """Until the cluster has ``nodes`` nodes (all by default) and at least ``status`` health."""
        wanted = nodes if nodes is not None else len(self.nodes)
        deadline = time.monotonic() + timeout
        last: object = None
        while time.monotonic() < deadline:
            try:
                last = self.health(wait_for_status=status, wait_for_nodes=str(wanted), timeout="5s")
                if not last.get("timed_out"):
                    return
            except (NodeStartError, urllib.error.HTTPError) as e:
                last = e
            time.sleep(0.5)
        raise NodeStartError(f"cluster not {status} with {wanted} nodes after {timeout:.0f}s: {last}")

    def wait_for_voters(self, timeout: float = 120) -> None:
        """Until every node votes in master elections, as every node knows.

        The cluster bootstraps with the master-eligible nodes found by then (two
        may be enough) and widens the voting configuration after; until every node
        has both its last accepted and its last committed configuration at all the
        nodes, losing one (the master, say) can leave the others without a quorum
        for ever.
        """
        deadline = time.monotonic() + timeout
        seen: object = None
        while time.monotonic() < deadline:
            try:
                seen = [self._voting_configurations(node) for node in self.nodes]
                if all(len(config) == len(self.nodes) for configs in seen for config in configs):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError, KeyError) as e:
                seen = e
            time.sleep(0.5)
        raise NodeStartError(f"not every node votes after {timeout:.0f}s: {seen}")

    @staticmethod
    def _voting_configurations(node: ElasticsearchNode) -> tuple[list[str], list[str]]:
        """The node's own (``local``) last committed and last accepted voting configurations."""
        state = f"{node.url}/_cluster/state/metadata?local=true&filter_path=metadata.cluster_coordination"
        with urllib.request.urlopen(state, timeout=10) as resp:
            coordination = json.load(resp)["metadata"]["cluster_coordination"]
        return coordination["last_committed_config"], coordination["last_accepted_config"]

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        shutil.rmtree(self.repo, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_cluster(
    size: int = 3,
    *,
    version: str = ES_VERSION,
    timeout: float | None = None,
) -> ElasticsearchCluster:
    """Start ``size`` nodes on loopback that discover each other, and return once the cluster is green.

    Heap per node from ``IRONTRACE_ES_HEAP`` (keep it small: every node shares this machine).
    """
    if timeout is None:
        timeout = float(os.environ.get("IRONTRACE_ES_START_TIMEOUT", DEFAULT_START_TIMEOUT))
    home = ensure_distribution(version)
    java_home = find_java_home(version)
    _sweep_stale_run_dirs()
    ports = _free_ports(2 * size)
    http_ports, transport_ports = ports[:size], ports[size:]
    repo = Path(tempfile.mkdtemp(prefix=_RUN_PREFIX + "repo-"))
    (repo / _OWNER_FILE).write_text(f"{os.getpid()}\n")
    if os.geteuid() == 0:
        user = _ensure_user()
        _chown_tree(repo, user.pw_uid, user.pw_gid)
    spec = ClusterSpec(f"irontrace-{transport_ports[0]}", tuple(transport_ports), repo)
    cluster = ElasticsearchCluster([], repo)
    try:
        for http_port, transport_port in zip(http_ports, transport_ports):
            cluster.nodes.append(_launch_node(home, java_home, http_port, transport_port, spec))
        cluster.wait_for("green", timeout=timeout)
        cluster.wait_for_voters(timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


# --------------------------------------------------------------------------- CLI


def _cmd_fetch(args: argparse.Namespace) -> int:
    print(ensure_distribution(args.version))
    return 0


def _cmd_run(args: argparse.Namespace) -> int:
    stop_requested = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        stop_requested.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    node = start_node(args.port, version=args.version)
    try:
        print(f"ready {node.url}", flush=True)
        print(f"# started in {time.monotonic() - started:.1f}s, pid {node.process.pid}, "
              f"logs in {node.run_dir}", file=sys.stderr, flush=True)
        while not stop_requested.wait(1.0):
            if node.process.poll() is not None:
                print(f"node exited unexpectedly (code {node.process.returncode})\n"
                      f"{node.log_tail()}", file=sys.stderr)
                return 1
    finally:
        node.stop()
    return 0


def _cmd_cluster(args: argparse.Namespace) -> int:
    stop_requested = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop_requested.set())
    signal.signal(signal.SIGTERM, lambda *_: stop_requested.set())
    cluster = start_cluster(args.nodes, version=args.version)
    try:
        print(f"ready {cluster.url}", flush=True)
        while not stop_requested.wait(1.0):
            pass
    finally:
        cluster.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--version", default=ES_VERSION, help=f"ES version (default {ES_VERSION})")
    sub = parser.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch", help="download + unpack only; prints ES home")
    fetch.set_defaults(fn=_cmd_fetch)
    run = sub.add_parser("run", help="start a node, print 'ready <url>', block until SIGTERM")
    run.add_argument("--port", type=int, default=None, help="HTTP port (default: a free one)")
    run.set_defaults(fn=_cmd_run)
    cluster = sub.add_parser("cluster", help="start N nodes as one cluster, print 'ready <url,url,...>', block")
    cluster.add_argument("--nodes", type=int, default=3)
    cluster.set_defaults(fn=_cmd_cluster)
    args = parser.parse_args(argv)
    try:
        rc: int = args.fn(args)
        return rc
    except NodeStartError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
