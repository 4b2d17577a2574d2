"""The life of a report: review dates and validation, recovery details, cancelling reasons, retention.

Every test runs on both engines over real HTTP.  Time is the clock file
(``FileClock``, starting 2026-11-26 08:00 UTC): tests move it a year on, never
sleep; the maintenance round is run by the test (its own thread is set to wait
an hour, so it never races the test).
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from registry import create_app
from registry.access import AGENCY, BORDER, DEALER, Actor
from registry.api.extension import EXTENSION_KEY
from registry.errors import NotFound
from registry.services import Services
from registry.services.reviews import add_months
from tests import test_hits
from tests.conftest import (
    RECOVERY,
    LiveServer,
    backend_settings,
    close_storage,
    issue_key,
    report_data,
    store_env,
    wait_until,
)
from tests.processes import irontrace
from tests.test_hits import TURKESTAN, Party, received, register_webhook

PIN = "CAT0336DLTJF00123"
DAY = 86400
receiver = test_hits.receiver  # the project's webhook receiver over real HTTP (a fixture)
LIFE_SETTINGS = {"MAINTENANCE_SECONDS": 3600, "WEBHOOK_POLL_SECONDS": 0.1, "BULK_WORKER_THREADS": 1,
                 "BULK_POLL_SECONDS": 0.05, "CHECK_RETENTION_DAYS": 30, "BULK_JOB_RETENTION_DAYS": 60,
                 "BULK_RESULT_RETENTION_DAYS": 10}


@pytest.fixture
def life_app(backend, tmp_path, request, clock):
    app = create_app({**backend_settings(backend, tmp_path, request), **LIFE_SETTINGS, "CLOCK_FILE": str(clock.path)})
    yield app
    close_storage(app)


@pytest.fixture
def live(life_app):
    with LiveServer(life_app, issue_key(life_app)) as server:
        yield server


@pytest.fixture
def parties(life_app, live):
    return {"agency": Party(live, issue_key(life_app, AGENCY, TURKESTAN)),
            "other_agency": Party(live, issue_key(life_app, AGENCY, "Police of Almaty")),
            "border": Party(live, issue_key(life_app, BORDER)), "dealer": Party(live, issue_key(life_app, DEALER))}


def services(app) -> Services:
    return app.extensions[EXTENSION_KEY]


def audit(live, action: str) -> list[dict]:
    return live.get("/v1/audit", params={"action": action}).json()["items"]


def matched(party: Party) -> dict:
    answer = party.post("/v1/checks", json={"identifier": PIN})
    assert answer.status_code == 200, answer.text
    [match] = answer.json()["matches"]
    return match


def test_a_report_is_due_for_review_a_year_on_until_its_agency_validates_it(live, parties, clock):
    agency, border = parties["agency"], parties["border"]
    report = agency.post("/v1/reports", json=report_data()).json()
    assert (report["review_at"], report["review_due"]) == ("2027-11-26T08:00:00.000Z", False)
    assert matched(border)["review_due"] is False

    clock.advance(365 * DAY)  # 2027-11-26 08:00: the review date itself
    assert matched(border)["review_due"] is True
    assert "review_due" not in matched(parties["dealer"])  # a dealer is told whom to call, not how current it is
    for outsider in (parties["other_agency"], border, parties["dealer"]):
        assert outsider.post(f"/v1/reports/{report['id']}/validation").status_code == 403

    clock.advance(DAY)
    validated = agency.post(f"/v1/reports/{report['id']}/validation")
    assert validated.status_code == 200, validated.text
    assert validated.headers["ETag"] == '"2"'
    assert {k: validated.json()[k] for k in ("validated_at", "review_at", "review_due", "version")} == {
        "validated_at": "2027-11-27T08:00:00.000Z", "review_at": "2028-11-27T08:00:00.000Z", "review_due": False,
        "version": 2}
    assert matched(border)["review_due"] is False
    [entry] = audit(live, "report.validate")
    assert (entry["subject"], entry["details"]["review_was"], entry["details"]["review_at"]) == (
        report["id"], "2027-11-26T08:00:00.000Z", "2028-11-27T08:00:00.000Z")
    # An edit keeps the validation; a recovered report has nothing left to review.
    patched = live.patch(f"/v1/reports/{report['id']}", json={"color": "orange"}, headers={"If-Match": '"2"'}).json()
    assert (patched["validated_at"], patched["review_at"]) == ("2027-11-27T08:00:00.000Z", "2028-11-27T08:00:00.000Z")
    live.patch(f"/v1/reports/{report['id']}", json={"status": "recovered", "recovery": RECOVERY},
               headers={"If-Match": '"3"'})
    assert agency.post(f"/v1/reports/{report['id']}/validation").status_code == 409


def test_review_due_is_raised_once_per_review_period_by_the_maintenance_round(life_app, live, parties, receiver,
                                                                              clock):
    agency = parties["agency"]
    webhook = register_webhook(agency, receiver, ["report.review_due"])
    report = agency.post("/v1/reports", json=report_data()).json()
    fresh = agency.post("/v1/reports", json=report_data("KZ-TRK-2026-000002", identifiers=[])).json()
    maintenance = services(life_app).maintenance

    clock.advance(365 * DAY - 1)  # a second before the review date: nothing
    maintenance.run_once()
    clock.advance(1)
    agency.post(f"/v1/reports/{fresh['id']}/validation")  # validated on the day: a new period
    maintenance.run_once()
    maintenance.run_once()  # a second round, and a second process's, send nothing more
    services(life_app).reviews.sweep_due(clock.now)

    def deliveries() -> list[dict]:
        return live.get(f"/v1/webhooks/{webhook['id']}/deliveries").json()["items"]

    assert len(deliveries()) == 1
    [event] = received_when(receiver, 1)
    assert {k: event["data"][k] for k in ("report_id", "external_ref", "agency", "review_at", "validated_at")} == {
        "report_id": report["id"], "external_ref": report["external_ref"], "agency": TURKESTAN,
        "review_at": "2027-11-26T08:00:00.000Z", "validated_at": None}
    [entry] = audit(live, "report.review_due")
    assert (entry["subject"], entry["details"]) == (report["id"], {"review_at": "2027-11-26T08:00:00.000Z"})

    # Validated, then overdue again a year later: a new period, a new notice.
    clock.advance(30 * DAY)
    agency.post(f"/v1/reports/{report['id']}/validation")
    clock.advance(366 * DAY)  # 2028 has a 29 February
    maintenance.run_once()
    assert len(deliveries()) == 3  # the report's second notice, and the first of the one validated a year ago
    review_dates = sorted(e["data"]["review_at"] for e in received_when(receiver, 3))
    assert review_dates == ["2027-11-26T08:00:00.000Z", "2028-11-26T08:00:00.000Z", "2028-12-26T08:00:00.000Z"]


def received_when(listener, count: int) -> list[dict]:
    """The receiver's events, once ``count`` of them arrived (sent by the deliverer's thread)."""
    return wait_until(lambda: received(listener), lambda events: len(events) >= count, f"{count} events",
                      timeout=30)


def test_recovery_needs_its_details_and_cancelling_its_reason(live, parties):
    agency, border, dealer = parties["agency"], parties["border"], parties["dealer"]
    report = agency.post("/v1/reports", json=report_data()).json()
    url = f"/v1/reports/{report['id']}"

    def patch(body: dict):
        return live.patch(url, json=body, headers={"If-Match": "*"})

    missing = patch({"status": "recovered"})
    assert missing.status_code == 422
    assert missing.json()["errors"] == [{"field": "recovery", "message": missing.json()["detail"]}]
    assert "date, place, country and recovering agency" in missing.json()["detail"]
    incomplete = patch({"status": "recovered", "recovery": {"date": "2026-11-26", "place": "Zhibek Zholy"}})
    assert incomplete.status_code == 422
    assert {e["field"] for e in incomplete.json()["errors"]} == {"recovery.country", "recovery.agency"}
    assert patch({"status": "recovered", "recovery": {**RECOVERY, "country": "Kazakhstan"}}).status_code == 422
    assert live.get(url).json()["status"] == "stolen"  # nothing was written

    recovered = patch({"status": "recovered", "recovery": RECOVERY})
    assert recovered.status_code == 200, recovered.text
    assert live.get(url).json()["recovery"] == RECOVERY
    assert matched(border)["recovery"] == RECOVERY
    assert "recovery" not in matched(dealer)

    no_reason = patch({"status": "cancelled", "cancellation": {"reason": ""}})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["field"] == "cancellation.reason"
    assert patch({"status": "cancelled"}).json()["errors"] == [
        {"field": "cancellation", "message": "A report that is cancelled needs the reason: cancellation.reason."}]
    cancelled = patch({"status": "cancelled", "cancellation": {"reason": "Registered twice (KZ-TRK-2025-000002)."}})
    assert cancelled.status_code == 200 and cancelled.json()["cancellation"]["reason"].startswith("Registered twice")


def bulk_job(live) -> str:
    """A bulk check of one row, run to its end by the app's worker; its id."""
    answer = live.post("/v1/bulk-checks", data=f"serial\n{PIN}\n".encode(), headers={"Content-Type": "text/csv"})
    assert answer.status_code == 202, answer.text
    job_id = answer.json()["id"]
    wait_until(lambda: live.get(f"/v1/bulk-checks/{job_id}").json()["status"], lambda s: s == "done", "job done",
               timeout=60)
    return job_id


def test_retention_purges_only_what_is_past_its_period_and_audits_each_purge(life_app, live, clock):
    live.post("/v1/reports", json=report_data())
    checks = services(life_app).engine.checks
    purge = services(life_app).retention.purge
    old_check = live.post("/v1/checks", json={"identifier": PIN}).json()["check_id"]
    old_job = bulk_job(live)
    clock.advance(10 * DAY)  # exactly the results' period: not yet past it
    assert purge(clock.now) == {"checks": 0, "bulk_checks": 0, "bulk_check_results": 0}
    clock.advance(1)
    young_check = live.post("/v1/checks", json={"identifier": PIN}).json()["check_id"]
    young_job = bulk_job(live)

    assert purge(clock.now) == {"checks": 0, "bulk_checks": 0, "bulk_check_results": 1}
    assert live.get(f"/v1/bulk-checks/{old_job}/results").status_code == 404
    assert live.get(f"/v1/bulk-checks/{old_job}").json()["status"] == "done"  # the job itself stays
    rows = list(csv.DictReader(io.StringIO(live.get(f"/v1/bulk-checks/{young_job}/results",
                                                    headers={"Accept": "text/csv"}).text)))
    assert [row["verdict"] for row in rows] == ["hit"]

    clock.advance(20 * DAY)  # the old check is 30 days and a second old
    assert purge(clock.now)["checks"] == 1
    with pytest.raises(NotFound):
        checks.get(old_check)
    assert checks.get(young_check)["check_id"] == young_check

    clock.advance(30 * DAY)  # the old job is past its 60 days, the young one is not
    assert purge(clock.now) == {"checks": 1, "bulk_checks": 1, "bulk_check_results": 0}
    assert live.get(f"/v1/bulk-checks/{old_job}").status_code == 404
    assert live.get(f"/v1/bulk-checks/{young_job}").json()["status"] == "done"

    entries = audit(live, "retention.purge")
    assert sorted((e["subject"], e["details"]["count"], e["details"]["days"]) for e in entries) == [
        ("bulk_check_results", 1, 10), ("bulk_check_results", 1, 10), ("bulk_checks", 1, 60), ("checks", 1, 30),
        ("checks", 1, 30)]
    assert all(e["actor"]["role"] == Actor.system().role for e in entries)
    assert audit(live, "check")  # the audit log itself is kept: the purged checks' entries too


def test_irontrace_purge_removes_old_check_records_by_the_configured_clock(life_app, live, clock):
    live.post("/v1/reports", json=report_data())
    old_check = live.post("/v1/checks", json={"identifier": PIN}).json()["check_id"]
    clock.advance(31 * DAY)
    env = {**store_env(life_app), "IRONTRACE_CLOCK_FILE": str(clock.path), "IRONTRACE_CHECK_RETENTION_DAYS": "30"}
    purged = irontrace("purge", env=env)
    assert purged.returncode == 0, purged.stderr
    assert "checks: 1 purged" in purged.stdout
    with pytest.raises(NotFound):
        services(life_app).engine.checks.get(old_check)
    [entry] = audit(live, "retention.purge")
    assert (entry["actor"]["role"], entry["details"]["cutoff"]) == (Actor.operator().role, "2026-11-27T08:00:00.000Z")


def test_a_webhook_to_a_private_address_is_refused_and_checked_again_before_each_delivery(
        backend, tmp_path, request, receiver):
    settings = {**backend_settings(backend, tmp_path, request), **LIFE_SETTINGS}
    allowing = create_app(settings)  # the tests' setting: receivers listen on 127.0.0.1
    with LiveServer(allowing, issue_key(allowing)) as server:
        Party(server, issue_key(allowing, AGENCY, TURKESTAN)).post("/v1/reports", json=report_data())
        hook = register_webhook(Party(server, issue_key(allowing, AGENCY, TURKESTAN)), receiver, ["check.matched"])
    services(allowing).close()  # the registry stays; the next app serves it with the production default
    refusing = create_app({**settings, "WEBHOOK_ALLOW_PRIVATE": False})
    try:
        with LiveServer(refusing, issue_key(refusing)) as server:
            agency = Party(server, issue_key(refusing, AGENCY, TURKESTAN))
            for url in ("http://127.0.0.1:9/hooks", "http://localhost/hooks", "https://10.1.2.3/", "http://[::1]:80/",
                        "http://169.254.169.254/latest/meta-data", "http://[::ffff:192.168.0.1]/"):
                refused = agency.post("/v1/webhooks", json={"url": url, "events": ["check.matched"]})
                assert refused.status_code == 400, url
                assert "not a public address" in refused.json()["detail"], refused.text
            # The webhook made before (as if its name had resolved outward then) is refused at delivery time.
            assert server.post("/v1/checks", json={"identifier": PIN}).json()["verdict"] == "hit"
            [delivery] = wait_until(lambda: server.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
                                    # the attempt is counted when taken, its outcome written after it
                                    lambda items: items and items[0]["last_response"] is not None,
                                    "a refused attempt", timeout=30)
            assert delivery["attempts"] == 1
            assert delivery["status"] == "pending"  # retried later, in case the name resolves outward again
            assert delivery["last_response"] == (
                "refused: 127.0.0.1 resolves to 127.0.0.1, which is not a public address")
            assert received(receiver) == []
    finally:
        close_storage(refusing)


@pytest.mark.parametrize(("start", "months", "review"), [
    ("2026-11-26T08:00:00+00:00", 12, "2027-11-26T08:00:00+00:00"),
    ("2027-01-31T23:59:59+00:00", 1, "2027-02-28T23:59:59+00:00"),
    ("2028-02-29T00:00:00+00:00", 12, "2029-02-28T00:00:00+00:00"),
    ("2026-12-15T00:00:00+00:00", 1, "2027-01-15T00:00:00+00:00"),
    ("2027-01-15T00:00:00+00:00", -1, "2026-12-15T00:00:00+00:00"),
])
def test_review_dates_count_calendar_months(start, months, review):
    assert add_months(dt.datetime.fromisoformat(start), months) == dt.datetime.fromisoformat(review)
