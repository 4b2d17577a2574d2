"""The web app over real HTTP, on both engines: signing in, the check page, audit, languages, conflicts.

A ``Browser`` here is an HTTP client that keeps cookies and posts forms with
their CSRF token; the browser tests (``test_browser.py``) drive Chromium.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests

from registry import create_app
from registry.access import Actor
from registry.demo import tulkubas_case
from registry.records import AuditFilter, ReportFilter
from registry.web import CONTENT_SECURITY_POLICY
from tests.conftest import (
    TEST_PASSWORD,
    Browser,
    LiveServer,
    bearer,
    close_storage,
    create_user,
    issue_key,
)

TULKUBAS_AGENCY = "Police Department of Turkestan Region"
EXCAVATOR_PIN = "KMTPC300C55A17044"
RUSSIAN_KEYBOARD_READING = "КМТРС300С55А17О44"  # Cyrillic look-alikes, and O for 0 in position 15
RESTRICTED = ("Tulkubas district police impound lot", "98,000,000", "PC300-8", EXCAVATOR_PIN)


@pytest.fixture
def tulkubas(services):
    summary = services.imports.import_rows(Actor.operator(), enumerate(tulkubas_case(), start=1))
    assert summary.created == len(tulkubas_case())
    return services


@pytest.fixture
def web(app, tulkubas):
    with LiveServer(app) as live:
        yield live


def audit(services, **filters) -> list[dict]:
    return list(services.audit.export(Actor.operator(), AuditFilter(**filters)))


def text_of(page: str) -> str:
    """The page's words, without tags."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_pages_need_a_signed_in_person_and_keys_do_not_open_them(app, web):
    answer = requests.get(web.url + "/reports", allow_redirects=False, timeout=30)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/login?next=")
    with_key = requests.get(web.url + "/", headers=bearer(issue_key(app)), allow_redirects=False, timeout=30)
    assert with_key.status_code == 302


def test_a_border_officer_checks_the_excavator_typed_on_a_russian_keyboard(app, web, tulkubas):
    officer = create_user(app, "border")
    browser = Browser(web)
    signed_in = browser.sign_in(officer)
    assert signed_in.status_code == 200 and signed_in.url == web.url + "/"
    answer = browser.submit("/", {"identifier": RUSSIAN_KEYBOARD_READING})
    assert answer.status_code == 200
    page = answer.text
    assert 'class="verdict verdict-possible_match"' in page and "Possible match" in page
    assert 'class="tier tier-alarm">Strong evidence<' in page and 'id="similar-serials"' not in page
    assert 'KMTPC300C55A17<mark class="differs"' in page  # the 0 read as O, marked in the registered PIN
    words = text_of(page)
    assert "query has O where the record has 0 at position 15 (often misread)" in words
    assert "Case KZ-TRK-2026-008741/2" in words and "Criminal Police Division" in words
    [check] = audit(tulkubas, action="check", principal=f"user:{officer}")
    assert check["details"]["query"] == {"identifier": RUSSIAN_KEYBOARD_READING, "reading_source": "typed"}
    assert check["actor"]["address"] == "127.0.0.1"
    assert [e["action"] for e in audit(tulkubas, subject=officer)] == ["user.create", "user.sign_in"]


def test_similar_serials_are_no_alarm_and_listed_apart_in_the_readers_language(app, web):
    browser = Browser(web)
    browser.sign_in(create_user(app, "border"))
    page = browser.submit("/", {"identifier": "KMTPC300C55A17045"}).text  # the excavator's neighbour in its series
    assert 'class="verdict verdict-similar_serials"' in page and "Possible match" not in page
    similar = page[page.index('id="similar-serials"'):]
    assert "KZ-TRK-2026-008741/2" in similar and 'class="tier tier-similar">Similar serial<' in similar
    words = text_of(page)
    assert "Similar serials: no alarm" in words
    assert "a difference in the running number (17044) is as likely a neighbouring machine as a misreading" in words
    browser.get("/language/ru?next=/")
    words = text_of(browser.submit("/", {"identifier": "KMTPC300C55A17045"}).text)
    assert "Похожие номера: тревоги нет" in words and "Похожий номер" in words
    assert "различие в порядковом номере (17044) с той же вероятностью означает соседнюю машину" in words


def test_no_match_says_what_was_searched_and_how_current_the_registry_is(app, web):
    browser = Browser(web)
    browser.sign_in(create_user(app, "border"))
    words = text_of(browser.submit("/", {"identifier": "ZZZ-999-000-111", "category": "loader"}).text)
    assert "No match" in words and "ZZZ999000111" in words and "Loader" in words
    assert "newest report registered" in words


def test_a_dealer_sees_what_the_api_shows_a_dealer(app, web):
    browser = Browser(web)
    browser.sign_in(create_user(app, "dealer"))
    page = browser.submit("/", {"identifier": EXCAVATOR_PIN}).text
    assert "verdict-hit" in page and "KZ-TRK-2026-008741/2" in page and "Criminal Police Division" in page
    for restricted in (*RESTRICTED[:-1], "often misread", "as registered", "/reports/"):
        assert restricted not in page


def test_forms_without_their_csrf_token_are_refused(app, web):
    name = create_user(app, "border")
    anonymous = requests.Session()
    refused = anonymous.post(web.url + "/login", data={"username": name, "password": TEST_PASSWORD}, timeout=30)
    assert refused.status_code == 400 and "CSRF" in refused.text
    browser = Browser(web)
    browser.sign_in(name)
    forged = browser.http.post(web.url + "/", data={"identifier": EXCAVATOR_PIN, "csrf_token": "forged"}, timeout=30)
    assert forged.status_code == 400


@contextmanager
def served(tmp_path, **settings) -> Iterator[LiveServer]:
    """An app of its own (SQLite) with ``settings``, served over HTTP."""
    app = create_app({"DB": str(tmp_path / "own.db"), "SECRET_KEY_FILE": str(tmp_path / "secret"), **settings})
    try:
        with LiveServer(app) as live:
            yield live
    finally:
        close_storage(app)


def test_session_cookies_are_http_only_same_site_and_secure_behind_tls(tmp_path):
    with served(tmp_path, TRUSTED_PROXIES=1) as live:
        plain = Browser(live).get("/login")
        behind_tls = Browser(live).get("/login", headers={"X-Forwarded-Proto": "https"})  # the proxy ended TLS
        for answer, secure in ((plain, False), (behind_tls, True)):
            cookie = answer.headers["Set-Cookie"]  # the session that holds the form's CSRF token
            assert cookie.startswith("irontrace_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
            assert ("; Secure" in cookie) is secure
        # Forms over TLS are checked against their Referer, which pages let browsers send within the site.
        assert behind_tls.headers["Referrer-Policy"] == "same-origin"
        signed_in = Browser(live).sign_in(create_user(live.app, "border")).history[0].headers["Set-Cookie"]
        assert "HttpOnly" in signed_in and "SameSite=Lax" in signed_in


def test_a_session_ends_when_it_expires(tmp_path):
    with served(tmp_path, SESSION_MINUTES=0) as live:
        assert Browser(live).sign_in(create_user(live.app, "border")).url.startswith(live.url + "/login")


def test_signing_out_a_reset_password_and_a_disabled_account_end_sessions(app, web):
    admin, officer = Browser(web), Browser(web)
    admin.sign_in(create_user(app, "admin"))
    name = create_user(app, "border")
    officer.sign_in(name)
    assert officer.get("/").url == web.url + "/"
    reset = admin.submit(f"/admin/users/{name}/password", {"password": "a brand new password"}, form_at="/admin/users")
    assert reset.status_code == 200 and "reset" in reset.text
    assert officer.get("/").url.startswith(web.url + "/login")
    officer.sign_in(name, "a brand new password")
    admin.submit(f"/admin/users/{name}/disable", {}, form_at="/admin/users")
    assert officer.get("/").url.startswith(web.url + "/login")
    out = admin.submit("/logout", {}, form_at="/")
    assert out.url.startswith(web.url + "/login") and admin.get("/").url.startswith(web.url + "/login")


def test_repeated_failed_sign_ins_lock_the_account_and_the_page_says_for_how_long(app, web, services):
    name = create_user(app, "dealer")
    browser = Browser(web)
    statuses = [browser.sign_in(name, "not the password").status_code
                for _ in range(services.users.policy.max_failures)]
    assert statuses == [401] * services.users.policy.max_failures
    locked = browser.sign_in(name)
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    assert "Too many failed sign-ins" in locked.text
    reasons = [e["details"]["reason"] for e in audit(services, action="user.sign_in_failed", subject=name)]
    assert reasons == ["wrong password"] * services.users.policy.max_failures + ["locked"]


def test_every_page_that_reads_registry_data_is_audited_with_the_person(app, web, tulkubas):
    desk = create_user(app, "agency", TULKUBAS_AGENCY)
    browser = Browser(web)
    browser.sign_in(desk)
    listing = browser.get("/reports?status=stolen")
    assert listing.status_code == 200 and "KZ-TRK-2026-008741/2" in listing.text
    report_id = re.search(r'href="/reports/([0-9a-f-]{36})"', listing.text)[1]
    assert browser.get(f"/reports/{report_id}").status_code == 200
    views = audit(tulkubas, action="page.view", principal=f"user:{desk}")
    assert [v["details"]["page"] for v in views] == ["web.reports.index", "web.reports.show"]
    assert views[0]["details"]["args"] == {"status": "stolen"} and views[1]["subject"] == report_id
    assert views[0]["actor"] == {"principal": f"user:{desk}", "role": "agency", "agency": TULKUBAS_AGENCY,
                                 "address": "127.0.0.1"}


def test_pages_come_in_the_readers_language_and_allow_only_their_own_origin(app, web):
    browser = Browser(web)
    russian = browser.get("/login", headers={"Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5"})
    assert '<html lang="ru">' in russian.text and "Войти" in russian.text
    assert russian.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "'self'" in CONTENT_SECURITY_POLICY and "http" not in CONTENT_SECURITY_POLICY
    switched = browser.get("/language/kk?next=/login")
    assert '<html lang="kk">' in switched.text and "Кіру" in switched.text
    browser.sign_in(create_user(app, "border"))
    page = browser.submit("/", {"identifier": RUSSIAN_KEYBOARD_READING})
    words = text_of(page.text)
    assert "Ықтимал сәйкестік" in words and "сұрауда 15 позицияда O тұр, тізілімде 0 (оларды жиі шатастырады)" in words
    elsewhere = browser.get("/language/en?next=//example.com/", allow_redirects=False)
    assert elsewhere.headers["Location"] == "/"  # never sent off to another site


def test_the_api_explains_in_the_language_of_accept_language(app, web):
    key = issue_key(app, "border")
    answers = {
        language: requests.post(web.url + "/v1/checks", json={"identifier": RUSSIAN_KEYBOARD_READING},
                                headers={**bearer(key), "Accept-Language": language}, timeout=30).json()
        for language in ("en", "ru", "kk")
    }
    english, russian, kazakh = (answers[lang]["matches"][0]["explanation"] for lang in ("en", "ru", "kk"))
    assert english.startswith("query has O where the record has 0 at position 15 (often misread)")
    assert russian.startswith("в запросе O там, где в реестре 0, позиция 15 (их часто путают)")
    assert kazakh.startswith("сұрауда 15 позицияда O тұр, тізілімде 0 (оларды жиі шатастырады)")
    assert answers["ru"]["verdict"] == answers["en"]["verdict"] == "possible_match"


def test_an_edit_that_conflicts_is_explained_and_keeps_what_was_typed(app, web, tulkubas):
    first, second = Browser(web), Browser(web)
    for browser in (first, second):
        browser.sign_in(create_user(app, "agency", TULKUBAS_AGENCY))
    report = next(r for r in tulkubas.reports.list(Actor.operator(), ReportFilter(), 10, None).items
                  if r["category"] == "excavator")
    edit = f"/reports/{report['id']}/edit"
    form_of_second = second.get(edit).text  # the second desk opens the form at version 1
    saved = first.submit(edit, form_fields(first.get(edit).text, color="orange"))
    assert saved.status_code == 200 and "version 2" in saved.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', form_of_second)[1]
    conflict = second.http.post(web.url + edit, data={**form_fields(form_of_second, model="PC300-8M0"),
                                                      "csrf_token": token}, timeout=30)
    assert conflict.status_code == 409
    words = text_of(conflict.text)
    assert "Someone else changed this report while you were editing it" in words
    assert 'value="PC300-8M0"' in conflict.text and 'name="version" value="2"' in conflict.text
    # The other desk's change, named and kept in the form:
    assert 'Colour : "orange"' in words and 'value="orange"' in conflict.text
    stored = tulkubas.reports.get(Actor.operator(), report["id"])
    assert (stored["version"], stored["color"], stored["model"]) == (2, "orange", "PC300-8")
    again = second.http.post(web.url + edit, data={**form_fields(conflict.text), "csrf_token": token}, timeout=30)
    assert again.status_code == 200 and "version 3" in again.text
    stored = tulkubas.reports.get(Actor.operator(), report["id"])
    assert (stored["version"], stored["color"], stored["model"]) == (3, "orange", "PC300-8M0")


def form_fields(page: str, **changes: str) -> dict[str, str]:
    """The report form's fields as the page filled them, with ``changes``."""
    fields = dict(re.findall(r'<input id="[^"]*" name="([^"]+)" (?:type="[^"]*" )?value="([^"]*)"', page))
    fields.update(re.findall(r'<input type="hidden" name="(version|opened)" value="([^"]*)"', page))
    for name in re.findall(r'<select id="[^"]*" name="([^"]+)"', page):
        block = page[page.index(f'name="{name}"'):]
        block = block[:block.index("</select>")]
        chosen = re.search(r'<option value="([^"]*)" selected>', block)
        fields[name] = chosen[1] if chosen else re.search(r'<option value="([^"]*)"', block)[1]
    for name, text in re.findall(r'<textarea id="[^"]*" name="([^"]+)"[^>]*>([^<]*)</textarea>', page):
        fields[name] = text
    fields.update(changes)
    return {k: v.replace("&#39;", "'").replace("&amp;", "&").replace("&#34;", '"') for k, v in fields.items()}


def test_more_identifier_rows_without_javascript(app, web):
    browser = Browser(web)
    browser.sign_in(create_user(app, "agency", TULKUBAS_AGENCY))
    blank = browser.get("/reports/new").text
    assert blank.count('name="identifiers-') == 3 * 2  # type, value and location of two rows
    more = browser.submit("/reports/new", {"add_identifier": "1", "identifier_rows": "2", "external_ref": "X-1"})
    assert more.text.count('name="identifiers-') == 3 * 4 and 'value="X-1"' in more.text


def test_the_translations_are_complete_and_compiled():
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "translations.py"
    spec = importlib.util.spec_from_file_location("translations", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.check() == []
