"""Dealers cannot enumerate the registry: what each role is shown, daily row quotas, scan alerts,
and the attacks of issue 12 run against the demo registry on both engines.

The target: one dealer key learns at most 1% of the registry's case references in 24 hours,
whatever it sends, and a dealer checking a real inventory is never blocked.  Time comes from a
clock file (``CLOCK_FILE``), so quotas and days are exact, never waited for.
"""

from __future__ import annotations

import json
import math
from contextlib import suppress

import pytest
import requests

from registry import create_app
from registry.access import Actor
from registry.api.extension import EXTENSION_KEY
from registry.demo import demo_reports
from registry.demo.enumeration import (
    Attacker,
    Refused,
    covering_sweep,
    csv_file,
    dealer_inventory,
    families_worth_sweeping,
    grow_tails,
    tail_sweep,
)
from registry.scanning import SEQUENCE_GAP, observe
from search.normalize import normalize
from tests.conftest import (
    LiveServer,
    backend_settings,
    bearer,
    close_storage,
    issue_key,
    report_data,
    wait_until,
)

PIN = "CAT0336DLTJF00123"
DEALER_QUOTA = 5000  # the default (``DAILY_ROWS``): what the target is measured against
TARGET_SHARE = 0.01
POLL_SECONDS = 0.5  # how often a client asks for a job's progress


@pytest.fixture
def served(backend, tmp_path, request, clock):
    """The service on the demo registry (``irontrace demo``'s 500 reports and the Tulkubas case),
    a bulk-check worker in process on either engine, time from the clock file."""
    app = create_app({**backend_settings(backend, tmp_path, request), "CLOCK_FILE": str(clock.path),
                      "BULK_WORKER_THREADS": 1, "BULK_POLL_SECONDS": 0.05})
    services = app.extensions[EXTENSION_KEY]
    reports = demo_reports()
    services.imports.import_rows(Actor.operator(), enumerate(reports, start=1), source="demo")
    try:
        with LiveServer(app, issue_key(app)) as live:
            yield app, live, reports
    finally:
        close_storage(app)


def run_until_refused(attack) -> None:
    """Run an attack until the service refuses it (or it ends)."""
    with suppress(Refused):
        attack()


def alerts(server, key: str) -> list[dict]:
    return server.get("/v1/audit", params={"action": "alert.scanning", "subject": key.split("_")[1]}).json()["items"]


# -- what each role is shown --------------------------------------------------------------


def test_a_dealer_gets_whole_identifier_matches_only(app, server):
    server.post("/v1/reports", json=report_data())
    dealer, border = bearer(issue_key(app, "dealer")), bearer(issue_key(app, "border"))

    def verdicts(reading: str) -> tuple[str, str, list[str]]:
        seen = [server.http.post(server.url + "/v1/checks", json={"identifier": reading}, headers=h, timeout=30)
                .json() for h in (dealer, border)]
        return seen[0]["verdict"], seen[1]["verdict"], [m["match_type"] for m in seen[1]["matches"]]

    assert verdicts(PIN) == ("hit", "hit", ["exact"])
    assert verdicts("cat-0336 dltjf 00123") == ("hit", "hit", ["normalized"])
    assert verdicts("CAT0336DLTJFOO123") == ("possible_match", "possible_match", ["confusable"])
    # Worn tails, a PIN without its maker's prefix and typos are for officers reading damaged plates.
    assert verdicts("JF00123") == ("no_match", "possible_match", ["partial"])
    assert verdicts("0336DLTJF00123") == ("no_match", "possible_match", ["partial"])
    assert verdicts("CAT0336DLTJF00128") == ("no_match", "similar_serials", ["fuzzy"])


# -- daily quotas -------------------------------------------------------------------------


@pytest.fixture
def metered(backend, tmp_path, request, clock):
    settings = {**backend_settings(backend, tmp_path, request), "CLOCK_FILE": str(clock.path)}
    app = create_app(settings)
    try:
        with LiveServer(app, issue_key(app)) as live:
            yield app, live, settings
    finally:
        close_storage(app)


def test_single_bulk_and_job_checks_share_one_daily_quota_that_survives_a_restart(metered, clock):
    app, server, settings = metered
    key = issue_key(app, "dealer", daily_rows=10)
    csv_headers = {**bearer(key), "Content-Type": "text/csv"}

    def check() -> requests.Response:
        return requests.post(server.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(key), timeout=30)

    assert [check().status_code for _ in range(3)] == [200] * 3
    sync = requests.post(server.url + "/v1/checks/bulk", data=csv_file(["A1", "B2", "C3", "D4"]), headers=csv_headers,
                         timeout=30)
    assert sync.status_code == 200
    job = requests.post(server.url + "/v1/bulk-checks", data=csv_file(["E5", "F6", "G7"]), headers=csv_headers,
                        timeout=30)
    assert job.status_code == 202  # 3 + 4 + 3: the day's ten rows are spent

    refused = check()
    assert refused.status_code == 429
    problem = refused.json()
    assert problem["title"] == "Too many requests" and refused.headers["Content-Type"] == "application/problem+json"
    assert (problem["quota"], problem["limit"], problem["used"], problem["requested"]) == ("daily_rows", 10, 10, 1)
    midnight = math.ceil(clock.now / 86400) * 86400
    assert int(refused.headers["Retry-After"]) == int(midnight - clock.now)
    assert problem["resets_at"].endswith("T00:00:00.000Z")
    assert requests.post(server.url + "/v1/bulk-checks", data=csv_file(["H8"]), headers=csv_headers,
                         timeout=30).status_code == 429

    restarted = create_app(settings)  # another process on the same storage: the day's rows are still spent
    try:
        with LiveServer(restarted) as again:
            assert requests.post(again.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(key),
                                 timeout=30).status_code == 429
            clock.advance(midnight - clock.now + 1)  # the next day
            assert requests.post(again.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(key),
                                 timeout=30).status_code == 200
    finally:
        restarted.extensions[EXTENSION_KEY].close()


def test_a_file_that_does_not_fit_in_the_day_is_refused_whole(metered):
    app, server, _ = metered
    key = issue_key(app, "dealer", daily_rows=5)
    headers = {**bearer(key), "Content-Type": "text/csv"}
    too_big = requests.post(server.url + "/v1/checks/bulk", data=csv_file(["A1"] * 6), headers=headers, timeout=30)
    assert too_big.status_code == 429 and too_big.json()["requested"] == 6 and too_big.json()["used"] == 0
    assert app.extensions[EXTENSION_KEY].usage.rows_today(Actor(key.split("_")[1], "dealer", daily_rows=5)) == 0
    assert requests.post(server.url + "/v1/checks/bulk", data=csv_file(["A1"] * 5), headers=headers,
                         timeout=30).status_code == 200


def test_roles_quotas_come_from_configuration_and_admins_have_none(app):
    usage = app.extensions[EXTENSION_KEY].usage
    assert usage.daily_limit(Actor("k", "dealer")) == DEALER_QUOTA
    assert usage.daily_limit(Actor("k", "border")) == 1_000_000
    assert usage.daily_limit(Actor("k", "dealer", daily_rows=20_000)) == 20_000
    assert usage.daily_limit(Actor("k", "admin")) is None and usage.daily_limit(Actor.operator()) is None


def test_a_bad_quota_configuration_stops_start_up(tmp_path):
    with pytest.raises(ValueError, match="DAILY_ROWS"):
        create_app({"DB": str(tmp_path / "x.db"), "DAILY_ROWS": {"dealer": 0, "janitor": 5}})


# -- scanning ---------------------------------------------------------------------------


def test_counting_and_growing_tails_are_scans_and_an_inventory_is_not():
    counting = [f"KMTPC300C55A1{n:04d}" for n in range(7000, 7050)]
    growing = ["17044", "A17044", "5A17044", "55A17044", "C55A17044"]
    stock = ["CAT0336DLTJF00123", "KMTWA470C2A31544", "1FUJGLDR0CLBP8834", "HB31-004512", "C13SDP40117"]
    assert len(observe(None, counting)[1]) == len(counting) - 1
    assert observe(None, growing)[1] == growing[1:]
    behind = [c + "A17044" for c in "0123456789"]  # one tail behind many beginnings
    assert observe(None, behind)[1] == behind[1:]
    assert observe(None, stock)[1] == []
    # Between requests the key's recent readings are remembered.
    state, _ = observe(None, counting[:10])
    assert observe(state, [counting[10]])[1] == [counting[10]]
    assert observe(state, [f"KMTPC300C55A1{7009 + SEQUENCE_GAP + 1:04d}"])[1] == []
    assert observe(state, counting[:10])[1] == []  # repeats are not a scan


def test_a_scanning_dealer_raises_one_alert_for_the_auditors(metered):
    app, server, _ = metered
    key = issue_key(app, "dealer")
    attacker = Attacker(server.url, key)
    attacker.ask([f"KMTPC300C55A1{n:04d}" for n in range(150)])  # a hundred readings follow one another
    for n in range(150, 160):
        server.http.post(server.url + "/v1/checks", json={"identifier": f"KMTPC300C55A1{n:04d}"},
                         headers=bearer(key), timeout=30)
    [alert] = alerts(server, key)
    assert alert["actor"]["role"] == "dealer" and alert["details"]["readings_following_others"] >= 100
    assert alert["details"]["examples"][0] == "KMTPC300C55A10001"


# -- the target -------------------------------------------------------------------------


def seeds_of(reports: list[dict]) -> list[str]:
    """The last six characters of eight registered identifiers: the attacker's head start."""
    return [normalize(r["identifiers"][0]["value"])[-6:] for r in reports[1:400:50]]


def sweep_of(reports: list[dict]) -> list[str]:
    """A day's rows of readings that, were two typos tolerated, would cover five whole families."""
    return covering_sweep(families_worth_sweeping(reports, 5), DEALER_QUOTA // 5)


def tail_job(attacker: Attacker, reports: list[dict]) -> None:
    """Every 6-digit tail as one bulk-check job (scaled: any file over the day's rows is refused whole)."""
    job = requests.post(attacker.url + "/v1/bulk-checks", data=csv_file(tail_sweep(0, 4 * DEALER_QUOTA)),
                        headers=attacker.headers, timeout=600)
    assert job.status_code == 429 and job.json()["requested"] == 4 * DEALER_QUOTA


ATTACKS = {
    "every tail as one job": tail_job,
    "tails a thousand at a time": lambda attacker, reports: attacker.ask(tail_sweep(0, 10 * DEALER_QUOTA)),
    "growing tails": lambda attacker, reports: grow_tails(attacker.ask, seeds_of(reports)),
    "a sweep typos would make cover": lambda attacker, reports: attacker.ask(sweep_of(reports)),
    "all of it from one key": lambda attacker, reports: (attacker.ask(tail_sweep(0, 1000)),
                                                         grow_tails(attacker.ask, seeds_of(reports)),
                                                         attacker.ask(sweep_of(reports))),
}


@pytest.mark.slow
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("attack", ATTACKS)
def test_one_dealer_key_learns_at_most_one_percent_of_case_references_a_day(served, attack):
    """Issue 12's attacks, and stronger ones, each from a fresh dealer key with the default quota."""
    app, server, reports = served
    total = len({(r["reporting_agency"]["name"], r["external_ref"]) for r in reports})
    key = issue_key(app, "dealer")
    attacker = Attacker(server.url, key)

    run_until_refused(lambda: ATTACKS[attack](attacker, reports))

    learned = len(attacker.learned())
    print(f"\n{attack}: {learned} of {total} case references learned, {attacker.rows_sent} rows answered")
    assert learned <= math.floor(total * TARGET_SHARE)
    assert attacker.rows_sent <= DEALER_QUOTA
    if attack != "a sweep typos would make cover":  # numbers a hundred apart do not look like counting
        assert alerts(server, key), "the scan raised an alert"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_attacks_work_where_tails_and_typos_are_matched(served):
    """From a border key, which is shown tails and typos: the attacks are real, the dealer's policy is
    what stops them."""
    app, server, reports = served
    total = len({(r["reporting_agency"]["name"], r["external_ref"]) for r in reports})
    growing = Attacker(server.url, issue_key(app, "border"))
    reached = grow_tails(growing.ask, seeds_of(reports))
    covering = Attacker(server.url, issue_key(app, "border"))
    covering.ask(sweep_of(reports))
    print(f"\nborder key: growing tails reconstructed {sum(len(t) - 6 for t in reached.values())} characters "
          f"and learned {len(growing.learned())}; the sweep learned {len(covering.learned())} of {total}")
    assert sum(len(tail) - 6 for tail in reached.values()) >= 8 * 4
    assert len(covering.learned()) > math.floor(total * TARGET_SHARE)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_dealer_checking_a_real_inventory_is_never_blocked(served, clock):
    app, server, reports = served
    key = issue_key(app, "dealer")
    inventory = dealer_inventory(reports, size=3000, reported=12, consecutive=20)
    headers = {**bearer(key), "Content-Type": "text/csv"}

    created = requests.post(server.url + "/v1/bulk-checks", data=csv_file(inventory.readings), headers=headers,
                            timeout=300)
    assert created.status_code == 202, created.text
    location = server.url + created.headers["Location"]

    def poll() -> dict:
        """As ``irontrace bulk-check --server`` polls: every half second, which the test's clock moves on."""
        clock.advance(POLL_SECONDS)
        answer = requests.get(location, headers=bearer(key), timeout=30)
        assert answer.status_code == 200, answer.text
        return answer.json()

    job = wait_until(poll, lambda job: job["status"] == "done", "the inventory's job")
    assert job["rows_done"] == 3000 and job["errors"] == 0
    results = [json.loads(line) for line in requests.get(location + "/results", timeout=300, headers={
        **bearer(key), "Accept": "application/x-ndjson"}).text.splitlines()]
    hits = {r["input"]["serial"] for r in results if r["verdict"] == "hit"}
    assert hits == set(inventory.reported)

    # Re-checking the reported machines one by one, and a yard of them as a small file, the same day.
    for reading in inventory.reported:
        answer = requests.post(server.url + "/v1/checks", json={"identifier": reading}, headers=bearer(key), timeout=30)
        assert answer.status_code == 200 and answer.json()["verdict"] == "hit"
    again = requests.post(server.url + "/v1/checks/bulk", data=csv_file(inventory.readings[:500]), headers=headers,
                          timeout=300)
    assert again.status_code == 200
    assert alerts(server, key) == []
