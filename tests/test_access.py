"""Who may do what: every endpoint x every role, and keys that are missing, revoked or expired.

Runs on both engines over real HTTP with real keys issued by the service.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import openpyxl
import pytest
import requests

from registry.access import ADMIN, AGENCY, AUDITOR, BORDER, DEALER, REPLICA, Actor
from registry.api.extension import EXTENSION_KEY
from registry.files.tables import XLSX_CONTENT_TYPE
from registry.services.keys import secret_digest
from tests.conftest import audit_entry, bearer, issue_key, report_data
from tests.test_web_access import WEB_PAGES

PIN = "CAT0336DLTJF00123"
INVENTORY = f"serial,note\n{PIN},yard 4\n".encode()
OWN_AGENCY = "Police Department of Turkestan Region"  # the agency of ``report_data``
NO_KEY, REVOKED, EXPIRED = "no key", "revoked key", "expired key"
ROLES = (ADMIN, AGENCY, BORDER, DEALER, AUDITOR, REPLICA)
CALLERS = (*ROLES, NO_KEY, REVOKED, EXPIRED)
EVERYONE = frozenset(CALLERS)
PUBLIC = EVERYONE
CHECKERS = frozenset({ADMIN, AGENCY, BORDER, DEALER})
CONFIRMATION_REQUEST = {"priority": "urgent", "location": "Zhibek Zholy border post"}
WEBHOOK = {"url": "http://127.0.0.1:9/hooks", "events": ["check.matched"]}  # nothing listens: deliveries wait

# What a dealer must never see of a matched report: its investigation details.
RESTRICTED_FIELDS = ("incident", "value", "description", "identifier", "identifiers", "explanation", "score",
                     "model", "color", "year", "report_id")
RESTRICTED_VALUES = ("Tulkubas impound lot", "95000000", "hydraulic breaker", "336D L", PIN)


@dataclass(frozen=True)
class Case:
    """One endpoint, how to call it, and which callers it admits (and with what status)."""

    name: str
    call: Callable[[Caller], object]
    allowed: frozenset[str]
    success: int = 200
    denied: int = 403  # for a valid key whose role may not
    success_on_elasticsearch: int | None = None  # where that engine answers otherwise (it lacks the feature)


def call(server, method: str, path: str, headers: dict[str, str], **kwargs) -> requests.Response:
    """A request with exactly these headers (not the admin key of ``server.http``)."""
    return requests.request(method, server.url + path, headers=headers, timeout=30, **kwargs)


class Caller:
    """The live server, a report to act on, and one caller's headers."""

    def __init__(self, server, report: dict, headers: dict[str, str], keys: KeyFactory) -> None:
        self.server, self.report, self.headers, self.keys = server, report, headers, keys

    @property
    def csv_headers(self) -> dict[str, str]:
        return {**self.headers, "Content-Type": "text/csv"}

    def admin_job(self) -> str:
        """A new bulk-check job submitted by the admin (it stays queued: workers are stopped)."""
        answer = self.server.post("/v1/bulk-checks", data=INVENTORY, headers={"Content-Type": "text/csv"})
        assert answer.status_code == 202, answer.text
        return answer.json()["id"]

    def admin_check(self) -> str:
        """A check by the admin that hits the report."""
        answer = self.server.post("/v1/checks", json={"identifier": PIN})
        assert answer.status_code == 200, answer.text
        return answer.json()["check_id"]

    def own_check(self) -> str:
        """A check by this caller that hits the report; the admin's, for a caller that may not check."""
        answer = self.post("/v1/checks", json={"identifier": PIN})
        return answer.json()["check_id"] if answer.status_code == 200 else self.admin_check()

    def admin_confirmation(self) -> str:
        """A new confirmation request the admin asked of the report's agency (``OWN_AGENCY``)."""
        answer = self.server.post(f"/v1/checks/{self.admin_check()}/confirmations", json=CONFIRMATION_REQUEST
                                  | {"report_id": self.report["id"]})
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def admin_webhook(self) -> str:
        answer = self.server.post("/v1/webhooks", json=WEBHOOK)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"]

    def admin_delivery(self) -> tuple[str, str]:
        """A webhook of the admin's and a delivery of it (the admin's webhooks receive every event)."""
        webhook_id = self.admin_webhook()
        self.admin_check()
        [delivery] = self.server.get(f"/v1/webhooks/{webhook_id}/deliveries").json()["items"]
        return webhook_id, delivery["id"]

    def get(self, path: str, **kwargs):
        return call(self.server, "GET", path, self.headers, **kwargs)

    def post(self, path: str, headers: dict[str, str] | None = None, **kwargs):
        return call(self.server, "POST", path, headers or self.headers, **kwargs)

    def patch(self, path: str, **kwargs):
        return call(self.server, "PATCH", path, {**self.headers, "If-Match": "*"}, **kwargs)

    def delete(self, path: str, **kwargs):
        return call(self.server, "DELETE", path, self.headers, **kwargs)


class KeyFactory:
    def __init__(self, app) -> None:
        self.app = app

    def header_for(self, caller: str) -> dict[str, str]:
        if caller == NO_KEY:
            return {}
        if caller == REVOKED:
            key = issue_key(self.app, BORDER)
            self.app.extensions[EXTENSION_KEY].keys.revoke(Actor.operator(), key.split("_")[1])
            return bearer(key)
        if caller == EXPIRED:
            return bearer(self.expired_key())
        return bearer(issue_key(self.app, caller, OWN_AGENCY if caller == AGENCY else None))

    def expired_key(self) -> str:
        """A key whose expiry has passed.  The service refuses to issue one already expired,
        so it is written to storage as it would stand once its day came."""
        key = issue_key(self.app, BORDER, expires=(dt.date.today() + dt.timedelta(days=2)).isoformat())
        key_id, secret = key.split("_", 2)[1:]
        keys = self.app.extensions[EXTENSION_KEY].engine.keys
        record = keys.get(key_id)
        assert record["secret_sha256"] == secret_digest(secret)
        keys.replace({**record, "expires_at": "2020-01-01T00:00:00.000Z"},
                     audit_entry("key.revoke", key_id, note="the test moved the key's expiry into the past"))
        return key


CASES = (
    Case("GET /healthz", lambda c: c.get("/healthz"), PUBLIC),
    Case("GET /readyz", lambda c: c.get("/readyz"), PUBLIC),
    Case("GET /openapi.json", lambda c: c.get("/openapi.json"), PUBLIC),
    Case("GET /docs", lambda c: c.get("/docs"), PUBLIC),
    Case("GET /docs/start.js", lambda c: c.get("/docs/start.js"), PUBLIC),
    Case("GET /docs/assets/{id}", lambda c: c.get("/docs/assets/swagger-ui.css"), PUBLIC),
    Case("GET /metrics", lambda c: c.get("/metrics"), frozenset({ADMIN})),
    Case("GET /v1/reports", lambda c: c.get("/v1/reports"), frozenset({ADMIN, AGENCY, BORDER})),
    Case("GET /v1/reports?q=", lambda c: c.get("/v1/reports", params={"q": "excavator"}),
         frozenset({ADMIN, AGENCY, BORDER})),
    Case("POST /v1/reports", lambda c: c.post("/v1/reports", json=report_data(f"NEW-{uuid.uuid4().hex}")),
         frozenset({ADMIN, AGENCY}), 201),
    Case("GET /v1/reports/{id}", lambda c: c.get(f"/v1/reports/{c.report['id']}"), frozenset({ADMIN, AGENCY, BORDER})),
    Case("PATCH /v1/reports/{id}", lambda c: c.patch(f"/v1/reports/{c.report['id']}", json={"color": "red"}),
         frozenset({ADMIN, AGENCY})),
    Case("POST /v1/reports/{id}/validation", lambda c: c.post(f"/v1/reports/{c.report['id']}/validation"),
         frozenset({ADMIN, AGENCY})),
    Case("POST /v1/checks", lambda c: c.post("/v1/checks", json={"identifier": PIN}),
         frozenset({ADMIN, AGENCY, BORDER, DEALER})),
    Case("POST /v1/checks (description only)", lambda c: c.post("/v1/checks", json={"description": "excavator"}),
         frozenset({ADMIN, AGENCY, BORDER})),
    Case("POST /v1/checks/bulk", lambda c: c.post("/v1/checks/bulk", data=INVENTORY, headers=c.csv_headers),
         frozenset({ADMIN, AGENCY, BORDER, DEALER})),
    Case("POST /v1/bulk-checks", lambda c: c.post("/v1/bulk-checks", data=INVENTORY, headers=c.csv_headers),
         frozenset({ADMIN, AGENCY, BORDER, DEALER}), 202),
    Case("GET /v1/bulk-checks", lambda c: c.get("/v1/bulk-checks"), frozenset({ADMIN, AGENCY, BORDER, DEALER})),
    # A job is its submitter's (here the admin's): to any other key it does not exist.
    Case("GET /v1/bulk-checks/{id}", lambda c: c.get(f"/v1/bulk-checks/{c.admin_job()}"), frozenset({ADMIN}),
         denied=404),
    Case("GET /v1/bulk-checks/{id}/results", lambda c: c.get(f"/v1/bulk-checks/{c.admin_job()}/results"),
         frozenset({ADMIN}), denied=404),
    Case("DELETE /v1/bulk-checks/{id}", lambda c: c.delete(f"/v1/bulk-checks/{c.admin_job()}"), frozenset({ADMIN}),
         denied=404),
    Case("GET /v1/sources", lambda c: c.get("/v1/sources"), frozenset({ADMIN, AGENCY, BORDER, DEALER})),
    Case("GET /v1/keys", lambda c: c.get("/v1/keys"), frozenset({ADMIN})),
    Case("POST /v1/keys", lambda c: c.post("/v1/keys", json={"role": "dealer"}), frozenset({ADMIN}), 201),
    Case("DELETE /v1/keys/{id}", lambda c: c.delete(f"/v1/keys/{issue_key(c.keys.app, DEALER).split('_')[1]}"),
         frozenset({ADMIN})),
    Case("POST /v1/checks/{id}/confirmations",
         lambda c: c.post(f"/v1/checks/{c.own_check()}/confirmations",
                          json=CONFIRMATION_REQUEST | {"report_id": c.report["id"]}), CHECKERS, 201),
    Case("GET /v1/confirmations", lambda c: c.get("/v1/confirmations"), CHECKERS),
    # A request is read by the owning agency, its checker (here the admin) and admins: to anyone else it does not exist.
    Case("GET /v1/confirmations/{id}", lambda c: c.get(f"/v1/confirmations/{c.admin_confirmation()}"),
         frozenset({ADMIN, AGENCY}), denied=404),
    Case("POST /v1/confirmations/{id}/answer",
         lambda c: c.post(f"/v1/confirmations/{c.admin_confirmation()}/answer", json={"outcome": "confirmed"}),
         frozenset({ADMIN, AGENCY}), denied=404),
    Case("POST /v1/webhooks", lambda c: c.post("/v1/webhooks", json=WEBHOOK), CHECKERS, 201),
    Case("GET /v1/webhooks", lambda c: c.get("/v1/webhooks"), CHECKERS),
    # A webhook is its owner's (here the admin's): to any other key it does not exist.
    Case("DELETE /v1/webhooks/{id}", lambda c: c.delete(f"/v1/webhooks/{c.admin_webhook()}"), frozenset({ADMIN}),
         denied=404),
    Case("GET /v1/webhooks/{id}/deliveries", lambda c: c.get(f"/v1/webhooks/{c.admin_webhook()}/deliveries"),
         frozenset({ADMIN}), denied=404),
    Case("POST /v1/webhooks/{id}/deliveries/{id}/redeliver",
         lambda c: c.post("/v1/webhooks/{}/deliveries/{}/redeliver".format(*c.admin_delivery())), frozenset({ADMIN}),
         202, denied=404),
    Case("GET /v1/reports/{id}/sightings", lambda c: c.get(f"/v1/reports/{c.report['id']}/sightings"),
         frozenset({ADMIN, AGENCY})),
    Case("GET /v1/changes", lambda c: c.get("/v1/changes"), frozenset({ADMIN, REPLICA})),
    Case("GET /v1/changes/snapshot", lambda c: c.get("/v1/changes/snapshot"), frozenset({ADMIN, REPLICA}),
         success_on_elasticsearch=404),  # snapshot files are the embedded engine's

    Case("POST /v1/changes/checks", lambda c: c.post("/v1/changes/checks", json={"checks": []}),
         frozenset({REPLICA})),
    Case("GET /v1/audit", lambda c: c.get("/v1/audit"), frozenset({ADMIN, AUDITOR})),
    Case("GET /v1/audit/export", lambda c: c.get("/v1/audit/export"), frozenset({ADMIN, AUDITOR})),
    Case("GET /v1/audit/verify", lambda c: c.get("/v1/audit/verify"), frozenset({ADMIN, AUDITOR})),
)


PARAMETER = re.compile(r"<(?:[^:>]+:)?[^>]+>")
NOT_API = frozenset({"static"})  # Flask's own static files: public by nature, and no registry data


def routes(app) -> set[str]:
    """Every endpoint the app serves, as ``METHOD /path/{id}``, read from its URL map."""
    return {
        f"{method} {PARAMETER.sub('{id}', rule.rule)}"
        for rule in app.url_map.iter_rules() if rule.endpoint not in NOT_API
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }


def test_every_endpoint_of_the_app_has_a_row_in_the_access_matrix(app):
    """An endpoint added without saying who may call it fails here, and a row for an endpoint
    that no longer exists too (the web app's pages have their rows in ``test_web_access``)."""
    covered = {re.sub(r"[? ]\(.*|\?.*", "", case.name) for case in CASES} | {page.name for page in WEB_PAGES}
    assert routes(app) - covered == set(), "endpoints missing from CASES"
    assert covered - routes(app) == set(), "CASES rows for endpoints the app does not serve"


@pytest.fixture
def registry(app, server):
    app.extensions[EXTENSION_KEY].stop_workers()  # bulk-check jobs stay queued, so any may be cancelled
    report = server.post("/v1/reports", json=report_data()).json()
    return KeyFactory(app), report


def test_every_endpoint_answers_every_caller_as_allowed(server, registry):
    keys, report = registry
    headers = {caller: keys.header_for(caller) for caller in CALLERS}
    failures = []
    for case in CASES:
        for caller in CALLERS:
            response = case.call(Caller(server, report, headers[caller], keys))
            if caller in case.allowed:
                on_elasticsearch = keys.app.config["IRONTRACE"].get("ES_URL") and case.success_on_elasticsearch
                expected = case.success_on_elasticsearch if on_elasticsearch else case.success
            elif caller in (NO_KEY, REVOKED, EXPIRED):
                expected = 401
            else:
                expected = case.denied
            if response.status_code != expected:
                failures.append(f"{case.name} as {caller}: {response.status_code}, expected {expected}")
            elif expected >= 400:
                assert response.headers["Content-Type"].startswith("application/problem+json")
            if expected == 401 and response.status_code == 401:
                assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert failures == []


def test_a_key_that_does_not_work_gets_one_answer_whatever_the_reason(server, registry):
    """Revoked, expired, unknown, forged or malformed: the same 401, so that holding a key teaches nothing
    about whether it ever worked (admins see each key's state in GET /v1/keys)."""
    keys, _ = registry
    missing = call(server, "POST", "/v1/checks", {}, json={"identifier": PIN})
    assert missing.status_code == 401 and "Send an API key" in missing.json()["detail"]
    valid = issue_key(keys.app, BORDER)
    refused = [keys.header_for(REVOKED), keys.header_for(EXPIRED), bearer(valid[:-4] + "AAAA"),
               bearer("itk_0123456789abcdef_" + valid.split("_", 2)[2]), bearer("not-a-key")]
    answers = [call(server, "POST", "/v1/checks", headers, json={"identifier": PIN}) for headers in refused]
    assert {a.status_code for a in answers} == {401}
    assert len({a.text for a in answers}) == 1


@pytest.mark.parametrize(("reading", "match_type"), [(PIN, "exact"), ("CAT0336DLTJFOO123", "confusable")])
def test_dealers_see_verdict_case_reference_match_type_status_and_contact_only(server, registry, reading, match_type):
    """A tail is not matched for a dealer at all: test_enumeration.py."""
    keys, report = registry
    dealer = keys.header_for(DEALER)
    answer = server.http.post(server.url + "/v1/checks", json={"identifier": reading, "description": "breaker"},
                              headers=dealer, timeout=30)
    assert answer.status_code == 200
    body = answer.json()
    assert body["verdict"] in ("hit", "possible_match")
    assert body["matches"][0] == {"external_ref": report["external_ref"], "status": "stolen", "active": True,
                                  "match_type": match_type, "tier": "alarm",
                                  "reporting_agency": report["reporting_agency"], "source": "local"}
    text = answer.text
    for value in RESTRICTED_VALUES:
        assert value not in text
    for name in RESTRICTED_FIELDS:
        assert f'"{name}"' not in text
    # A border officer asking the same gets the investigation details.
    full = server.http.post(server.url + "/v1/checks", json={"identifier": reading},
                            headers=keys.header_for(BORDER), timeout=30).json()["matches"][0]
    assert full["incident"]["place"] == "Tulkubas impound lot" and full["value"]["amount"] == 95000000


def test_dealers_bulk_results_show_contact_only(server, registry):
    keys, report = registry
    dealer = keys.header_for(DEALER)
    answer = call(server, "POST", "/v1/checks/bulk", {**dealer, "Content-Type": "text/csv"}, data=INVENTORY)
    assert answer.status_code == 200
    [row] = answer.json()["results"]
    assert row["verdict"] == "hit"
    assert row["match"] == {"external_ref": report["external_ref"], "status": "stolen", "active": True,
                            "match_type": "exact", "tier": "alarm", "reporting_agency": report["reporting_agency"],
                            "source": "local"}
    as_csv = call(server, "POST", "/v1/checks/bulk", {**dealer, "Content-Type": "text/csv", "Accept": "text/csv"},
                  data=INVENTORY)
    [csv_row] = csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")))
    assert (csv_row["match_type"], csv_row["matched_status"], csv_row["matched_active"]) == ("exact", "stolen", "yes")
    for value in RESTRICTED_VALUES[:-1]:  # the dealer's own upload holds the serial
        assert value not in answer.text and value not in as_csv.text


def test_a_dealer_sees_a_recovered_machine_as_recovered(server, registry):
    keys, report = registry
    recovered = server.post("/v1/reports", json=report_data(
        "KZ-TRK-2024-000777", status="recovered", identifiers=[{"type": "vin", "value": "XTC652005L1234567"}]))
    assert recovered.status_code == 201
    dealer = keys.header_for(DEALER)
    answer = call(server, "POST", "/v1/checks", dealer, json={"identifier": "XTC652005L1234567"}).json()
    assert answer["verdict"] == "no_match"
    assert answer["matches"] == [{"external_ref": "KZ-TRK-2024-000777", "status": "recovered", "active": False,
                                  "match_type": "exact", "tier": "alarm",
                                  "reporting_agency": report["reporting_agency"], "source": "local"}]
    inventory = b"serial\nXTC652005L1234567\n"
    as_csv = call(server, "POST", "/v1/checks/bulk", {**dealer, "Content-Type": "text/csv", "Accept": "text/csv"},
                  data=inventory)
    [row] = csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")))
    assert (row["verdict"], row["matched_status"], row["matched_active"]) == ("no_match", "recovered", "no")
    as_xlsx = call(server, "POST", "/v1/checks/bulk", {**dealer, "Content-Type": "text/csv",
                                                       "Accept": XLSX_CONTENT_TYPE}, data=inventory)
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    header, values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert {k: v for k, v in zip(header, values) if k in ("match_type", "matched_status", "matched_active")} == {
        "match_type": "exact", "matched_status": "recovered", "matched_active": "no"}


def test_agencies_write_only_their_own_reports(server, registry):
    keys, report = registry
    other = bearer(issue_key(keys.app, AGENCY, "Police of Almaty"))
    own = keys.header_for(AGENCY)
    url = f"{server.url}/v1/reports"
    assert server.http.post(url, json=report_data("ALM-1"), headers=other, timeout=30).status_code == 403
    almaty = report_data("ALM-1", reporting_agency={"name": "Police of Almaty", "country": "KZ"})
    created = server.http.post(url, json=almaty, headers=other, timeout=30)
    assert created.status_code == 201
    patch_headers = {"If-Match": "*"}
    assert server.http.patch(f"{url}/{report['id']}", json={"color": "red"}, headers={**other, **patch_headers},
                             timeout=30).status_code == 403
    handover = {"reporting_agency": {"name": "Police of Almaty", "country": "KZ"}}
    refused = server.http.patch(f"{url}/{report['id']}", json=handover, headers={**own, **patch_headers}, timeout=30)
    assert refused.status_code == 403
    stored = server.get(f"/v1/reports/{report['id']}").json()
    assert stored["version"] == 1 and stored["reporting_agency"]["name"] == OWN_AGENCY


def test_only_admins_and_feeds_mark_a_report_with_a_source(server, registry):
    keys, report = registry
    own = keys.header_for(AGENCY)
    url = f"{server.url}/v1/reports"
    claimed = call(server, "POST", "/v1/reports", own, json=report_data("FEED-1", source="uz-national"))
    assert claimed.status_code == 403 and "source" in claimed.json()["detail"]
    marked = call(server, "PATCH", f"/v1/reports/{report['id']}", {**own, "If-Match": "*"},
                  json={"source": "uz-national"})
    assert marked.status_code == 403
    assert server.post("/v1/reports", json=report_data("FEED-2", source="uz-national")).status_code == 201
    assert requests.get(url, params={"source": "uz-national"}, headers=own, timeout=30).json()["items"][0][
        "external_ref"] == "FEED-2"


def test_keys_are_shown_once_and_stored_only_as_digests(app, server):
    created = server.post("/v1/keys", json={"role": "border", "label": "post 7", "expires": "2099-12-31"})
    assert created.status_code == 201
    body = created.json()
    key = body["key"]
    assert body["state"] == "active" and body["expires_at"] == "2099-12-31T00:00:00.000Z"
    listed = server.get("/v1/keys").text
    assert key not in listed and key.split("_", 2)[2] not in listed and body["key_id"] in listed
    stored = json.dumps(app.extensions[EXTENSION_KEY].engine.keys.list())
    assert key.split("_", 2)[2] not in stored
    assert server.http.post(server.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(key),
                            timeout=30).status_code == 200
    revoked = server.delete(f"/v1/keys/{body['key_id']}")
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    assert server.http.post(server.url + "/v1/checks", json={"identifier": PIN}, headers=bearer(key),
                            timeout=30).status_code == 401


@pytest.mark.parametrize("body", [
    {"role": "superuser"},
    {"role": "agency"},
    {"role": "border", "agency": "Police of Almaty"},
    {"role": "border", "expires": "2001-01-01"},
    {"role": "border", "expires": "next tuesday"},
])
def test_bad_key_requests_are_refused_with_a_reason(server, body):
    answer = server.post("/v1/keys", json=body)
    assert answer.status_code in (400, 422)
    assert answer.json()["detail"]
    assert server.get("/v1/keys").json()["items"][-1]["role"] == ADMIN  # nothing was issued
