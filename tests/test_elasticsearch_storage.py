"""The Elasticsearch engine against a real node: same behaviour as SQLite, and honest failures.

One node serves the whole session (``scripts/es_node.py``, about 10 s to
start), or the cluster named by ``IRONTRACE_TEST_ES_URL``.  Every test gets its
own index prefix, so tests never see each other's reports.  Under ``CI=true``
a node that cannot start fails the tests instead of skipping them.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import Elasticsearch

from registry import create_app
from registry.access import Actor
from registry.config import load_settings
from registry.errors import Conflict, InvalidRequest, NotFound, PreconditionFailed, StorageUnavailable
from registry.records import AuditFilter, ReportFilter
from registry.services import Services, services_over
from registry.stamps import new_id, utc_now
from registry.storage import open_engine
from registry.storage.cursors import encode_cursor
from registry.storage.elasticsearch.reports import report_fields
from registry.storage.interfaces import Engine
from registry.storage.sqlite import open_sqlite
from registry.validation import validate_report
from search.keys import query_keys
from search.policy import KEY_CANDIDATE_LIMIT
from search.query import CheckQuery
from tests.conftest import (
    RECOVERY,
    audit_entry,
    bearer,
    candidates,
    drop_indices,
    es_cluster,
    issue_key,
    report_data,
    settings_for,
    upsert,
)

CLOSED_PORT_URL = "http://127.0.0.1:1"  # nothing listens on port 1: connections are refused at once
FAILURE_BUDGET_SECONDS = 5
SHORT_TIMEOUT_SECONDS = 1


@pytest.fixture
def storage(es_url: str) -> Iterator[Engine]:
    """An engine with its own indices, opened the way the app opens it; indices dropped after."""
    engine = open_engine(settings_for(es_url))
    assert engine.admin is not None
    yield engine
    drop_indices(engine)


OPERATOR = Actor.operator()


def services(engine: Engine) -> Services:
    return services_over(engine, load_settings())


def document(ref: str, **overrides: Any) -> dict:
    """A stored report as the service builds it (validated, with server fields)."""
    now = utc_now()
    return {**validate_report(report_data(ref, **overrides)), "id": new_id(), "version": 1,
            "created_at": now, "updated_at": now}


def seed(storage, numbers: range, **overrides: Any) -> list[dict]:
    """One report per number, each with its own case number and serial, stored in one batch, oldest first."""
    docs = [
        document(f"SEED-{n:05d}", identifiers=[{"type": "serial", "value": f"SRL{n:07d}XQ"}], **overrides)
        for n in numbers
    ]
    assert [o.action for o in upsert(storage, docs)] == ["created"] * len(docs)
    return docs


# -- reports -------------------------------------------------------------------------


def test_create_get_and_conflict(storage: Engine) -> None:
    created = storage.reports.create(document("KZ-1"), audit_entry("report.create"))

    assert storage.reports.get(created["id"]) == created
    assert len(list(storage.reports.iter_all())) == 1
    same_agency = {"name": "  police department OF turkestan region ", "country": "KZ"}
    again = document("KZ-1", reporting_agency=same_agency)
    with pytest.raises(Conflict) as conflict:
        storage.reports.create(again, audit_entry("report.create"))
    assert conflict.value.extra["existing_id"] == created["id"]
    with pytest.raises(NotFound):
        storage.reports.get(new_id())
    other_agency = storage.reports.create(document("KZ-1", reporting_agency={"name": "Police of Almaty"}),
                                          audit_entry("report.create"))
    assert len(list(storage.reports.iter_all())) == 2
    assert storage.reports.get(other_agency["id"])["reporting_agency"]["name"] == "Police of Almaty"


def test_replace_checks_the_version(storage: Engine) -> None:
    reports = services(storage).reports
    created = reports.create(OPERATOR, validate_report(report_data("KZ-2")))

    updated = reports.update(OPERATOR, created["id"], {"status": "recovered", "recovery": RECOVERY}, 1)

    assert updated["version"] == 2
    assert storage.reports.get(created["id"]) == updated
    with pytest.raises(PreconditionFailed) as stale:
        reports.update(OPERATOR, created["id"], {"status": "stolen"}, 1)
    assert stale.value.extra["current_version"] == 2
    with pytest.raises(NotFound):
        storage.reports.replace({**updated, "id": new_id()}, 2, audit_entry("report.update"))


def test_changing_the_case_number_moves_the_report_without_losing_it(storage: Engine) -> None:
    reports = services(storage).reports
    moved = reports.create(OPERATOR, validate_report(report_data("OLD-REF")))
    blocker = reports.create(OPERATOR, validate_report(report_data("TAKEN-REF")))

    result = reports.update(OPERATOR, moved["id"], {"external_ref": "NEW-REF"}, 1)

    assert result["external_ref"] == "NEW-REF"
    assert storage.reports.get(moved["id"]) == result
    assert len(list(storage.reports.iter_all())) == 2
    reused = reports.create(OPERATOR, validate_report(report_data("OLD-REF")))  # the old case number is free again
    with pytest.raises(Conflict) as clash:
        reports.update(OPERATOR, moved["id"], {"external_ref": "TAKEN-REF"}, 2)
    assert clash.value.extra["existing_id"] == blocker["id"]
    assert storage.reports.get(moved["id"]) == result
    assert len(list(storage.reports.iter_all())) == 3
    assert {r["id"] for r in storage.reports.iter_all()} == {moved["id"], blocker["id"], reused["id"]}


def test_a_move_that_loses_a_race_is_undone(storage: Engine) -> None:
    """Another writer updates the old copy between the read and the move: 412, one copy, its version."""
    reports = services(storage).reports
    report = reports.create(OPERATOR, validate_report(report_data("RACE-1")))
    store = storage.reports
    copies = store._copies  # type: ignore[attr-defined]
    raced = False

    def copies_then_race(es, report_id):
        nonlocal raced
        found = copies(es, report_id)
        if not raced:
            raced = True
            changed = report_fields({**report, "version": 2, "color": "red"}, found[0]["_source"]["seq"])
            cluster = es_cluster(storage)
            cluster.client.index(index=cluster.reports_alias, id=found[0]["_id"], document=changed,
                                 refresh="wait_for")
        return found

    store._copies = copies_then_race  # type: ignore[attr-defined]
    with pytest.raises(PreconditionFailed) as stale:
        reports.update(OPERATOR, report["id"], {"external_ref": "RACE-2"}, 1)
    del store._copies  # type: ignore[attr-defined]

    assert stale.value.extra["current_version"] == 2
    assert storage.reports.get(report["id"])["color"] == "red"
    assert [r["external_ref"] for r in storage.reports.iter_all()] == ["RACE-1"]


def test_upsert_creates_updates_and_leaves_unchanged(storage: Engine) -> None:
    first = [document("IMP-1"), document("IMP-2"), document("IMP-3")]
    assert [o.action for o in upsert(storage, first)] == ["created"] * 3
    listed_before = [r["id"] for r in storage.reports.list(ReportFilter(), 10, None).items]

    replay = [document("IMP-1"), document("IMP-2", color="orange"), document("IMP-4")]
    outcomes = upsert(storage, replay)

    assert [o.action for o in outcomes] == ["unchanged", "updated", "created"]
    assert [o.report_id for o in outcomes[:2]] == [first[0]["id"], first[1]["id"]]
    assert storage.reports.get(first[0]["id"])["version"] == 1
    updated = storage.reports.get(first[1]["id"])
    assert (updated["version"], updated["color"], updated["created_at"]) == (2, "orange", first[1]["created_at"])
    assert len(list(storage.reports.iter_all())) == 4
    # An update keeps the report's place in the listing; the new one is newest.
    listed_after = [r["id"] for r in storage.reports.list(ReportFilter(), 10, None).items]
    assert listed_after == [replay[2]["id"], *listed_before]
    assert upsert(storage, []) == []


def test_upsert_of_one_case_twice_in_a_batch_creates_then_updates(storage: Engine) -> None:
    """The second write of a case races the first inside one bulk; the retry turns it into an update."""
    outcomes = upsert(storage, [document("DUP-1"), document("DUP-1", color="green")])

    assert [o.action for o in outcomes] == ["created", "updated"]
    (stored,) = list(storage.reports.iter_all())
    assert (stored["color"], stored["version"]) == ("green", 2)


def test_import_prepares_in_worker_processes(storage: Engine) -> None:
    """The engine's batch preparation runs in other processes (it must pickle) and imports stay idempotent."""
    rows = [report_data(f"W-{n}", identifiers=[{"type": "serial", "value": f"WRK{n:06d}"}]) for n in range(30)]
    imports = services(storage).imports

    first = imports.import_rows(OPERATOR, enumerate(rows, start=1), workers=2)
    again = imports.import_rows(OPERATOR, enumerate(rows, start=1), workers=2)

    assert (first.created, first.updated, first.unchanged) == (30, 0, 0)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 30)
    assert len(list(storage.reports.iter_all())) == 30


# -- listing -------------------------------------------------------------------------


def test_list_filters_and_cursor_pages(storage: Engine) -> None:
    docs = seed(storage, range(7))
    upsert(storage, [
        document("F-1", status="recovered", category="loader", manufacturer="Komatsu",
                 description="Wheel loader with a bent bucket"),
        document("F-2", category="drill_rig", manufacturer="Epiroc", description="Blasthole drill rig, red mast",
                 incident={"country": "MN"}),
    ])

    def refs(**filters: Any) -> list[str]:
        return [r["external_ref"] for r in storage.reports.list(ReportFilter(**filters), 50, None).items]

    pages, cursor = [], None
    while True:
        page = storage.reports.list(ReportFilter(category="excavator"), 3, cursor)
        pages.append([r["external_ref"] for r in page.items])
        if not (cursor := page.next_cursor):
            break
    assert pages == [["SEED-00006", "SEED-00005", "SEED-00004"], ["SEED-00003", "SEED-00002", "SEED-00001"],
                     ["SEED-00000"]]
    assert refs()[:2] == ["F-2", "F-1"] and len(refs()) == len(docs) + 2
    assert refs(status="recovered") == ["F-1"]
    assert refs(manufacturer="  KOMATSU ") == ["F-1"]
    assert refs(country="MN") == ["F-2"]
    assert refs(q="the drill MAST") == ["F-2"]
    assert refs(q="drill bucket") == []  # every word must be present
    assert refs(q="the of") == []
    assert refs(status="cancelled") == []


@pytest.mark.parametrize("cursor", ["not-base64!", encode_cursor(12), encode_cursor([1]),
                                    encode_cursor(["a", "b"]), encode_cursor([True, "x"])])
def test_a_foreign_cursor_is_an_invalid_request(storage: Engine, cursor: str) -> None:
    with pytest.raises(InvalidRequest):
        storage.reports.list(ReportFilter(), 10, cursor)


# -- checks --------------------------------------------------------------------------


def test_candidates_match_the_sqlite_engine(storage: Engine, tmp_path: Path) -> None:
    """Fuzzy, partial and description retrieval find the same reports as the embedded engine."""
    sqlite = open_sqlite(str(tmp_path / "parity.db"))
    docs = [
        document("C-1"),  # CAT0336DLTJF00123 and C9-4RT05521, with a breaker
        document("C-2", identifiers=[{"type": "pin", "value": "KMTPC200C8A12345"}], manufacturer="Komatsu",
                 description="Excavator, blue stripe on the boom"),
        document("C-3", identifiers=[{"type": "serial", "value": "EPI-77-ROCDRILL-9"}], category="drill_rig",
                 description="Drill rig with a hydraulic breaker kit"),
        document("C-4", identifiers=[{"type": "serial", "value": "ZZ9"}], category="generator", color="grey",
                 manufacturer="Atlas Copco", description="Generator, 3.5m trailer"),
    ]
    upsert(storage, docs)
    upsert(sqlite, docs)
    queries = [
        ("CAT0336DLTJF00128", None),  # one substitution
        ("CATO336DLTJFOO123", None),  # O for 0
        ("TJF00123", None),  # the trailing part of a PIN
        ("KMTPC2OOC8A1234", None),  # a deletion and a confusable
        ("ZZ9", None),
        (None, "yellow excavator with a hydraulic breaker"),
        (None, "trailer 3.5m"),
        ("NOTHING-LIKE-IT", "completely unrelated words"),
    ]
    found = {}
    for identifier, description in queries:
        keys = query_keys(identifier) if identifier else None
        es_ids = {d["id"] for d in candidates(storage, keys, description)}
        assert es_ids == {d["id"] for d in candidates(sqlite, keys, description)}, (identifier, description)
        found[identifier or description] = {d["external_ref"] for d in docs if d["id"] in es_ids}
    sqlite.close()

    assert found["CAT0336DLTJF00128"] == {"C-1"}
    assert found["TJF00123"] == {"C-1"}
    assert found["KMTPC2OOC8A1234"] == {"C-2"}
    assert found["yellow excavator with a hydraulic breaker"] == {"C-1", "C-2", "C-3"}
    assert found["trailer 3.5m"] == {"C-4"}
    assert found["NOTHING-LIKE-IT"] == set()
    assert candidates(storage, None, None) == []


def test_key_candidates_are_ranked_by_shared_keys_within_the_limit(storage: Engine,
                                                                     tmp_path: Path) -> None:
    """More reports share a key than the limit allows: both engines keep the same best ones,
    and screen them the same way (``within_reach``)."""
    sqlite = open_sqlite(str(tmp_path / "limit.db"))
    # Digits only in class 1 (positions 1, 4, 7): every serial shares the class 0 and 2 keys.
    serials = ["A{}CD{}FG{}IJKL".format(*f"{n:03d}") for n in range(KEY_CANDIDATE_LIMIT + 60)]
    family = [document(f"L-{n:03d}", identifiers=[{"type": "serial", "value": v}]) for n, v in enumerate(serials)]
    upsert(storage, family)
    upsert(sqlite, family)
    keys = query_keys("A2CD4FG2IJKL")

    es_ids = {d["id"] for d in candidates(storage, keys, None)}

    assert 0 < len(es_ids) < KEY_CANDIDATE_LIMIT  # the screening dropped the far ones
    assert es_ids == {d["id"] for d in candidates(sqlite, keys, None)}
    assert family[242]["id"] in es_ids
    sqlite.close()


def test_save_check_keeps_the_record(storage: Engine) -> None:
    storage.reports.create(document("CHK-1"), audit_entry("report.create"))

    result = services(storage).checks.check(OPERATOR, CheckQuery("CAT0336DLTJF00123"))
    record = result.record

    assert result.verdict == "hit"
    cluster = es_cluster(storage)
    cluster.client.indices.refresh(index=cluster.checks_alias)
    stored = cluster.client.get(index=cluster.checks_alias, id=record["check_id"])["_source"]
    assert stored["document"] == record
    assert stored["verdict"] == "hit"


# -- operations ----------------------------------------------------------------------


def test_an_index_of_an_older_release_gains_the_fields_added_since(es_url: str) -> None:
    """A jobs index made before jobs were listed by owner gets ``owner`` at first use; its old jobs stay
    readable, and new ones are listed by owner."""
    settings = settings_for(es_url)
    client = Elasticsearch(es_url)
    alias = f"{settings['ES_INDEX_PREFIX']}-bulk-jobs"
    old = {"dynamic": "strict", "properties": {"status": {"type": "keyword"}, "created_at": {"type": "date"},
                                               "document": {"type": "object", "enabled": False}}}
    client.indices.create(index=f"{alias}-v1", mappings=old, aliases={alias: {}})
    engine = open_engine(settings)
    try:
        engine.admin.init()
        assert "owner" in client.indices.get_mapping(index=alias)[f"{alias}-v1"]["mappings"]["properties"]
        services = services_over(engine, settings)
        job = services.bulk.submit(OPERATOR, io.BytesIO(b"serial\nCAT0336DLTJF00123\n"), "csv", "stock.csv")
        assert [j["id"] for j in services.bulk.list(OPERATOR, 10).items] == [job["id"]]
    finally:
        client.close()
        drop_indices(engine)


def test_init_is_idempotent_and_ping_reports_health(storage: Engine) -> None:
    prefix = es_cluster(storage).prefix
    aliases = [f"{prefix}-{kind}" for kind in ("audit", "audit-outbox", "bulk-jobs", "bulk-results", "bulk-rows",
                                               "changes", "checks", "confirmations", "counters", "keys", "reports",
                                               "review-notices", "sightings", "users", "webhook-deliveries",
                                               "webhooks")]
    assert storage.admin is not None
    assert sorted(storage.admin.init()) == sorted(f"{alias}-v1" for alias in aliases)
    assert storage.admin.init() == []
    storage.ping()


def test_reindex_keeps_every_report_and_moves_the_alias(storage: Engine) -> None:
    # More reports than one search page and one bulk request hold.
    docs = seed(storage, range(1000)) + seed(storage, range(1000, 1500), status="missing")
    first_page = storage.reports.list(ReportFilter(), 100, None)
    before = list(storage.reports.iter_all())

    assert storage.admin is not None
    result = storage.admin.reindex()

    es, alias = es_cluster(storage).client, es_cluster(storage).reports_alias
    assert (result.old_index, result.new_index, result.copied) == (f"{alias}-v1", f"{alias}-v2", len(docs))
    assert list(es.indices.get_alias(name=alias)) == [result.new_index]
    assert not es.indices.exists(index=result.old_index)
    assert list(storage.reports.iter_all()) == before
    # A cursor issued before the reindex still continues where it stopped.
    second_page = storage.reports.list(ReportFilter(), 100, first_page.next_cursor)
    assert second_page.items[0]["id"] == before[-101]["id"]
    assert {d["id"] for d in candidates(storage, query_keys("SRL0000042XQ"), None)} >= {docs[42]["id"]}
    assert storage.reports.list(ReportFilter(status="missing"), 1000, None).items[-1]["id"] == docs[1000]["id"]
    assert storage.admin.reindex().new_index == f"{alias}-v3"
    assert len(list(storage.reports.iter_all())) == len(docs)


# -- failures ------------------------------------------------------------------------


def every_call(storage: Engine) -> list:
    report = document("DOWN-1")
    assert storage.admin is not None
    admin = storage.admin
    return [
        storage.ping,
        lambda: storage.reports.create(report, audit_entry("report.create")),
        lambda: storage.reports.get(report["id"]),
        lambda: storage.reports.replace(report, 1, audit_entry("report.update")),
        lambda: upsert(storage, [report]),
        lambda: storage.reports.list(ReportFilter(), 10, None),
        lambda: list(storage.reports.iter_all()),
        lambda: candidates(storage, query_keys("CAT0336DLTJF00123"), "excavator"),
        lambda: storage.checks.save({"check_id": new_id(), "checked_at": utc_now(), "verdict": "no_match",
                                     "matched_report_ids": []}, audit_entry("check")),
        lambda: storage.checks.get(new_id()),
        lambda: storage.confirmations.get(new_id()),
        lambda: storage.webhooks.subscribed("check.matched"),
        lambda: storage.sightings.get(new_id()),
        lambda: storage.keys.get("0123456789abcdef"),
        lambda: storage.audit.list(AuditFilter(), 10, None),
        lambda: storage.jobs.get_job(new_id()),
        admin.reindex,
    ]


def test_an_unreachable_cluster_is_unavailable_at_once() -> None:
    storage = open_engine(settings_for(CLOSED_PORT_URL))
    for call in every_call(storage):
        started = time.monotonic()
        with pytest.raises(StorageUnavailable) as unavailable:
            call()
        assert time.monotonic() - started < FAILURE_BUDGET_SECONDS
        assert unavailable.value.__cause__ is not None  # raised from the client's error


def test_a_silent_cluster_times_out_instead_of_hanging() -> None:
    """A peer that accepts connections and never answers costs one timeout, not a hang."""
    with socket.create_server(("127.0.0.1", 0)) as silent:  # listens, never accepts or answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        storage = open_engine(settings_for(url, ES_TIMEOUT_SECONDS=SHORT_TIMEOUT_SECONDS))
        started = time.monotonic()
        with pytest.raises(StorageUnavailable):
            storage.reports.get(new_id())
        assert time.monotonic() - started < FAILURE_BUDGET_SECONDS
        storage.close()


class Forwarder:
    """A TCP port that forwards to the cluster only once opened: a cluster that comes back."""

    def __init__(self, upstream_url: str) -> None:
        host, port = upstream_url.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: socket.socket | None = None

    def open(self) -> None:
        self._server = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    def _accept(self) -> None:
        assert self._server is not None
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.upstream)
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, target), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket) -> None:
        with source, target:
            while chunk := source.recv(65536):
                target.sendall(chunk)


def test_the_service_starts_with_the_cluster_down_and_recovers(es_url: str) -> None:
    cluster = Forwarder(es_url)
    settings = settings_for(cluster.url)
    app = create_app(settings)  # must not touch the cluster
    client = app.test_client()
    try:
        assert client.get("/healthz").status_code == 200
        down = client.get("/readyz")
        assert down.status_code == 503
        assert down.headers["Retry-After"]
        unverifiable = bearer("itk_0123456789abcdef_no-cluster-to-check-it-against")
        assert client.post("/v1/reports", json=report_data("UP-1"), headers=unverifiable).status_code == 503

        cluster.open()

        assert client.get("/readyz").status_code == 200
        admin = bearer(issue_key(app))
        created = client.post("/v1/reports", json=report_data("UP-1"), headers=admin)
        assert created.status_code == 201
        assert client.get(f"/v1/reports/{created.json['id']}", headers=admin).json["external_ref"] == "UP-1"
    finally:
        cluster.close()
        es = Elasticsearch(es_url)
        es.indices.delete(index=",".join(es.indices.get(index=f"{settings['ES_INDEX_PREFIX']}-*")))
        es.close()
