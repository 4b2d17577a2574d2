"""What /metrics counts, series by series, over real HTTP (gunicorn's multiprocess sums: test_operations.py).

In one test process every app shares the client's in-memory registry, so each
test compares a scrape after what it did with one before.
"""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from registry import create_app
from tests.conftest import LiveServer, close_storage, es_cluster, issue_key, report_data, settings_for
from tests.test_integrations import NEVER_REPORTED, STOLEN_PIN, federated, set_mode, simulator  # noqa: F401

Sample = tuple[str, tuple[tuple[str, str], ...]]


def scrape(server: LiveServer) -> dict[Sample, float]:
    answer = server.get("/metrics")
    assert answer.status_code == 200
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def grew(before: dict[Sample, float], after: dict[Sample, float], name: str, **labels: str) -> float:
    key = (name, tuple(sorted(labels.items())))
    return after.get(key, 0.0) - before.get(key, 0.0)


def test_external_source_calls_latency_and_circuits_are_counted(federated, simulator):  # noqa: F811 (fixtures)
    server = federated()
    before = scrape(server)
    assert server.post("/v1/checks", json={"identifier": STOLEN_PIN}).json()["verdict"] == "hit"
    set_mode(simulator, "smv", "error")
    for n in range(3):  # three failures in a row open the circuit
        server.post("/v1/checks", json={"identifier": f"{NEVER_REPORTED}{n}"})
    server.post("/v1/checks", json={"identifier": f"{NEVER_REPORTED}X"})  # refused by the open circuit
    after = scrape(server)
    assert grew(before, after, "irontrace_source_calls_total", source="smv", outcome="ok") == 1
    assert grew(before, after, "irontrace_source_calls_total", source="smv", outcome="error") == 3
    assert grew(before, after, "irontrace_source_calls_total", source="smv", outcome="circuit_open") == 1
    assert grew(before, after, "irontrace_source_calls_total", source="screening", outcome="ok") == 5
    assert grew(before, after, "irontrace_source_call_duration_seconds_count", source="smv") == 4
    assert after[("irontrace_source_circuit", (("source", "smv"), ("state", "open")))] == 1
    assert after[("irontrace_source_circuit", (("source", "smv"), ("state", "closed")))] == 0
    assert after[("irontrace_source_circuit", (("source", "screening"), ("state", "closed")))] == 1


def test_checks_bulk_rows_and_requests_are_counted(tmp_path):
    app = create_app({"DB": str(tmp_path / "metrics.db"), "BULK_WORKER_THREADS": 0})
    try:
        with LiveServer(app, issue_key(app)) as server:
            server.post("/v1/reports", json=report_data())
            before = scrape(server)
            assert server.post("/v1/checks", json={"identifier": "CAT0336DLTJF00123"}).json()["verdict"] == "hit"
            rows = "serial\nZZZ0000000001\nZZZ0000000002\nZZZ0000000003\n"
            assert server.post("/v1/checks/bulk", data=rows, headers={"Content-Type": "text/csv"}).status_code == 200
            server.get("/v1/nowhere")
            after = scrape(server)
    finally:
        close_storage(app)
    assert grew(before, after, "irontrace_checks_total", verdict="hit", match_type="exact") == 1
    assert grew(before, after, "irontrace_checks_total", verdict="no_match", match_type="none") == 3
    assert grew(before, after, "irontrace_bulk_rows_checked_total", mode="sync") == 3
    assert grew(before, after, "irontrace_http_requests_total", method="POST", endpoint="/v1/checks",
                status="200") == 1
    assert grew(before, after, "irontrace_http_request_duration_seconds_count", method="POST",
                endpoint="/v1/checks/bulk") == 1
    assert grew(before, after, "irontrace_http_requests_total", method="GET", endpoint="unmatched", status="404") == 1


@pytest.fixture
def on_elasticsearch(es_url):
    app = create_app({**settings_for(es_url), "BULK_WORKER_THREADS": 0})
    yield app
    close_storage(app)


def test_audit_entries_that_cannot_be_written_are_counted(on_elasticsearch):
    app = on_elasticsearch
    with LiveServer(app, issue_key(app)) as server:
        before = scrape(server)
        cluster = es_cluster(app.extensions["irontrace"].engine)
        audit_index = f"{cluster.audit_alias}-v1"  # the disk-full block on the audit log alone
        cluster.client.indices.put_settings(index=audit_index, settings={"index.blocks.read_only_allow_delete": True})
        try:
            created = server.post("/v1/reports", json=report_data("AUDIT-FAIL-1"))
        finally:
            cluster.client.indices.put_settings(index=audit_index,
                                                settings={"index.blocks.read_only_allow_delete": None})
        # The write stands; its entry waits in the outbox for recovery, which appends it later.
        assert created.status_code == 201
        assert server.get("/v1/audit/verify").json()["pending"] == 1
        after = scrape(server)
    assert grew(before, after, "irontrace_audit_append_failures_total", action="report.create") == 1
