"""Elasticsearch as a cluster: nodes killed and restarted under real traffic lose no check and no write.

One real 3-node cluster for the file (``scripts/es_node.start_cluster``, small
heaps, real transport between the nodes), and per test one real gunicorn
pointed at all three nodes.  Faults strike at points defined by progress (after
so many answers, rows or writes), never after a time, and every wait is on a
condition (an answer count, the cluster's health).  After each test the nodes
killed are started again and the cluster is green before the next one.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from elasticsearch import ApiError

from registry.config import ConfigurationError, load_settings
from registry.storage.elasticsearch.cluster import bulk_items, client_from_settings
from registry.storage.elasticsearch.mappings import shard_settings
from tests.conftest import SCRIPTS, report_data, wait_until
from tests.processes import Gunicorn, Worker

# Slow: a cluster to start, and each killed node to start again (half a minute on this machine).
pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

NODES = 3
# Small heaps: three nodes beside the suite's own on a 2-core, shared machine.  C1 only (no C2): a
# node's start costs half the CPU (12 s against 22 s measured here), and the file starts a node
# nine times; the nodes' answers are the same, only their JIT-compiled code is less optimized.
JVM_OPTIONS = "-Xms448m -Xmx448m -XX:TieredStopAtLevel=1"
RETRY_BUDGET = 3  # ES_MAX_RETRIES: a request is sent to at most this many more nodes
# Longer than a master election or a primary's promotion after a node dies (a few seconds here):
# a request waiting on either is answered, not cut off.
REQUEST_TIMEOUT = 30
HEALING_SECONDS = 300  # a node's restart and the recovery of its shards, on a busy machine
SERVER = {"workers": 1, "threads": 8}  # one client (one node rotation) sees every request

# Each fault strikes after a quarter or less of the traffic, and each test asserts that traffic was still
# flowing when the node died (most of it answered after the kill, through the failover).
CHECKS = 120
KILL_AFTER_CHECKS = 30
ROWS = 600
KILL_AFTER_ROWS = 100  # two batches of IRONTRACE_BULK_BATCH_SIZE; ten more after the kill
WRITES = 60
KILL_AFTER_WRITES = 15
REGISTERED = 20


def _start_cluster() -> Any:
    sys.path.insert(0, str(SCRIPTS))
    from es_node import start_cluster

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("IRONTRACE_ES_HEAP", JVM_OPTIONS)
        return start_cluster(NODES)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Three nodes for the file; a node that cannot start fails the run under ``CI=true``."""
    try:
        started = _start_cluster()
    except Exception as exc:  # fetch, JDK, start-up: any reason the cluster is not there
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"cannot start a {NODES}-node Elasticsearch cluster: {exc}", pytrace=False)
        pytest.skip(f"cannot start a {NODES}-node Elasticsearch cluster: {exc}")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def healed(cluster) -> Iterator[Any]:
    """The cluster, green again after the test: nodes it killed are restarted."""
    yield cluster
    for node in cluster.nodes:
        if node.process.poll() is not None:
            node.restart()
    cluster.wait_for("green", timeout=HEALING_SECONDS)


@pytest.fixture
def env(healed, tmp_path: Path) -> Iterator[dict[str, str]]:
    """A registry of its own on the cluster, reached through every node; its indices go after the test."""
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield {
        "IRONTRACE_ES_URL": healed.url,
        "IRONTRACE_ES_INDEX_PREFIX": prefix,
        "IRONTRACE_ES_REFRESH_INTERVAL": "100ms",
        "IRONTRACE_ES_MAX_RETRIES": str(RETRY_BUDGET),
        "IRONTRACE_ES_TIMEOUT_SECONDS": str(REQUEST_TIMEOUT),
        "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "audit-heads.ndjson"),
        "IRONTRACE_RATE_LIMIT_PER_MINUTE": "1000000",
        "IRONTRACE_RATE_LIMIT_BURST": "1000000",
        "IRONTRACE_MAINTENANCE_SECONDS": "3600",
        "IRONTRACE_BULK_BATCH_SIZE": "50",
        "IRONTRACE_BULK_POLL_SECONDS": "0.1",
    }
    # Before the killed node is back: it then has nothing of this test's to recover.
    live = next(node for node in healed.nodes if node.process.poll() is None)
    indices = requests.get(f"{live.url}/_cat/indices/{prefix}-*", params={"h": "index", "format": "json"},
                           timeout=60).json()
    if indices:
        requests.delete(f"{live.url}/{','.join(row['index'] for row in indices)}", timeout=60).raise_for_status()


@dataclass(frozen=True)
class Answer:
    n: int
    status: int | None  # None: no HTTP answer at all
    body: Any


class Stream:
    """Client threads sending ``send(session, n)`` for n = 0, 1, ... up to ``limit`` (or until stopped),
    each answer recorded; with ``pace`` each client waits that long between its requests."""

    def __init__(self, server: Gunicorn, send: Callable[[requests.Session, int], requests.Response],
                 clients: int = 4, limit: int = CHECKS, pace: float = 0.0) -> None:
        self.server, self.send, self.limit, self.pace = server, send, limit, pace
        self.answers: list[Answer] = []
        self._numbers = itertools.count()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def _client(self) -> None:
        with requests.Session() as session:
            session.headers.update(self.server.http.headers)
            while not self._stop.is_set():
                with self._lock:
                    n = next(self._numbers)
                if n >= self.limit:
                    return
                try:
                    response = self.send(session, n)
                    answer = Answer(n, response.status_code, response.json() if response.content else None)
                except requests.RequestException as exc:
                    answer = Answer(n, None, repr(exc))
                with self._lock:
                    self.answers.append(answer)
                if self.pace:
                    self._stop.wait(self.pace)

    @property
    def answered(self) -> int:
        with self._lock:
            return len(self.answers)

    def failed(self) -> list[Answer]:
        return [a for a in self.answers if a.status is None or a.status >= 500]

    def __enter__(self) -> Stream:
        for thread in self._threads:
            thread.start()
        return self

    def finish(self) -> None:
        for thread in self._threads:
            thread.join(timeout=600)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.finish()


def node_named(cluster, name: str) -> Any:
    """The node es_node names ``node-{transport port}``."""
    return next(node for node in cluster.nodes if f"node-{node.transport_port}" == name)


def master(cluster) -> Any:
    [row] = requests.get(f"{cluster.nodes[0].url}/_cat/master", params={"format": "json"}, timeout=60).json()
    return node_named(cluster, row["node"])


def primary_of(cluster, index: str) -> Any:
    """The node holding the primary shard of ``index`` (an alias): the one whose loss writes feel."""
    rows = requests.get(f"{cluster.nodes[0].url}/_cat/shards/{index}", params={"format": "json", "h": "prirep,node"},
                        timeout=60).json()
    return node_named(cluster, next(row["node"] for row in rows if row["prirep"] == "p"))


def retried_requests(server: Gunicorn) -> int:
    """Requests the service's Elasticsearch client sent again after a node failed them."""
    return sum(1 for line in server.log_lines() if line.get("message", "").startswith("Retrying request after"))


def register(server: Gunicorn, count: int = REGISTERED) -> list[dict]:
    reports = [server.http.post(server.url + "/v1/reports", json=report_data(
        f"CL-{n}", identifiers=[{"type": "serial", "value": f"CLU{n:06d}"}])) for n in range(count)]
    assert [r.status_code for r in reports] == [201] * count
    return [r.json() for r in reports]


def check_reading(n: int) -> str:
    """Every fourth reading a registered serial, the others far from any."""
    return f"CLU{n % REGISTERED:06d}" if n % 4 == 0 else f"QZ{n:07d}XY"


def test_a_node_killed_during_a_stream_of_checks_fails_no_check(healed, env):
    with Gunicorn(env, **SERVER) as server:
        register(server)
        with Stream(server, lambda http, n: http.post(f"{server.url}/v1/checks",
                                                      json={"identifier": check_reading(n)})) as stream:
            wait_until(lambda: stream.answered, lambda n: n >= KILL_AFTER_CHECKS, "the first checks")
            victim = master(healed)  # the harder case: the cluster elects a new master meanwhile
            victim.kill()
            answered_at_the_kill = stream.answered
            stream.finish()
        retried = retried_requests(server)
    failed = stream.failed()
    print(f"\n{CHECKS} checks, node killed after {KILL_AFTER_CHECKS}: {len(failed)} failed, "
          f"{retried} Elasticsearch requests retried on another node")
    assert answered_at_the_kill < CHECKS  # the node died while checks flowed
    assert failed == []
    assert [a.status for a in stream.answers] == [200] * CHECKS
    assert all(a.body["verdict"] == ("hit" if a.n % 4 == 0 else "no_match") for a in stream.answers)
    assert retried >= 1  # the dead node was asked, and the client went to another


def test_a_node_killed_during_a_bulk_check_job_leaves_every_row_answered_once(healed, env):
    rows = io.StringIO()
    csv.writer(rows).writerows([["serial", "line"], *[[check_reading(n), str(n)] for n in range(ROWS)]])
    with Gunicorn(env, **SERVER) as server:
        register(server)
        created = server.http.post(f"{server.url}/v1/bulk-checks", data=rows.getvalue().encode(),
                                   headers={"Content-Type": "text/csv"})
        assert created.status_code == 202, created.text
        location = server.url + created.headers["Location"]
        with Worker(env):
            wait_until(lambda: server.http.get(location).json(), lambda job: job["rows_done"] >= KILL_AFTER_ROWS,
                       "the job's first rows")
            primary_of(healed, env["IRONTRACE_ES_INDEX_PREFIX"] + "-bulk-results").kill()
            at_the_kill = server.http.get(location).json()
            job = wait_until(lambda: server.http.get(location).json(), lambda job: job["status"] == "done",
                             "the job's completion")
        results = server.http.get(location + "/results", headers={"Accept": "application/x-ndjson"})
    assert at_the_kill["status"] != "done" and at_the_kill["rows_done"] < ROWS  # the node died mid-job
    assert job["rows_done"] == ROWS and job["hits"] == ROWS // 4 and job["no_matches"] == ROWS * 3 // 4
    answered = [json.loads(line) for line in results.text.splitlines()]
    assert [r["row"] for r in answered] == list(range(2, ROWS + 2))  # every row once, in input order
    assert [r["verdict"] for r in answered] == ["hit" if n % 4 == 0 else "no_match" for n in range(ROWS)]


def test_a_node_killed_during_report_writes_loses_no_acknowledged_write(healed, env):
    def write(http: requests.Session, n: int) -> requests.Response:
        return http.post(f"{server.url}/v1/reports", json=report_data(
            f"W-{n}", identifiers=[{"type": "serial", "value": f"WRT{n:06d}"}]))

    with Gunicorn(env, **SERVER) as server:
        with Stream(server, write, limit=WRITES) as stream:
            wait_until(lambda: stream.answered, lambda n: n >= KILL_AFTER_WRITES, "the first writes")
            primary_of(healed, env["IRONTRACE_ES_INDEX_PREFIX"] + "-reports").kill()
            answered_at_the_kill = stream.answered
            stream.finish()
        acknowledged = [a for a in stream.answers if a.status == 201]
        print(f"\n{WRITES} report writes, node killed after {KILL_AFTER_WRITES}: {len(acknowledged)} acknowledged, "
              f"{len(stream.failed())} failed, {retried_requests(server)} Elasticsearch requests retried")
        assert answered_at_the_kill < WRITES  # the node died while writes flowed
        assert len(acknowledged) == WRITES  # none failed: the retries hid the dead node
        for answer in acknowledged:
            report = answer.body
            assert server.http.get(f"{server.url}/v1/reports/{report['id']}").json()["external_ref"] == f"W-{answer.n}"
            found = server.http.post(f"{server.url}/v1/checks", json={"identifier": f"WRT{answer.n:06d}"}).json()
            exact = [m["report_id"] for m in found["matches"] if m["match_type"] == "exact"]
            assert found["verdict"] == "hit" and exact == [report["id"]]  # stored once
        verified = server.http.get(f"{server.url}/v1/audit/verify").json()
        created = server.http.get(f"{server.url}/v1/audit", params={"action": "report.create", "limit": 500}).json()
    assert verified["intact"]
    assert sorted(e["subject"] for e in created["items"]) == sorted(a.body["id"] for a in acknowledged)  # once each


def test_every_node_restarted_in_turn_under_steady_load_fails_no_request(healed, env):
    with Gunicorn(env, **SERVER) as server:
        register(server)
        with Stream(server, lambda http, n: http.post(f"{server.url}/v1/checks",
                                                      json={"identifier": check_reading(n)}),
                    clients=2, limit=100_000, pace=0.05) as stream:
            for node in healed.nodes:
                before = stream.answered
                node.terminate()
                healed.wait_for("yellow", nodes=NODES - 1, timeout=HEALING_SECONDS)
                node.restart()
                healed.wait_for("green", timeout=HEALING_SECONDS)
                wait_until(lambda: stream.answered, lambda n, before=before: n >= before + 20,
                           "checks answered while the node was away and back")
        retried = retried_requests(server)
    print(f"\nrolling restart of {NODES} nodes: {stream.answered} checks, {len(stream.failed())} failed, "
          f"{retried} Elasticsearch requests retried")
    assert stream.failed() == [] and {a.status for a in stream.answers} == {200}


@pytest.mark.parametrize(("variable", "value"), [
    ("IRONTRACE_ES_SHARDS", "0"), ("IRONTRACE_ES_SHARDS", "two"), ("IRONTRACE_ES_REPLICAS", "-1"),
    ("IRONTRACE_ES_REPLICAS", "some"), ("IRONTRACE_ES_WAIT_FOR_ACTIVE_SHARDS", "0"),
    ("IRONTRACE_ES_WAIT_FOR_ACTIVE_SHARDS", "3"),  # replicas "auto" makes at most 2 copies
    ("IRONTRACE_ES_WAIT_FOR_ACTIVE_SHARDS", "quorum"), ("IRONTRACE_ES_MAX_RETRIES", "-1"),
])
def test_unusable_cluster_settings_are_refused_naming_the_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_settings()


def test_every_document_write_waits_for_the_active_shards_asked_for(es_url):
    """On one node a replica never starts: asking for two active copies, each kind of write is
    refused (503, after the short wait given here) rather than acknowledged with one copy."""
    strict = client_from_settings(load_settings({"ES_URL": es_url, "ES_REPLICAS": 1, "ES_WAIT_FOR_ACTIVE_SHARDS": "2",
                                                 "ES_MAX_RETRIES": 0}))
    index = f"test-{uuid.uuid4().hex[:12]}-copies"
    strict.indices.create(index=index, settings=shard_settings(1, 1))
    try:
        strict.index(index=index, id="there", document={"n": 1}, wait_for_active_shards="1", refresh=True)
        writes = {
            "index": lambda: strict.index(index=index, id="new", document={"n": 2}, timeout="200ms"),
            "create": lambda: strict.create(index=index, id="new", document={"n": 2}, timeout="200ms"),
            "update": lambda: strict.update(index=index, id="there", doc={"n": 3}, timeout="200ms"),
            "delete": lambda: strict.delete(index=index, id="there", timeout="200ms"),
        }
        for name, write in writes.items():
            with pytest.raises(ApiError) as refused:
                write()
            assert (name, refused.value.status_code) == (name, 503)
        [item] = bulk_items(strict, [{"index": {"_index": index, "_id": "new"}}, {"n": 2}], timeout="200ms")
        assert item["status"] == 503 and item["error"]["type"] == "unavailable_shards_exception"
        assert strict.get(index=index, id="there")["_source"] == {"n": 1}  # nothing was written
    finally:
        strict.indices.delete(index=index)
        strict.close()
