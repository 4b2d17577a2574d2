"""Acting on a hit: confirmation with the owning agency, webhooks, and sightings (seen before).

Every test runs on both engines over real HTTP; webhooks go to the project's
receiver (``integrations.webhook_receiver``) over real HTTP, which verifies
each signature the Standard Webhooks way.  Deadlines and retries count by the
clock file (``FileClock``): tests move it, never sleep.
"""

from __future__ import annotations

import re
import time

import pytest
import requests
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from integrations.webhook_receiver import create_receiver
from registry import create_app
from registry.access import AGENCY, BORDER, DEALER, Actor
from registry.api.extension import EXTENSION_KEY
from registry.demo import tulkubas_case
from registry.services.webhooks import new_secret
from tests.conftest import (
    LiveServer,
    backend_settings,
    bearer,
    close_storage,
    issue_key,
    report_data,
    wait_until,
)
from tests.processes import Gunicorn

PIN = "CAT0336DLTJF00123"
TURKESTAN = "Police Department of Turkestan Region"
ALL_EVENTS = ["check.matched", "confirmation.requested", "confirmation.answered", "confirmation.overdue",
              "bulk_check.finished", "report.seen_before"]
HIT_SETTINGS = {"WEBHOOK_POLL_SECONDS": 0.1, "WEBHOOK_TIMEOUT_SECONDS": 2.0, "BULK_WORKER_THREADS": 1,
                "BULK_POLL_SECONDS": 0.1}


@pytest.fixture
def hits_app(backend, tmp_path, request, clock):
    app = create_app({**backend_settings(backend, tmp_path, request), **HIT_SETTINGS, "CLOCK_FILE": str(clock.path)})
    yield app
    close_storage(app)


class Party:
    """One key's view of the registry over HTTP."""

    def __init__(self, server: LiveServer, key: str) -> None:
        self.url = server.url
        self.http = requests.Session()
        self.http.headers.update(bearer(key))

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.http.get(self.url + path, timeout=30, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.http.post(self.url + path, timeout=30, **kwargs)


@pytest.fixture
def live(hits_app):
    with LiveServer(hits_app, issue_key(hits_app)) as server:
        yield server


@pytest.fixture
def parties(hits_app, live):
    return {
        "agency": Party(live, issue_key(hits_app, AGENCY, TURKESTAN)),
        "border": Party(live, issue_key(hits_app, BORDER)),
        "other_border": Party(live, issue_key(hits_app, BORDER)),
        "other_agency": Party(live, issue_key(hits_app, AGENCY, "Police of Almaty")),
        "dealer": Party(live, issue_key(hits_app, DEALER)),
    }


@pytest.fixture
def receiver():
    """The project's webhook receiver, over real HTTP, with a secret the registry made."""
    secret = new_secret()
    with LiveServer(create_receiver(secret)) as server:
        server.secret = secret
        yield server


def received(receiver, event_type: str | None = None) -> list[dict]:
    events = receiver.get("/_control/events").json()["events"]
    return [e for e in events if event_type is None or e["type"] == event_type]


def register_webhook(party: Party, receiver, events=ALL_EVENTS) -> dict:
    answer = party.post("/v1/webhooks", json={"url": receiver.url + "/hooks", "events": events,
                                              "secret": receiver.secret})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_border_hit_is_confirmed_by_the_owning_agency_and_its_receiver_hears_within_two_seconds(
        live, parties, receiver):
    agency, border = parties["agency"], parties["border"]
    report = agency.post("/v1/reports", json=report_data()).json()
    register_webhook(agency, receiver)

    check = border.post("/v1/checks", json={"identifier": PIN}).json()
    checked = time.monotonic()
    assert check["verdict"] == "hit"
    wait_until(lambda: received(receiver, "check.matched"), bool, "check.matched", timeout=10)
    assert time.monotonic() - checked < 2.0
    asked = border.post(f"/v1/checks/{check['check_id']}/confirmations", json={
        "report_id": report["id"], "priority": "urgent", "location": "Zhibek Zholy border post", "note": "lane 3"})
    requested = time.monotonic()
    assert asked.status_code == 201, asked.text
    request = asked.json()
    assert request["status"] == "open" and request["agency"] == TURKESTAN
    assert request["due_at"] == "2026-11-26T08:10:00.000Z"  # 10 minutes after the clock's 08:00 for urgent
    wait_until(lambda: received(receiver, "confirmation.requested"), bool, "confirmation.requested", timeout=10)
    assert time.monotonic() - requested < 2.0
    [matched] = received(receiver, "check.matched")
    assert matched["data"]["check_id"] == check["check_id"] and matched["data"]["verdict"] == "hit"
    assert matched["data"]["checker"]["role"] == "border"
    assert matched["data"]["matches"][0]["report_id"] == report["id"]
    assert matched["data"]["matches"][0]["incident"]["place"] == "Tulkubas impound lot"  # its own report: full
    assert receiver.get("/_control/events").json()["rejected"] == 0

    # The agency sees the open request and answers it; the checker reads the answer.
    listed = agency.get("/v1/confirmations", params={"status": "open"}).json()["items"]
    assert [r["id"] for r in listed] == [request["id"]]
    refused = agency.post(f"/v1/confirmations/{request['id']}/answer", json={"outcome": "not_confirmed"})
    assert refused.status_code in (400, 422)  # not_confirmed needs a reason
    answered = agency.post(f"/v1/confirmations/{request['id']}/answer", json={"outcome": "confirmed"})
    assert answered.status_code == 200 and answered.json()["status"] == "confirmed"
    seen = border.get(f"/v1/confirmations/{request['id']}").json()
    assert seen["answer"]["outcome"] == "confirmed" and seen["answer"]["answered_by"]["agency"] == TURKESTAN
    assert agency.post(f"/v1/confirmations/{request['id']}/answer", json={"outcome": "confirmed"}).status_code == 409
    assert border.get("/v1/confirmations").json()["items"][0]["id"] == request["id"]
    wait_until(lambda: received(receiver, "confirmation.answered"), bool, "confirmation.answered", timeout=10)

    # Nobody else reads it, or answers it.
    for other in ("other_border", "other_agency", "dealer"):
        assert parties[other].get(f"/v1/confirmations/{request['id']}").status_code == 404
        assert parties[other].get("/v1/confirmations").json()["items"] == []
    assert border.post(f"/v1/confirmations/{request['id']}/answer", json={"outcome": "confirmed"}).status_code == 404

    # Every step is in the audit log.
    actions = [e["action"] for e in live.get("/v1/audit", params={"subject": request["id"]}).json()["items"]]
    assert actions == ["confirmation.request", "confirmation.answer"]


def test_the_demo_registrys_tulkubas_excavator_is_confirmed_by_the_turkestan_agency(hits_app, live, parties):
    """The issue's first "done when", on the demo registry's own Tulkubas case."""
    hits_app.extensions[EXTENSION_KEY].imports.import_rows(Actor.operator(), enumerate(tulkubas_case(), start=1))
    [excavator] = [r for r in tulkubas_case() if r["category"] == "excavator"]
    check = parties["border"].post("/v1/checks", json={"identifier": excavator["identifiers"][0]["value"]}).json()
    assert check["verdict"] == "hit"
    report_id = check["matches"][0]["report_id"]
    request = parties["border"].post(f"/v1/checks/{check['check_id']}/confirmations", json={
        "report_id": report_id, "priority": "urgent", "location": "Zhibek Zholy border post"}).json()
    assert request["agency"] == TURKESTAN == excavator["reporting_agency"]["name"]
    answer = parties["agency"].post(f"/v1/confirmations/{request['id']}/answer", json={"outcome": "confirmed"})
    assert answer.status_code == 200
    assert parties["border"].get(f"/v1/confirmations/{request['id']}").json()["status"] == "confirmed"


def test_a_dealer_asks_by_case_number_and_is_shown_no_report_id(live, parties, receiver):
    agency, dealer = parties["agency"], parties["dealer"]
    report = agency.post("/v1/reports", json=report_data()).json()
    register_webhook(dealer, receiver, ["confirmation.requested"])
    check = dealer.post("/v1/checks", json={"identifier": PIN}).json()
    assert "report_id" not in check["matches"][0]
    asked = dealer.post(f"/v1/checks/{check['check_id']}/confirmations", json={
        "external_ref": check["matches"][0]["external_ref"], "priority": "routine", "location": "our yard"})
    assert asked.status_code == 201, asked.text
    assert "report_id" not in asked.json() and asked.json()["external_ref"] == report["external_ref"]
    assert agency.get(f"/v1/confirmations/{asked.json()['id']}").json()["report_id"] == report["id"]
    [event] = wait_until(lambda: received(receiver, "confirmation.requested"), bool, "the dealer's event", timeout=10)
    assert "report_id" not in event["data"] and event["data"]["external_ref"] == report["external_ref"]
    wrong = dealer.post(f"/v1/checks/{check['check_id']}/confirmations", json={
        "external_ref": "KZ-NOT-MATCHED", "priority": "routine", "location": "our yard"})
    assert wrong.status_code == 400


def test_only_the_checker_asks_and_only_about_a_report_its_check_matched(hits_app, live, parties):
    agency, border = parties["agency"], parties["border"]
    report = agency.post("/v1/reports", json=report_data()).json()
    other = agency.post("/v1/reports", json=report_data("KZ-TRK-2025-000002", identifiers=[
        {"type": "serial", "value": "HCM1U100C00017042"}])).json()
    check = border.post("/v1/checks", json={"identifier": PIN}).json()
    body = {"report_id": report["id"], "priority": "routine", "location": "yard"}
    assert parties["other_border"].post(f"/v1/checks/{check['check_id']}/confirmations", json=body).status_code == 404
    unmatched = border.post(f"/v1/checks/{check['check_id']}/confirmations", json={**body, "report_id": other["id"]})
    assert unmatched.status_code == 400
    routine = border.post(f"/v1/checks/{check['check_id']}/confirmations", json=body).json()
    assert routine["due_at"] == "2026-11-26T09:00:00.000Z"  # an hour for routine
    nothing = border.post("/v1/checks", json={"identifier": "ZZZ999999999"}).json()
    assert border.post(f"/v1/checks/{nothing['check_id']}/confirmations", json=body).status_code == 400


def test_an_unanswered_request_becomes_overdue_by_the_configured_clock_and_a_second_notice_goes_out(
        hits_app, live, parties, receiver, clock):
    agency, border = parties["agency"], parties["border"]
    report = agency.post("/v1/reports", json=report_data()).json()
    register_webhook(border, receiver, ["confirmation.overdue", "confirmation.answered"])
    check = border.post("/v1/checks", json={"identifier": PIN}).json()
    request = border.post(f"/v1/checks/{check['check_id']}/confirmations", json={
        "report_id": report["id"], "priority": "urgent", "location": "post"}).json()
    clock.advance(9 * 60)
    assert agency.get(f"/v1/confirmations/{request['id']}").json()["status"] == "open"
    assert received(receiver, "confirmation.overdue") == []
    clock.advance(61)
    assert agency.get(f"/v1/confirmations/{request['id']}").json()["status"] == "overdue"
    [notice] = wait_until(lambda: received(receiver, "confirmation.overdue"), bool, "the overdue notice", timeout=20)
    assert notice["data"]["id"] == request["id"] and notice["data"]["status"] == "overdue"
    assert [r["id"] for r in agency.get("/v1/confirmations", params={"status": "overdue"}).json()["items"]] == [
        request["id"]]
    assert agency.get("/v1/confirmations", params={"status": "open"}).json()["items"] == []
    assert hits_app.extensions[EXTENSION_KEY].confirmations.sweep_overdue(clock.now) == 0  # once only
    # An overdue request can still be answered.
    answered = agency.post(f"/v1/confirmations/{request['id']}/answer",
                           json={"outcome": "record_outdated", "reason": "recovered in October"})
    assert answered.json()["status"] == "record_outdated"
    wait_until(lambda: received(receiver, "confirmation.answered"), bool, "confirmation.answered", timeout=10)


def test_a_receiver_that_is_down_and_back_gets_every_event_once_and_can_have_one_again(
        live, parties, receiver, clock):
    agency, border = parties["agency"], parties["border"]
    agency.post("/v1/reports", json=report_data())
    hook = register_webhook(agency, receiver, ["check.matched"])
    receiver.http.put(receiver.url + "/_control/mode", json={"mode": "unavailable"}, timeout=10)
    checks = [border.post("/v1/checks", json={"identifier": PIN}).json()["check_id"] for _ in range(3)]
    log = wait_until(lambda: agency.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
                     lambda items: len(items) == 3 and all(d["last_response"] for d in items), "failed attempts")
    assert {d["status"] for d in log} == {"pending"} and {d["last_response"] for d in log} == {"503"}
    assert received(receiver) == []
    receiver.http.put(receiver.url + "/_control/mode", json={"mode": "normal"}, timeout=10)
    clock.advance(23 * 3600)  # still within the 24 hours of retries
    events = wait_until(lambda: received(receiver), lambda found: len(found) == 3, "every event after the outage")
    assert sorted(e["data"]["check_id"] for e in events) == sorted(checks)
    log = wait_until(lambda: agency.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
                     lambda items: {d["status"] for d in items} == {"delivered"}, "the outcomes stored")
    # Redelivery sends the same delivery again, under the same webhook-id.
    first = log[0]
    again = agency.post(f"/v1/webhooks/{hook['id']}/deliveries/{first['id']}/redeliver")
    assert again.status_code == 202 and again.json()["status"] == "pending"
    wait_until(lambda: receiver.get("/_control/events").json()["repeats"], lambda n: n == 1, "the redelivery")
    assert parties["other_agency"].get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404


def test_a_delivery_still_refused_after_24_hours_is_marked_failed(live, parties, receiver, clock):
    agency, border = parties["agency"], parties["border"]
    agency.post("/v1/reports", json=report_data())
    hook = register_webhook(agency, receiver, ["check.matched"])
    receiver.http.put(receiver.url + "/_control/mode", json={"mode": "unavailable"}, timeout=10)
    border.post("/v1/checks", json={"identifier": PIN})
    wait_until(lambda: agency.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
               lambda items: items and items[0]["last_response"] == "503", "the first attempt")
    clock.advance(24 * 3600)
    [failed] = wait_until(lambda: agency.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"],
                          lambda items: items[0]["status"] == "failed", "giving up")
    assert failed["attempts"] == 2 and failed["next_attempt_at"] is None


def test_events_go_only_to_webhooks_within_their_owners_rights(live, parties, receiver):
    agency, border = parties["agency"], parties["border"]
    agency.post("/v1/reports", json=report_data())
    others = [(parties[name], register_webhook(parties[name], receiver)) for name in ("other_agency", "dealer")]
    check = border.post("/v1/checks", json={"identifier": PIN}).json()
    assert check["verdict"] == "hit"
    own = register_webhook(agency, receiver, ["check.matched"])
    border.post("/v1/checks", json={"identifier": PIN})
    [event] = wait_until(lambda: received(receiver), bool, "the owning agency's event", timeout=10)
    assert event["type"] == "check.matched"
    # Deliveries are stored with the check that raises them: none was made for the others' webhooks.
    for party, hook in others:
        assert party.get(f"/v1/webhooks/{hook['id']}/deliveries").json()["items"] == []
    assert len(received(receiver)) == 1
    assert [h["id"] for h in agency.get("/v1/webhooks").json()["items"]] == [own["id"]]
    assert "secret" not in agency.get("/v1/webhooks").text
    assert agency.http.delete(f"{agency.url}/v1/webhooks/{own['id']}", timeout=30).status_code == 200
    assert agency.get("/v1/webhooks").json()["items"] == []


def test_a_check_matching_two_agencies_reports_raises_an_event_for_each_with_only_its_own(live, parties, receiver):
    agency, other = parties["agency"], parties["other_agency"]
    almaty = "Police of Almaty"
    agency.post("/v1/reports", json=report_data())
    near = PIN[:-1] + "4"  # one typo from the Turkestan report's PIN
    assert other.post("/v1/reports", json=report_data("ALM-2025-7", identifiers=[{"type": "pin", "value": near}],
                                                      reporting_agency={"name": almaty, "country": "KZ"})
                      ).status_code == 201
    for party in (agency, other):
        register_webhook(party, receiver, ["check.matched"])
    check = parties["border"].post("/v1/checks", json={"identifier": PIN}).json()
    assert {m["reporting_agency"]["name"] for m in check["matches"]} == {TURKESTAN, almaty}
    events = wait_until(lambda: received(receiver, "check.matched"), lambda found: len(found) == 2,
                        "an event for each agency", timeout=10)
    by_agency = {event["data"]["agency"]: event["data"] for event in events}
    assert set(by_agency) == {TURKESTAN, almaty}
    for name, data in by_agency.items():
        assert data["check_id"] == check["check_id"]
        assert {m["reporting_agency"]["name"] for m in data["matches"]} == {name}
    assert by_agency[TURKESTAN]["event_id"] != by_agency[almaty]["event_id"]


def test_a_finished_bulk_check_is_announced_to_its_submitter(live, parties, receiver):
    agency, border = parties["agency"], parties["border"]
    agency.post("/v1/reports", json=report_data())
    register_webhook(border, receiver, ["bulk_check.finished"])
    job = border.post("/v1/bulk-checks", data=f"serial\n{PIN}\nZZZ999999999\n".encode(),
                      headers={"Content-Type": "text/csv"}).json()
    [event] = wait_until(lambda: received(receiver, "bulk_check.finished"), bool, "bulk_check.finished")
    expected = {"id": job["id"], "status": "done", "rows_total": 2, "hits": 1, "no_matches": 1, "errors": 0}
    assert {k: event["data"][k] for k in expected} == expected


def test_a_new_report_finds_the_check_made_a_week_earlier(live, parties, receiver, clock):
    agency, border = parties["agency"], parties["border"]
    register_webhook(agency, receiver, ["report.seen_before"])
    clock.advance(-200 * 86400)
    too_old = border.post("/v1/checks", json={"identifier": PIN}).json()
    clock.advance(193 * 86400)
    week_ago = border.post("/v1/checks", json={"identifier": "CAT0336DLTJFOO123"}).json()  # O for 0: a misreading
    assert week_ago["verdict"] == "no_match" and too_old["verdict"] == "no_match"
    clock.advance(7 * 86400)
    report = agency.post("/v1/reports", json=report_data()).json()
    sightings = agency.get(f"/v1/reports/{report['id']}/sightings").json()
    assert [s["check_id"] for s in sightings["sightings"]] == [week_ago["check_id"]]
    [seen] = sightings["sightings"]
    assert seen["reading"] == "CAT0336DLTJFOO123" and seen["checker"]["role"] == "border"
    assert seen["checked_at"] == "2026-11-19T08:00:00.000Z" and seen["verdict_now"] in ("hit", "possible_match")
    [event] = wait_until(lambda: received(receiver, "report.seen_before"), bool, "report.seen_before", timeout=10)
    assert event["data"]["report_id"] == report["id"] and event["data"]["sightings"] == sightings["sightings"]
    assert parties["other_agency"].get(f"/v1/reports/{report['id']}/sightings").status_code == 404
    assert border.get(f"/v1/reports/{report['id']}/sightings").status_code == 403


def test_signatures_are_the_standard_webhooks_ones(live, parties, receiver):
    """The receiver verifies with the ``standardwebhooks`` library; a tampered body or another secret fails."""
    import datetime as dt

    from registry.services.deliverer import signed_headers

    hook = {"secret": receiver.secret}
    delivery = {"id": "msg_1", "body": '{"type":"check.matched"}'}
    headers = signed_headers(hook, delivery, dt.datetime.now(dt.UTC))
    assert headers["webhook-signature"].startswith("v1,")
    assert Webhook(receiver.secret).verify(delivery["body"], headers) == {"type": "check.matched"}
    with pytest.raises(WebhookVerificationError):
        Webhook(receiver.secret).verify('{"type":"check.unmatched"}', headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(delivery["body"], headers)
    made = parties["agency"].post("/v1/webhooks", json={"url": receiver.url + "/hooks", "events": ["check.matched"]})
    assert made.json()["secret"].startswith("whsec_")
    bad = parties["agency"].post("/v1/webhooks", json={"url": "ftp://x", "events": ["check.matched"]})
    assert bad.status_code == 400


def test_a_kill_9_between_a_check_and_its_delivery_loses_no_event(backend, tmp_path, request, receiver, clock):
    """The check stores its event's delivery with itself; a server killed before sending it leaves it to the
    next server, which sends it once the receiver is back."""
    if backend == "sqlite":
        env = {"IRONTRACE_DB": str(tmp_path / "killed.db")}
    else:
        settings = backend_settings(backend, tmp_path, request)
        env = {"IRONTRACE_ES_URL": settings["ES_URL"], "IRONTRACE_ES_INDEX_PREFIX": settings["ES_INDEX_PREFIX"],
               "IRONTRACE_ES_REFRESH_INTERVAL": "100ms"}
    env |= {"IRONTRACE_CLOCK_FILE": str(clock.path), "IRONTRACE_WEBHOOK_POLL_SECONDS": "0.1",
            "IRONTRACE_WEBHOOK_ALLOW_PRIVATE": "true",
            "IRONTRACE_AUDIT_HEADS_FILE": str(tmp_path / "heads.ndjson")}
    receiver.http.put(receiver.url + "/_control/mode", json={"mode": "unavailable"}, timeout=10)
    try:
        with Gunicorn(env, workers=2) as server:
            http = server.http
            http.post(server.url + "/v1/reports", json=report_data(), timeout=60).raise_for_status()
            hook = http.post(server.url + "/v1/webhooks", timeout=60, json={
                "url": receiver.url + "/hooks", "events": ["check.matched"], "secret": receiver.secret}).json()
            check = http.post(server.url + "/v1/checks", json={"identifier": PIN}, timeout=60).json()
            assert check["verdict"] == "hit"
            server.kill()
        assert received(receiver) == []
        receiver.http.put(receiver.url + "/_control/mode", json={"mode": "normal"}, timeout=10)
        with Gunicorn(env, workers=1):
            clock.advance(3600)  # past any backoff the killed server set
            [event] = wait_until(lambda: received(receiver), bool, "the event after the crash", timeout=60)
        assert event["data"]["check_id"] == check["check_id"] and hook["id"]
    finally:
        if backend != "sqlite":
            from elasticsearch import Elasticsearch

            with Elasticsearch(settings["ES_URL"]) as es:  # the test's own indices, by name
                names = list(es.indices.get(index=f"{settings['ES_INDEX_PREFIX']}-*"))
                if names:
                    es.indices.delete(index=",".join(names))


def test_the_web_app_asks_for_and_answers_a_confirmation(hits_app, live):
    """Through the web app: the border officer asks from the check's answer, the agency's desk answers."""
    from tests.conftest import Browser, create_user

    report = live.post("/v1/reports", json=report_data()).json()
    officer, desk = Browser(live), Browser(live)
    officer.sign_in(create_user(hits_app, BORDER))
    desk.sign_in(create_user(hits_app, AGENCY, TURKESTAN))
    answer = officer.submit("/", {"identifier": PIN}).text
    check_id = re.search(r'action="/checks/([0-9a-f-]{36})/confirmations"', answer)[1]
    asked = officer.submit(f"/checks/{check_id}/confirmations", {"report_id": report["id"], "priority": "urgent",
                                                                 "location": "Zhibek Zholy border post"}, form_at="/")
    assert asked.status_code == 200 and "Zhibek Zholy border post" in asked.text
    [request] = live.get("/v1/confirmations").json()["items"]
    page = desk.get("/confirmations").text
    assert f'/confirmations/{request["id"]}/answer' in page
    desk.submit(f"/confirmations/{request['id']}/answer", {"outcome": "confirmed"}, form_at="/confirmations")
    assert live.get(f"/v1/confirmations/{request['id']}").json()["status"] == "confirmed"
    assert "Confirmed: the item is wanted" in officer.get("/confirmations").text
