"""Who may open which page: every page of the web app x every role signed in, and nobody signed in.

The pages act through the same services as the API, so a role sees and does
in the browser exactly what its key may over HTTP (``test_access.py``, whose
coverage test also requires a row here for every page).
"""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import requests

from registry.access import ADMIN, AGENCY, AUDITOR, BORDER, DEALER, Actor
from registry.api.extension import EXTENSION_KEY
from search.query import CheckQuery
from tests.conftest import Browser, create_user, issue_key, report_data

OWN_AGENCY = "Police Department of Turkestan Region"  # the agency of ``report_data``
PIN = "CAT0336DLTJF00123"
ANONYMOUS = "nobody signed in"
ROLES = (ADMIN, AGENCY, BORDER, DEALER, AUDITOR)
CALLERS = (*ROLES, ANONYMOUS)
EVERYONE = frozenset(ROLES)
CHECKERS = frozenset({ADMIN, AGENCY, BORDER, DEALER})
PUBLIC = frozenset(CALLERS)
WRITERS = frozenset({ADMIN, AGENCY})
READERS = frozenset({ADMIN, AGENCY, BORDER})
INVENTORY = f"serial,note\n{PIN},yard 4\n".encode()


@dataclass(frozen=True)
class Page:
    """One page, how to open it, who may, and what they get (a redirect for forms that succeed)."""

    name: str
    open: Callable[[Visit], requests.Response]
    allowed: frozenset[str]
    success: int = 200
    denied: int = 403  # for a signed-in person whose role may not


class Visit:
    """One caller's browser (signed in as a role, or not) and what the pages act on."""

    def __init__(self, browser: Browser, app, report: dict, admin_job: str) -> None:
        self.browser, self.app, self.report, self.admin_job = browser, app, report, admin_job

    def get(self, path: str) -> requests.Response:
        return self.browser.get(path, allow_redirects=False)

    def post(self, path: str, data: dict | None = None, form_at: str = "/login", **kwargs) -> requests.Response:
        """A form posted with a valid CSRF token (taken from a page anyone may open)."""
        return self.browser.submit(path, data, form_at=form_at, allow_redirects=False, **kwargs)

    def version(self) -> str:
        return str(self.app.extensions[EXTENSION_KEY].reports.get(Actor.operator(), self.report["id"])["version"])

    def own_check(self) -> str:
        """A check of ``PIN`` by this caller through the check page (a made-up id for one who may not check)."""
        found = re.search(r'action="/checks/([0-9a-f-]{36})/confirmations"', self.post("/", {"identifier": PIN}).text)
        return found[1] if found else str(uuid.uuid4())

    def admin_confirmation(self) -> str:
        """A confirmation request the operator asked of the report's agency, from a check of its own."""
        services = self.app.extensions[EXTENSION_KEY]
        check = services.checks.check(Actor.operator(), CheckQuery(identifier=PIN))
        return services.confirmations.request(Actor.operator(), check.record["check_id"], "urgent",
                                              "Zhibek Zholy border post", report_id=self.report["id"])["id"]

    def some_user(self) -> str:
        return create_user(self.app, DEALER)

    def some_key(self) -> str:
        return issue_key(self.app, DEALER).split("_")[1]


def report_form(ref: str) -> dict[str, str]:
    data = report_data(ref)
    return {"external_ref": ref, "status": "stolen", "category": data["category"],
            "identifiers-0-type": "pin", "identifiers-0-value": f"CAT0336DLTJF{uuid.uuid4().int % 100000:05d}",
            "incident.country": "KZ", "reporting_agency.name": OWN_AGENCY}


WEB_PAGES = (
    Page("GET /login", lambda v: v.get("/login"), PUBLIC),
    Page("POST /login", lambda v: v.post("/login", {"username": "nobody", "password": "wrong password"}), PUBLIC,
         success=401),
    Page("POST /logout", lambda v: v.post("/logout", form_at="/login"), EVERYONE, success=302),
    Page("GET /language/{id}", lambda v: v.get("/language/ru?next=/login"), PUBLIC, success=302),
    Page("GET /assets/{id}", lambda v: v.get("/assets/irontrace.css"), PUBLIC),
    Page("GET /", lambda v: v.get("/"), CHECKERS, denied=302),  # auditors start at the audit log
    Page("POST /", lambda v: v.post("/", {"identifier": PIN}), CHECKERS, denied=302),
    Page("GET /confirmations", lambda v: v.get("/confirmations"), CHECKERS),
    Page("POST /checks/{id}/confirmations",
         lambda v: v.post(f"/checks/{v.own_check()}/confirmations",
                          {"report_id": v.report["id"], "priority": "urgent", "location": "post 7"}),
         CHECKERS, success=302),
    # A request is read and answered by the owning agency and admins: to anyone else it does not exist.
    Page("POST /confirmations/{id}/answer",
         lambda v: v.post(f"/confirmations/{v.admin_confirmation()}/answer", {"outcome": "confirmed"}),
         frozenset({ADMIN, AGENCY}), success=302, denied=404),
    Page("GET /bulk", lambda v: v.get("/bulk"), CHECKERS),
    Page("POST /bulk", lambda v: v.post("/bulk", files={"file": ("stock.csv", io.BytesIO(INVENTORY), "text/csv")}),
         CHECKERS, success=302),
    # A job is its submitter's (here the admin's): to anyone else it does not exist.
    Page("GET /bulk/{id}", lambda v: v.get(f"/bulk/{v.admin_job}"), frozenset({ADMIN}), denied=404),
    Page("GET /bulk/{id}/progress", lambda v: v.get(f"/bulk/{v.admin_job}/progress"), frozenset({ADMIN}),
         denied=404),
    Page("GET /bulk/{id}/results.csv", lambda v: v.get(f"/bulk/{v.admin_job}/results.csv"), frozenset({ADMIN}),
         denied=404),
    Page("GET /bulk/{id}/results.xlsx", lambda v: v.get(f"/bulk/{v.admin_job}/results.xlsx"), frozenset({ADMIN}),
         denied=404),
    Page("POST /bulk/{id}/cancel", lambda v: v.post(f"/bulk/{v.admin_job}/cancel"), frozenset({ADMIN}),
         success=302, denied=404),
    Page("GET /reports", lambda v: v.get("/reports"), READERS),
    Page("GET /reports/new", lambda v: v.get("/reports/new"), WRITERS),
    Page("POST /reports/new", lambda v: v.post("/reports/new", report_form(f"WEB-{uuid.uuid4().hex[:8]}")),
         WRITERS, success=302),
    Page("GET /reports/{id}", lambda v: v.get(f"/reports/{v.report['id']}"), READERS),
    Page("GET /reports/{id}/edit", lambda v: v.get(f"/reports/{v.report['id']}/edit"), WRITERS),
    Page("POST /reports/{id}/edit", lambda v: v.post(f"/reports/{v.report['id']}/edit",
                                                     {**report_form(v.report["external_ref"]), "version": v.version(),
                                                      "identifiers-0-value": PIN}), WRITERS, success=302),
    Page("POST /reports/{id}/status", lambda v: v.post(f"/reports/{v.report['id']}/status",
                                                       {"status": "cancelled", "reason": "entered twice",
                                                        "version": v.version()}),
         WRITERS, success=302),
    Page("POST /reports/{id}/validation", lambda v: v.post(f"/reports/{v.report['id']}/validation"),
         WRITERS, success=302),
    Page("GET /audit", lambda v: v.get("/audit"), frozenset({ADMIN, AUDITOR})),
    Page("GET /audit/verify", lambda v: v.get("/audit/verify"), frozenset({ADMIN, AUDITOR})),
    Page("GET /admin/users", lambda v: v.get("/admin/users"), frozenset({ADMIN})),
    Page("POST /admin/users", lambda v: v.post("/admin/users", {"username": f"u{uuid.uuid4().hex[:8]}",
                                                               "role": "dealer", "password": "long enough password"}),
         frozenset({ADMIN}), success=302),
    Page("POST /admin/users/{id}/password", lambda v: v.post(f"/admin/users/{v.some_user()}/password",
                                                            {"password": "another long password"}),
         frozenset({ADMIN}), success=302),
    Page("POST /admin/users/{id}/disable", lambda v: v.post(f"/admin/users/{v.some_user()}/disable"),
         frozenset({ADMIN}), success=302),
    Page("GET /admin/keys", lambda v: v.get("/admin/keys"), frozenset({ADMIN})),
    Page("POST /admin/keys", lambda v: v.post("/admin/keys", {"role": "dealer", "label": "web"}), frozenset({ADMIN})),
    Page("POST /admin/keys/{id}/revoke", lambda v: v.post(f"/admin/keys/{v.some_key()}/revoke"), frozenset({ADMIN}),
         success=302),
)


def signed_in(server, app, caller: str) -> Browser:
    browser = Browser(server)
    if caller != ANONYMOUS:
        browser.sign_in(create_user(app, caller, OWN_AGENCY if caller == AGENCY else None))
    return browser


def expected(page: Page, caller: str) -> tuple[int, str | None]:
    """The status (and where a redirect leads) that ``caller`` must get from ``page``."""
    if page.name in ("GET /login", "POST /login") and caller != ANONYMOUS:
        return 302, "/"  # already signed in
    if caller in page.allowed:
        return page.success, None
    if caller == ANONYMOUS:
        return 302, "/login"
    return page.denied, None


def test_every_page_answers_every_caller_as_allowed(app, server):
    app.extensions[EXTENSION_KEY].stop_workers()  # the admin's job stays queued, so it may be cancelled
    report = server.post("/v1/reports", json=report_data()).json()
    admin_job = server.post("/v1/bulk-checks", data=INVENTORY, headers={"Content-Type": "text/csv"}).json()["id"]
    browsers = {caller: signed_in(server, app, caller) for caller in CALLERS}
    failures = []
    for page in WEB_PAGES:
        for caller in CALLERS:
            # Signing out would end the session the other pages use: that page gets a session of its own.
            browser = signed_in(server, app, caller) if page.name == "POST /logout" else browsers[caller]
            answer = page.open(Visit(browser, app, report, admin_job))
            status, location = expected(page, caller)
            if answer.status_code != status or (location and not answer.headers["Location"].startswith(location)):
                failures.append(f"{page.name} as {caller}: {answer.status_code}, expected {status}")
    assert failures == [], "\n".join(failures)
