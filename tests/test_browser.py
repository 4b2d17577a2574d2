"""The web app in a real browser: Playwright driving Debian's Chromium against the app served over HTTP.

Covers what people do (sign in, a check typed with Cyrillic letters, a
dealer's redacted answer, a bulk upload through to the download, registering
and editing a report with a conflict, the audit page, switching language, a
phone-sized screen, the check without JavaScript) and runs axe-core on every
page: no serious or critical violation may remain.  Each page is
photographed at desktop and phone size into ``tests/screenshots/`` (not
committed) for a reviewer to look at.

Runs on the embedded engine: the pages' behaviour on both engines is held by
``test_web.py`` and ``test_web_access.py`` over HTTP.  Chromium comes from
Debian (``apt-get install chromium``, done by ``.ci/run``), never from
``playwright install``.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from registry import create_app
from registry.access import Actor
from registry.demo import tulkubas_case
from tests.conftest import TEST_PASSWORD, LiveServer, close_storage, create_user

CHROMIUM = os.environ.get("IRONTRACE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}
BLOCKING_IMPACTS = ("serious", "critical")
TULKUBAS_AGENCY = "Police Department of Turkestan Region"
RUSSIAN_KEYBOARD_READING = "КМТРС300С55А17О44"
EXCAVATOR_PIN = "KMTPC300C55A17044"
TIMEOUT_MS = 20_000

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists() and os.environ.get("CI", "").lower() != "true",
                                reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[LiveServer]:
    """One registry with the Tulkubas case, served over HTTP for the module's tests."""
    folder = tmp_path_factory.mktemp("browser")
    app = create_app({"DB": str(folder / "irontrace.db"), "SECRET_KEY_FILE": str(folder / "secret"),
                      "BULK_POLL_SECONDS": 0.2})
    services = app.extensions["irontrace"]
    services.imports.import_rows(Actor.operator(), enumerate(tulkubas_case(), start=1))
    with LiveServer(app) as live:
        yield live
    close_storage(app)


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def context(chromium: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (cookies, storage) per test, at desktop size, refusing every other origin."""
    context = chromium.new_context(viewport=DESKTOP, locale="en-GB", accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    yield context
    context.close()


class Person:
    """Someone using the site in a browser tab; every page they reach is checked and photographed."""

    def __init__(self, site: LiveServer, context: BrowserContext) -> None:
        self.site = site
        self.page: Page = context.new_page()
        self.refused: list[str] = []  # what the Content-Security-Policy blocked, or requests elsewhere
        self.page.on("console", lambda m: self.refused.append(m.text) if "Content Security Policy" in m.text else None)
        self.page.on("request", lambda r: None if r.url.startswith(site.url) else self.refused.append(r.url))

    def open(self, path: str) -> Page:
        self.page.goto(self.site.url + path)
        return self.page

    def sign_in(self, username: str, password: str = TEST_PASSWORD) -> Page:
        self.open("/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        return self.page

    def look(self, name: str) -> None:
        """The page as it is now: no serious or critical accessibility violation, nothing refused by
        the CSP or fetched from elsewhere, and a screenshot at desktop and phone size."""
        violations = [v for v in Axe().run(self.page).response["violations"] if v["impact"] in BLOCKING_IMPACTS]
        assert violations == [], [(v["id"], v["impact"], [n["target"] for n in v["nodes"]]) for v in violations]
        assert self.refused == []
        SCREENSHOTS.mkdir(exist_ok=True)
        size = self.page.viewport_size
        for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            self.page.set_viewport_size(viewport)
            self.page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
        self.page.set_viewport_size(size or DESKTOP)


def test_an_officer_signs_in_and_checks_a_pin_typed_on_a_russian_keyboard(site, context):
    officer = create_user(site.app, "border")
    person = Person(site, context)
    person.open("/")
    expect(person.page).to_have_url(re.compile(r"/login\?next="))
    person.look("sign-in")
    page = person.sign_in(officer)
    expect(page.get_by_role("heading", name="Check an identifier")).to_be_visible()
    person.look("check")
    field = page.get_by_label("Serial number, PIN or VIN as read")
    expect(field).to_be_focused()  # the start page is ready to type into
    field.press_sequentially(RUSSIAN_KEYBOARD_READING)
    field.press("Enter")
    verdict = page.locator("#verdict")
    expect(verdict).to_contain_text("Possible match")
    expect(page.locator("code.identifier mark.differs")).to_have_text("0")
    expect(page.locator(".reasons")).to_contain_text("query has O where the record has 0 at position 15")
    expect(page.locator(".match")).to_contain_text("Criminal Police Division")
    person.look("check-answer")
    field = page.get_by_label("Serial number, PIN or VIN as read")
    field.fill("KMTPC300C55A17045")  # the excavator's neighbour in its series
    field.press("Enter")
    expect(verdict).to_contain_text("Similar serials: no alarm")
    expect(page.get_by_role("heading", name="Similar serials", exact=True)).to_be_visible()
    expect(page.locator(".similar .match .tier")).to_have_text("Similar serial")
    person.look("check-similar")


def test_the_check_works_without_javascript(site, chromium):
    officer = create_user(site.app, "border")
    context = chromium.new_context(viewport=DESKTOP, java_script_enabled=False)
    try:
        person = Person(site, context)
        page = person.sign_in(officer)
        page.get_by_label("Serial number, PIN or VIN as read").fill(EXCAVATOR_PIN)
        page.get_by_role("button", name="Check", exact=True).click()
        expect(page.locator("#verdict")).to_contain_text("Hit")
    finally:
        context.close()


def test_on_a_phone_the_check_fits_one_thumb(site, chromium):
    officer = create_user(site.app, "border")
    context = chromium.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    try:
        person = Person(site, context)
        page = person.sign_in(officer)
        field = page.get_by_label("Serial number, PIN or VIN as read")
        button = page.get_by_role("button", name="Check", exact=True)
        field.tap()
        field.fill("KMT PC300 C55A17044")
        button.tap()
        expect(page.locator("#verdict")).to_contain_text("Hit")
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways: {width} px"
        for control in (page.get_by_label("Serial number, PIN or VIN as read"), button):
            box = control.bounding_box()
            assert box and box["height"] >= 44 and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    finally:
        context.close()


def test_a_dealer_sees_whom_to_call_and_nothing_of_the_investigation(site, context):
    person = Person(site, context)
    page = person.sign_in(create_user(site.app, "dealer"))
    page.get_by_label("Serial number, PIN or VIN as read").fill(EXCAVATOR_PIN)
    page.get_by_role("button", name="Check", exact=True).click()
    expect(page.locator("#verdict")).to_contain_text("Hit")
    answer = page.locator("#answer").inner_text()
    assert "KZ-TRK-2026-008741/2" in answer and "Criminal Police Division" in answer
    for restricted in ("PC300-8", "impound lot", "98,000,000", EXCAVATOR_PIN, "position"):
        assert restricted not in answer
    expect(page.get_by_role("link", name="Reports")).to_have_count(0)
    person.look("check-dealer")


def test_a_bulk_upload_runs_live_and_its_results_download(site, context, tmp_path):
    person = Person(site, context)
    # A border post's manifest: a dealer would not be told of the drill rig's neighbour (whole identifiers only).
    page = person.sign_in(create_user(site.app, "border"))
    page.get_by_role("link", name="Bulk checks").click()
    person.look("bulk")
    inventory = tmp_path / "inventory.csv"
    inventory.write_text("Заводской номер;Марка;Склад\nКМТ РС300 С55А17044;Komatsu;1\nEPRFRT45V4LX00312;Epiroc;2\n"
                         "NOT-REPORTED-0001;Volvo;3\nEPRFRT45V4LX00313;Epiroc;4\n", encoding="cp1251")
    page.get_by_label("Inventory or manifest (CSV or Excel)").set_input_files(str(inventory))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#job-status")).to_have_text("Done")  # the page follows the job, then reloads
    expect(page.locator("#hits")).to_have_text("2")
    expect(page.locator("#similar-serials")).to_have_text("1")  # the drill rig's neighbour: no alarm
    person.look("bulk-job")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (CSV)").click()
    # As Excel in the upload's locale opens it: UTF-8 with a BOM, the upload's ';' between cells.
    downloaded = Path(download.value.path()).read_bytes()
    assert downloaded.startswith(codecs.BOM_UTF8 + "Заводской номер;".encode())
    rows = list(csv.DictReader(io.StringIO(downloaded.decode("utf-8-sig")), delimiter=";"))
    assert [(row["Склад"], row["verdict"]) for row in rows] == [("1", "hit"), ("2", "hit"), ("3", "no_match"),
                                                             ("4", "similar_serials")]
    page.get_by_role("link", name="All your bulk checks").click()
    expect(page.get_by_role("link", name="inventory.csv")).to_be_visible()


def test_a_dealer_uploads_an_excel_inventory_and_downloads_the_results_as_excel(site, context, tmp_path):
    person = Person(site, context)
    page = person.sign_in(create_user(site.app, "dealer"))
    page.get_by_role("link", name="Bulk checks").click()
    inventory = tmp_path / "stock.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in (["Serial number", "Make", "Yard"], ["KMTPC300C55A17044", "Komatsu", "A"],
                ["NOT-REPORTED-0002", "Volvo", "B"]):
        sheet.append(row)
    workbook.save(inventory)
    page.get_by_label("Inventory or manifest (CSV or Excel)").set_input_files(str(inventory))
    page.get_by_role("button", name="Upload and check").click()
    expect(page.locator("#job-status")).to_have_text("Done")
    expect(page.locator("#hits")).to_have_text("1")
    with page.expect_download() as download:
        page.get_by_role("link", name="Download results (Excel)").click()
    results = openpyxl.load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
    header, *rows = [[cell.value for cell in row] for row in results.iter_rows()]
    verdicts = [(row[header.index("Yard")], row[header.index("verdict")]) for row in rows]
    assert verdicts == [("A", "hit"), ("B", "no_match")]


def test_an_agency_registers_a_report_and_an_edit_conflict_loses_nothing(site, chromium):
    first, second = (chromium.new_context(viewport=DESKTOP) for _ in range(2))
    try:
        desk = Person(site, first)
        page = desk.sign_in(create_user(site.app, "agency", TULKUBAS_AGENCY))
        page.get_by_role("link", name="Reports").click()
        expect(page.get_by_role("link", name="KZ-TRK-2026-008741/2")).to_be_visible()
        desk.look("reports")
        page.get_by_role("link", name="Register a report").click()
        page.get_by_label("Case number").fill("KZ-TRK-2026-009001")
        page.get_by_label("Category").select_option("loader")
        page.get_by_label("Manufacturer").fill("Liebherr")
        page.get_by_label("Identifier 1", exact=True).fill("LBH0L580HWFK01234")
        page.get_by_label("Type 2").select_option("engine")
        page.get_by_label("Identifier 2", exact=True).fill("D936-A7 40021")
        page.get_by_label("Country (ISO code, e.g. KZ)").fill("KZ")
        desk.look("report-new")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("status")).to_contain_text("Report KZ-TRK-2026-009001 registered.")
        expect(page.locator("dd")).to_contain_text(["LBH0L580HWFK01234"])
        desk.look("report")
        report_url = page.url

        other = Person(site, second)
        other.sign_in(create_user(site.app, "agency", TULKUBAS_AGENCY))
        other.page.goto(report_url + "/edit")  # opened at version 1
        page.get_by_role("link", name="Edit").click()
        page.get_by_label("Colour").fill("yellow")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("version 2")

        other.page.get_by_label("Model").fill("L 580 XPower")
        other.page.get_by_role("button", name="Save").click()
        conflict = other.page.locator("#conflict")
        expect(conflict).to_contain_text("Someone else changed this report while you were editing it")
        expect(conflict).to_contain_text("yellow")
        expect(other.page.get_by_label("Model")).to_have_value("L 580 XPower")  # nothing typed is lost
        other.look("report-conflict")
        other.page.get_by_role("button", name="Save").click()  # saving again keeps both changes
        expect(other.page.get_by_role("status")).to_contain_text("version 3")
        expect(other.page.locator(".facts")).to_contain_text("L 580 XPower, yellow")
        other.page.get_by_label("Recovered on").fill("2026-11-26")
        other.page.get_by_label("Place of recovery").fill("Zhibek Zholy border post")
        other.page.get_by_label("Country of recovery").fill("KZ")
        other.page.get_by_label("Recovering agency").fill("Border Service, Zhibek Zholy post")
        other.page.get_by_role("button", name="Mark recovered").click()
        expect(other.page.locator("h1 .status")).to_have_text("Recovered")
    finally:
        first.close()
        second.close()


def test_an_auditor_browses_filters_and_verifies_the_audit_log(site, context):
    person = Person(site, context)
    page = person.sign_in(create_user(site.app, "auditor"))
    expect(page.get_by_role("heading", name="Audit log")).to_be_visible()  # an auditor's start page
    page.get_by_label("Action").select_option("user.sign_in")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit tbody tr").first).to_contain_text("user.sign_in")
    person.look("audit")
    page.get_by_role("link", name="Verify the chain").click()
    expect(page.locator(".verdict")).to_contain_text("Intact")
    person.look("audit-verify")


def test_an_admin_manages_accounts_and_keys(site, context):
    person = Person(site, context)
    page = person.sign_in(create_user(site.app, "admin"))
    page.get_by_role("link", name="Users").click()
    page.get_by_label("Username").fill("new-officer")
    page.get_by_label("Role").select_option("border")
    page.get_by_label("Password", exact=True).fill("a long enough password")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("status")).to_contain_text("Account new-officer created.")
    person.look("users")
    page.get_by_role("link", name="API keys").click()
    page.get_by_label("Role").select_option("dealer")
    page.get_by_label("Label").fill("dealer yard 4")
    page.get_by_role("button", name="Issue").click()
    expect(page.locator("#issued-key")).to_have_text(re.compile(r"^itk_[0-9a-f]+_"))
    person.look("keys")


def test_the_language_switches_on_every_page_and_follows_accept_language(site, chromium):
    context = chromium.new_context(viewport=DESKTOP, locale="ru-RU")
    try:
        person = Person(site, context)
        page = person.open("/login")
        expect(page.locator("html")).to_have_attribute("lang", "ru")  # from Accept-Language
        expect(page.get_by_role("heading", name="Войти")).to_be_visible()
        page.get_by_label("Имя пользователя").fill(create_user(site.app, "border"))
        page.get_by_label("Пароль").fill(TEST_PASSWORD)
        page.get_by_role("button", name="Войти").click()
        page.get_by_label("Заводской номер, PIN или VIN, как прочитан").fill(RUSSIAN_KEYBOARD_READING)
        page.get_by_role("button", name="Проверить", exact=True).click()
        expect(page.locator("#verdict")).to_contain_text("Возможное совпадение")
        expect(page.locator(".reasons")).to_contain_text("в запросе O там, где в реестре 0, позиция 15")
        person.look("check-answer-ru")
        page.get_by_role("link", name="Қазақша").click()  # the answer's page is a form's: the switch reopens it
        expect(page.locator("html")).to_have_attribute("lang", "kk")
        expect(page.get_by_role("heading", name="Нөмірді тексеру")).to_be_visible()
        person.look("check-kk")
        page.get_by_role("link", name="English").click()
        expect(page.get_by_role("heading", name="Check an identifier")).to_be_visible()
    finally:
        context.close()


def test_keyboard_users_reach_everything_with_a_visible_focus(site, context):
    person = Person(site, context)
    page = person.sign_in(create_user(site.app, "border"))
    page.goto(site.url + "/bulk")  # a page without a field focused on arrival: the first Tab is the skip link
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    box = skip.bounding_box()
    assert box and box["x"] >= 0 and box["y"] >= 0, "the skip link stays off-screen when focused"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"#main$"))
    page.keyboard.press("Tab")  # past the header: the first control of the page
    expect(page.get_by_label("Inventory or manifest (CSV or Excel)")).to_be_focused()
    page.goto(site.url + "/")
    field = page.get_by_label("Serial number, PIN or VIN as read")
    expect(field).to_be_focused()  # the check page is ready to type into
    page.keyboard.type(EXCAVATOR_PIN)
    page.keyboard.press("Enter")
    expect(page.locator("#verdict")).to_contain_text("Hit")
    page.keyboard.press("Tab")
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
