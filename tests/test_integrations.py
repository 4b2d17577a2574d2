"""External registries: adapters, the fan-out and federated checks, against the simulator over real HTTP."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack

import pytest
import requests

from integrations.base import AuthenticationFailed, MalformedResponse, SourceTimeout, SourceUnavailable
from integrations.config import SourceConfigError, build_federation, load_feeds
from integrations.federation import CircuitBreaker, RetryPolicy, TtlCache
from integrations.generic_rest import FieldMapping, GenericRestSource
from integrations.screening import ScreeningSource
from integrations.simulator import DEFAULT_RECORDS, create_simulator
from integrations.stolen_vehicles import StolenVehiclesSource
from registry import create_app
from registry.cli import exit_codes
from search.query import CheckQuery
from tests.conftest import (
    Browser,
    LiveServer,
    backend_settings,
    close_storage,
    create_user,
    issue_key,
    report_data,
    stored_check,
)
from tests.processes import irontrace

SECRET = "s3cr3t-credential-do-not-leak-7f1e"
KEY_VARIABLE = "IRONTRACE_TEST_SOURCE_KEY"
STOLEN = DEFAULT_RECORDS[0]  # a Komatsu loader reported stolen in Uzbekistan
STOLEN_PIN = STOLEN["identifier"]["value"]
RECOVERED_SERIAL = DEFAULT_RECORDS[2]["identifier"]["value"]
NEVER_REPORTED = "ZZZ9999999999"
TIMEOUT = 2.0
SMV_AS_GENERIC_FIELDS = {
    "record_id": "record_id", "identifier": "identifier.value", "identifier_type": "identifier.type",
    "status": "status", "owner_country": "owner_country", "reference": "reference",
    "manufacturer": "manufacturer", "model": "model", "category": "category",
}


@pytest.fixture
def simulator() -> Iterator[LiveServer]:
    with LiveServer(create_simulator(api_key=SECRET)) as live:
        yield live


def set_mode(simulator: LiveServer, protocol: str, mode: str = "normal", delay: float = 0) -> None:
    response = simulator.http.put(f"{simulator.url}/_control/{protocol}", json={"mode": mode, "delay": delay})
    assert response.status_code == 200


def request_counts(simulator: LiveServer) -> dict[str, int]:
    return simulator.get("/_control/requests").json()


def source_entries(simulator: LiveServer, **per_source: dict) -> list[dict]:
    """The simulator's two protocols as configured sources (options per source name)."""
    entries = [
        {"name": "smv", "type": "stolen_vehicles", "url": simulator.url, "api_key_env": KEY_VARIABLE},
        {"name": "screening", "type": "screening", "url": simulator.url, "api_key_env": KEY_VARIABLE},
    ]
    return [{**entry, **per_source.get(entry["name"], {})} for entry in entries]


@pytest.fixture
def federated(simulator, tmp_path, monkeypatch):
    """Start an app (SQLite) whose checks also ask the simulator; returns a LiveServer of it."""
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    with ExitStack() as stack:

        def start(entries: list[dict] | None = None) -> LiveServer:
            app = create_app({"DB": str(tmp_path / f"app-{uuid.uuid4().hex}.db"),
                              "SOURCES": {"sources": entries if entries is not None else source_entries(simulator)}})
            stack.callback(close_storage, app)
            stack.callback(app.extensions["irontrace"].checks.federation.close)
            return stack.enter_context(LiveServer(app, issue_key(app)))

        yield start


def check(server: LiveServer, **body) -> dict:
    response = server.post("/v1/checks", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def by_name(result: dict) -> dict[str, dict]:
    return {source["name"]: source for source in result["sources"]}


# -- adapters, each against the simulator ------------------------------------------------


def smv(simulator: LiveServer, token: str = SECRET) -> StolenVehiclesSource:
    return StolenVehiclesSource("smv", simulator.url, token, requests.Session())


def screening(simulator: LiveServer, key: str = SECRET) -> ScreeningSource:
    return ScreeningSource("screening", simulator.url, key, requests.Session())


def generic(simulator: LiveServer) -> GenericRestSource:
    """A 'national registry' added by configuration only: it reads the stolen-vehicles protocol."""
    return GenericRestSource(
        "national", simulator.url + "/smv/v1/records?identifier={identifier}",
        FieldMapping("records", SMV_AS_GENERIC_FIELDS), requests.Session(),
        auth_header="Authorization", credential=f"Bearer {SECRET}",
    )


def test_stolen_vehicles_hit_returns_the_full_record(simulator):
    [match] = smv(simulator).lookup(CheckQuery(STOLEN_PIN.lower()), TIMEOUT)
    assert (match.source, match.record_id, match.identifier) == ("smv", STOLEN["record_id"], STOLEN_PIN)
    assert (match.status, match.owner_country) == ("stolen", "UZ")
    assert (match.manufacturer, match.model) == ("Komatsu", "WA470-8")
    assert match.reference.endswith("/smv/v1/records/" + STOLEN["record_id"])
    assert smv(simulator).lookup(CheckQuery(NEVER_REPORTED), TIMEOUT) == []


def test_screening_hit_discloses_only_a_reference(simulator):
    [match] = screening(simulator).lookup(CheckQuery(STOLEN_PIN), TIMEOUT)
    assert match.status == "stolen" and match.reference.startswith("SCR-")
    assert (match.manufacturer, match.model, match.category, match.owner_country) == (None, None, None, None)
    assert screening(simulator).lookup(CheckQuery(NEVER_REPORTED), TIMEOUT) == []
    assert screening(simulator).lookup(CheckQuery(RECOVERED_SERIAL), TIMEOUT) == []


def test_generic_rest_source_is_configured_not_coded(simulator):
    [match] = generic(simulator).lookup(CheckQuery(STOLEN_PIN), TIMEOUT)
    assert (match.source, match.record_id, match.identifier_type) == ("national", STOLEN["record_id"], "pin")
    assert match.category == "loader"
    assert generic(simulator).lookup(CheckQuery(NEVER_REPORTED), TIMEOUT) == []


@pytest.mark.parametrize(("mode", "error"), [
    ("garbage", MalformedResponse), ("malformed", MalformedResponse),
    ("error", SourceUnavailable), ("unavailable", SourceUnavailable), ("drop", SourceUnavailable),
])
@pytest.mark.parametrize("protocol", ["smv", "screening"])
def test_misbehaving_source_raises_a_source_error_chained_to_its_cause(simulator, protocol, mode, error):
    set_mode(simulator, protocol, mode)
    adapter = smv(simulator) if protocol == "smv" else screening(simulator)
    with pytest.raises(error) as raised:
        adapter.lookup(CheckQuery(STOLEN_PIN), TIMEOUT)
    assert SECRET not in str(raised.value)
    if mode in ("garbage", "drop"):  # a lower-level error is kept as the cause
        assert raised.value.__cause__ is not None


def test_slow_source_times_out_and_refused_credentials_are_named(simulator):
    set_mode(simulator, "smv", delay=1.0)
    with pytest.raises(SourceTimeout):
        smv(simulator).lookup(CheckQuery(STOLEN_PIN), 0.2)
    with pytest.raises(AuthenticationFailed):
        screening(simulator, key="wrong").lookup(CheckQuery(STOLEN_PIN), TIMEOUT)


# -- the small parts of the fan-out, alone -----------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_circuit_breaker_opens_after_failures_and_closes_after_a_successful_trial():
    clock = FakeClock()
    breaker = CircuitBreaker(failures_to_open=2, open_seconds=10, clock=clock)
    breaker.record_failure()
    assert breaker.allow() and breaker.state == "closed"
    breaker.record_failure()
    assert not breaker.allow() and breaker.state == "open"
    clock.now = 10
    assert breaker.allow() and not breaker.allow()  # one trial at a time when half-open
    breaker.record_failure()
    assert breaker.state == "open"  # a failed trial opens it again at once
    clock.now = 20
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.allow()


def test_retry_policy_retries_only_idempotent_calls_within_the_deadline():
    clock = FakeClock()
    policy = RetryPolicy(attempts=2, base_delay=0.05, clock=clock, sleep=clock.sleep)
    calls = []

    def unavailable(remaining: float):
        calls.append(remaining)
        raise SourceUnavailable("503")

    with pytest.raises(SourceUnavailable):
        policy.run(unavailable, idempotent=True, deadline_at=1.0)
    assert len(calls) == 3 and clock.now == pytest.approx(0.15)  # backoff 0.05 then 0.1
    calls.clear()
    with pytest.raises(SourceUnavailable):
        policy.run(unavailable, idempotent=False, deadline_at=10.0)
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(SourceUnavailable):
        policy.run(unavailable, idempotent=True, deadline_at=clock.now + 0.04)  # no time for a backoff
    assert len(calls) == 1


def test_ttl_cache_forgets_after_its_ttl_and_keeps_its_bound():
    clock = FakeClock()
    cache: TtlCache[str] = TtlCache(ttl=5, max_entries=2, clock=clock)
    cache.put("a", "A")
    clock.now = 4.9
    assert cache.get("a") == "A"
    clock.now = 5
    assert cache.get("a") is None
    for key in "bcd":
        cache.put(key, key.upper())
    assert cache.get("b") is None and cache.get("d") == "D"


# -- configuration -----------------------------------------------------------------------


def test_no_configuration_calls_no_source(tmp_path, simulator):
    app = create_app({"DB": str(tmp_path / "plain.db")})
    try:
        assert app.extensions["irontrace"].checks.federation is None
        with LiveServer(app, issue_key(app)) as live:
            result = check(live, identifier=STOLEN_PIN)
            assert live.get("/v1/sources").json() == []
        assert result["sources"] == [] and result["verdict"] == "no_match" and result["hit_sources"] == []
    finally:
        close_storage(app)


def test_sources_from_a_toml_file_and_json(tmp_path, simulator, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    toml = tmp_path / "sources.toml"
    toml.write_text(f'''
[[sources]]
name = "smv"
type = "stolen_vehicles"
url = "{simulator.url}"
api_key_env = "{KEY_VARIABLE}"
deadline_ms = 400

[[sources]]
name = "off"
type = "screening"
url = "{simulator.url}"
enabled = false

[[feeds]]
name = "uz"
url = "{simulator.url}/feeds/uz.csv"
''')
    extra = json.dumps({"sources": [{"name": "scr", "type": "screening", "url": simulator.url,
                                     "api_key_env": KEY_VARIABLE}]})
    federation = build_federation({"SOURCES_FILE": str(toml), "SOURCES": extra})
    try:
        assert [(s.name, s.deadline) for s in federation.sources] == [("smv", 0.4), ("scr", 0.8)]
        assert [(f.name, f.format) for f in load_feeds({"SOURCES_FILE": str(toml)})] == [("uz", "csv")]
        assert {h["name"]: h["status"] for h in federation.health()} == {"smv": "ok", "scr": "ok"}
    finally:
        federation.close()


def test_a_missing_credential_is_named_by_its_variable_never_its_value(simulator, monkeypatch):
    monkeypatch.delenv(KEY_VARIABLE, raising=False)
    with pytest.raises(SourceConfigError, match=KEY_VARIABLE):
        build_federation({"SOURCES": {"sources": source_entries(simulator)}})
    with pytest.raises(SourceConfigError, match="type must be one of"):
        build_federation({"SOURCES": {"sources": [{"name": "x", "type": "carrier-pigeon"}]}})


def test_who_may_ask_a_source_comes_from_its_type_or_its_roles(simulator, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    generic = {"name": "national", "type": "generic_rest", "url_template": simulator.url + "/x?i={identifier}",
               "records": "records", "fields": {"record_id": "id", "identifier": "id", "status": "status"}}
    federation = build_federation({"SOURCES": {"sources": [
        *source_entries(simulator, screening={"roles": ["dealer"]}), generic]}})
    try:
        assert {s.name: s.roles for s in federation.sources} == {
            "smv": frozenset({"admin", "agency", "border"}), "screening": frozenset({"dealer"}),
            "national": frozenset({"admin", "agency", "border"})}
    finally:
        federation.close()
    defaults = build_federation({"SOURCES": {"sources": source_entries(simulator)}})
    assert defaults.sources[1].roles is None  # a screening service answers anyone
    defaults.close()
    with pytest.raises(SourceConfigError, match="roles must be a list"):
        build_federation({"SOURCES": {"sources": source_entries(simulator, smv={"roles": ["janitor"]})}})


# -- federated checks over HTTP ----------------------------------------------------------


def test_external_hit_makes_the_verdict_and_says_where_it_came_from(federated):
    server = federated()
    result = check(server, identifier=STOLEN_PIN.lower())
    assert result["verdict"] == "hit"
    assert result["hit_sources"] == ["screening", "smv"]
    sources = by_name(result)
    assert [s["name"] for s in result["sources"]] == ["smv", "screening"]
    assert {s["status"] for s in sources.values()} == {"ok"}
    assert all(0 <= s["elapsed_ms"] < 800 and s["matches"] == 1 for s in sources.values())
    matches = {m["source"]: m for m in result["matches"]}
    full, screened = matches["smv"], matches["screening"]
    assert full["report_id"] is None and full["external_ref"] == STOLEN["record_id"]
    assert full["match_type"] == "normalized" and full["score"] == 0.99  # the same scorer as local reports
    assert (full["manufacturer"], full["reporting_agency"]["country"]) == ("Komatsu", "UZ")
    assert full["reference"].endswith(STOLEN["record_id"])
    assert screened["reference"].startswith("SCR-") and screened["external_ref"] == screened["reference"]
    assert (screened["manufacturer"], screened["model"], screened["category"]) == (None, None, None)


def test_no_hit_anywhere(federated):
    result = check(federated(), identifier=NEVER_REPORTED)
    assert result["verdict"] == "no_match" and result["matches"] == [] and result["hit_sources"] == []
    assert {s["status"] for s in result["sources"]} == {"ok"}


def test_external_near_match_and_recovered_record_are_scored_like_local_ones(federated):
    server = federated()
    near = check(server, identifier=STOLEN_PIN[:-1] + "8")  # one misread character: the source finds nothing
    assert near["verdict"] == "no_match"
    recovered = check(server, identifier=RECOVERED_SERIAL)
    assert recovered["verdict"] == "no_match"
    [info] = recovered["matches"]
    assert info["source"] == "smv" and info["active"] is False and "information only" in info["explanation"]


def test_local_and_external_hits_together_on_both_engines(backend, tmp_path, request, simulator, monkeypatch):
    monkeypatch.setenv(KEY_VARIABLE, SECRET)
    settings = backend_settings(backend, tmp_path, request)
    app = create_app({**settings, "SOURCES": {"sources": source_entries(simulator)}})
    try:
        with LiveServer(app, issue_key(app)) as live:
            local = live.post("/v1/reports", json=report_data(
                identifiers=[{"type": "pin", "value": STOLEN_PIN}])).json()
            result = check(live, identifier=STOLEN_PIN)
        assert result["verdict"] == "hit" and result["hit_sources"] == ["local", "screening", "smv"]
        assert any(m["report_id"] == local["id"] and m["source"] == "local" for m in result["matches"])
        record = stored_check(app.extensions["irontrace"].engine, result["check_id"])
        assert record["matched_report_ids"] == [local["id"]]
        assert {m["source"] for m in record["external_matches"]} == {"smv", "screening"}
        assert [s["status"] for s in record["sources"]] == ["ok", "ok"]
    finally:
        app.extensions["irontrace"].checks.federation.close()
        close_storage(app)


SLOW_SOURCE_SECONDS = 12


def test_a_slow_source_is_marked_timeout_and_the_check_answers_on_time(federated, simulator):
    server = federated(source_entries(simulator, smv={"deadline_ms": 300}))
    set_mode(simulator, "smv", delay=SLOW_SOURCE_SECONDS)
    started = time.monotonic()
    result = check(server, identifier=STOLEN_PIN)
    elapsed = time.monotonic() - started
    # Waited for the 300 ms deadline, not for the source: the margin absorbs a busy machine.
    assert elapsed < SLOW_SOURCE_SECONDS / 2, elapsed
    sources = by_name(result)
    assert sources["smv"]["status"] == "timeout" and sources["smv"]["elapsed_ms"] == 300
    assert sources["screening"]["status"] == "ok"
    assert result["verdict"] == "hit" and result["hit_sources"] == ["screening"]


def test_a_failing_source_opens_its_circuit_then_closes_once_it_recovers(federated, simulator):
    server = federated(source_entries(simulator, smv={"failures_to_open": 2, "open_seconds": 0.5}))
    set_mode(simulator, "smv", "error")
    for _ in range(2):
        assert by_name(check(server, identifier=NEVER_REPORTED))["smv"]["status"] == "error"
    calls = request_counts(simulator)["smv"]
    assert calls == 2 * 3  # a GET is retried twice with backoff
    refused = by_name(check(server, identifier=NEVER_REPORTED))["smv"]
    assert refused["status"] == "unavailable" and "circuit open" in refused["detail"]
    assert request_counts(simulator)["smv"] == calls  # an open circuit does not call the source
    set_mode(simulator, "smv")
    time.sleep(0.6)
    assert by_name(check(server, identifier=NEVER_REPORTED))["smv"]["status"] == "ok"
    assert by_name(check(server, identifier=STOLEN_PIN))["smv"]["status"] == "ok"
    breaker = server_federation(server).sources[0].breaker
    assert breaker.state == "closed"


def server_federation(server: LiveServer):
    return server.app.extensions["irontrace"].checks.federation


def test_screening_posts_are_never_retried(federated, simulator):
    server = federated()
    set_mode(simulator, "screening", "unavailable")
    result = check(server, identifier=STOLEN_PIN)
    assert by_name(result)["screening"]["status"] == "error"
    assert request_counts(simulator)["screening"] == 1
    assert result["verdict"] == "hit" and result["hit_sources"] == ["smv"]


@pytest.mark.parametrize("mode", ["garbage", "malformed"])
def test_malformed_answers_are_a_clear_error_not_a_crash(federated, simulator, mode):
    server = federated()
    set_mode(simulator, "smv", mode)
    result = check(server, identifier=STOLEN_PIN)
    smv_status = by_name(result)["smv"]
    assert smv_status["status"] == "error"
    assert smv_status["detail"] in ("answer is not JSON", "field 'records' is missing or of the wrong type")
    assert by_name(result)["screening"]["status"] == "ok"


def test_answers_are_cached_for_a_short_while(federated, simulator):
    server = federated()
    first = check(server, identifier=STOLEN_PIN)
    counts = request_counts(simulator)
    second = check(server, identifier=STOLEN_PIN)
    after = request_counts(simulator)
    assert after["smv"] == counts["smv"] and by_name(second)["smv"]["cached"]
    # A screening is not idempotent: each gets its own reference, so it is never answered from the cache.
    assert after["screening"] == counts["screening"] + 1 and not by_name(second)["screening"]["cached"]
    assert not any(s["cached"] for s in first["sources"])
    assert second["verdict"] == "hit" and len(second["matches"]) == len(first["matches"])


def test_description_only_checks_skip_external_sources(federated, simulator):
    result = check(federated(), description="yellow loader")
    assert {s["status"] for s in result["sources"]} == {"skipped"}
    assert request_counts(simulator) == {}


def test_no_credential_in_any_log_line_response_or_record(federated, simulator, caplog):
    caplog.set_level(logging.DEBUG)
    server = federated(source_entries(simulator, smv={"deadline_ms": 200, "failures_to_open": 1}))
    bodies = [check(server, identifier=STOLEN_PIN)]
    for protocol, mode, delay in (("smv", "normal", 1), ("screening", "garbage", 0), ("screening", "drop", 0)):
        set_mode(simulator, protocol, mode, delay)
        bodies.append(check(server, identifier=f"{NEVER_REPORTED}{len(bodies)}"))
    bodies.append(server.post("/v1/checks", json={"identifier": ""}).text)  # a problem body
    statuses = {s["status"] for body in bodies[1:-1] for s in body["sources"]}
    assert {"timeout", "error", "unavailable"} <= statuses
    texts = [caplog.text, *map(str, bodies), repr(server_federation(server).sources)]
    assert caplog.records, "the calls were logged"
    for text in texts:
        assert SECRET not in text


def test_refused_credentials_are_an_error_status_without_the_credential(federated, simulator, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("IRONTRACE_TEST_WRONG_KEY", "wrong-" + SECRET)
    server = federated([{"name": "smv", "type": "stolen_vehicles", "url": simulator.url,
                         "api_key_env": "IRONTRACE_TEST_WRONG_KEY"}])
    result = check(server, identifier=STOLEN_PIN)
    assert by_name(result)["smv"] == {**by_name(result)["smv"], "status": "error",
                                      "detail": "credentials refused (HTTP 401)"}
    assert SECRET not in caplog.text and SECRET not in str(result)


def test_openapi_documents_sources_and_hit_sources(federated):
    spec = federated().get("/openapi.json").json()
    result = spec["components"]["schemas"]["CheckResult"]["properties"]
    assert {"sources", "hit_sources"} <= set(result)
    status = spec["components"]["schemas"]["SourceStatus"]["properties"]["status"]
    assert status["enum"] == ["ok", "timeout", "error", "unavailable", "skipped"]


def test_a_bulk_check_waits_about_one_deadline_not_one_per_item(federated, simulator):
    server = federated(source_entries(simulator, smv={"deadline_ms": 300}))
    set_mode(simulator, "smv", delay=2)
    rows = [{"serial": f"{NEVER_REPORTED}{i}"} for i in range(5)] + [{"serial": STOLEN_PIN}]
    started = time.monotonic()
    response = server.post("/v1/checks/bulk", json=rows)
    elapsed = time.monotonic() - started
    assert response.status_code == 200 and elapsed < 1.2, elapsed
    results = response.json()["results"]
    assert [r["verdict"] for r in results] == ["no_match"] * 5 + ["hit"]
    assert results[-1]["match"]["source"] == "screening"  # the slow source timed out: the other one answered


def test_an_answer_says_when_a_registry_did_not_answer(federated, simulator):
    server = federated(source_entries(simulator, screening={"deadline_ms": 300}))
    whole = check(server, identifier=NEVER_REPORTED)
    assert (whole["verdict"], whole["complete"], whole["unanswered_sources"]) == ("no_match", True, [])
    set_mode(simulator, "smv", "error")
    set_mode(simulator, "screening", delay=2)
    partial = check(server, identifier=NEVER_REPORTED + "1")
    assert partial["verdict"] == "no_match"
    assert (partial["complete"], partial["unanswered_sources"]) == (False, ["smv", "screening"])
    assert {s["name"]: s["status"] for s in partial["sources"]} == {"smv": "error", "screening": "timeout"}


def test_bulk_results_and_the_command_line_say_when_a_registry_did_not_answer(federated, simulator, tmp_path):
    server = federated()
    set_mode(simulator, "smv", "error")
    inventory = f"serial;note\r\n{NEVER_REPORTED};a\r\n;no serial\r\n".encode()
    synced = server.post("/v1/checks/bulk", data=inventory, headers={"Content-Type": "text/csv"}).json()
    assert synced["incomplete_rows"] == 1 and synced["errors"] == 1
    assert [(r["complete"], r["unanswered_sources"]) for r in synced["results"]] == [(False, ["smv"]), (None, [])]
    created = server.post("/v1/bulk-checks", data=inventory, headers={"Content-Type": "text/csv"})
    location = created.headers["Location"]
    deadline = time.monotonic() + 60
    while (job := server.get(location).json())["status"] != "done":
        assert time.monotonic() < deadline, job
        time.sleep(0.05)
    assert job["incomplete_rows"] == 1
    as_csv = server.get(location + "/results", headers={"Accept": "text/csv"}).content.decode("utf-8-sig")
    first, unchecked = csv.DictReader(io.StringIO(as_csv), delimiter=";")
    assert (first["verdict"], first["complete"], first["unanswered_sources"]) == ("no_match", "no", "smv")
    assert unchecked["complete"] == ""

    key = issue_key(server.app, "border")
    remote = irontrace("check", NEVER_REPORTED + "2", "--server", server.url, env={"IRONTRACE_KEY": key})
    assert remote.returncode == exit_codes.INCOMPLETE, remote.stderr
    assert "verdict: NO_MATCH" in remote.stdout and "INCOMPLETE: smv did not answer" in remote.stdout
    env = {"IRONTRACE_DB": server.app.config["IRONTRACE"]["DB"],
           "IRONTRACE_SOURCES": json.dumps({"sources": source_entries(simulator)}), KEY_VARIABLE: SECRET}
    local = irontrace("check", NEVER_REPORTED + "3", "--json", env=env)
    assert local.returncode == exit_codes.INCOMPLETE, local.stderr
    assert json.loads(local.stdout)["unanswered_sources"] == ["smv"]
    source = tmp_path / "stock.csv"
    source.write_bytes(inventory)
    bulk = irontrace("bulk-check", str(source), env=env)
    assert bulk.returncode == exit_codes.UNCHECKED_ROWS, bulk.stderr  # a row without a serial outranks it
    assert "checked without every external registry answering 1" in bulk.stderr
    set_mode(simulator, "smv")
    assert irontrace("check", NEVER_REPORTED + "4", env=env).returncode == exit_codes.NO_MATCH
    assert irontrace("check", STOLEN_PIN, env=env).returncode == exit_codes.HIT


def test_sources_endpoint_probes_health_and_shows_circuits(federated, simulator):
    server = federated(source_entries(simulator, smv={"failures_to_open": 1}))
    assert server.get("/v1/sources").json() == [
        {"name": "smv", "status": "ok", "circuit": "closed"},
        {"name": "screening", "status": "ok", "circuit": "closed"},
    ]
    set_mode(simulator, "smv", "error")
    check(server, identifier=NEVER_REPORTED)
    smv_health = server.get("/v1/sources").json()[0]
    assert smv_health == {"name": "smv", "status": "error", "circuit": "open",
                          "detail": "source answered HTTP 500"}


def test_a_dealer_asks_only_the_screening_service_and_sees_its_reference_only(federated):
    server = federated()
    dealer = {"Authorization": f"Bearer {issue_key(server.app, 'dealer')}"}
    answer = server.http.post(server.url + "/v1/checks", json={"identifier": STOLEN_PIN}, headers=dealer, timeout=30)
    assert answer.status_code == 200
    result = answer.json()
    # The stolen-vehicles database answers law enforcement only: a dealer's check never asks it.
    assert result["verdict"] == "hit" and result["hit_sources"] == ["screening"]
    skipped = {"status": "skipped", "detail": "not asked for dealer checks"}
    assert by_name(result)["smv"] == {**by_name(result)["smv"], **skipped}
    [screened] = result["matches"]
    assert set(screened) == {"external_ref", "status", "active", "match_type", "tier", "reporting_agency", "source",
                             "reference"}
    assert screened["source"] == "screening" and screened["reference"].startswith("SCR-")
    for detail in ("WA470-8", "Komatsu", "explanation", "score"):
        assert detail not in answer.text


def test_the_check_page_says_which_external_registry_did_not_answer(federated, simulator):
    server = federated(source_entries(simulator, smv={"deadline_ms": 300}))
    set_mode(simulator, "smv", delay=3)
    browser = Browser(server)
    browser.sign_in(create_user(server.app, "border"))
    page = browser.submit("/", {"identifier": STOLEN_PIN}).text
    assert "verdict-hit" in page and "Not every external registry answered" in page
    assert "smv: did not answer in time" in page and "screening:" not in page
