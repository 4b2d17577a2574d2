"""/v1/bulk-checks and /v1/checks/bulk over real HTTP, on both engines, and the bulk-check command."""

from __future__ import annotations

import codecs
import csv
import io
import json
import threading
import time

import openpyxl
import pytest
from flask import request

from registry import create_app
from registry.api.extension import EXTENSION_KEY
from registry.cli import exit_codes
from registry.files.tables import XLSX_CONTENT_TYPE
from registry.services.bulk import SYNC_MAX_ROWS
from registry.services.bulk_worker import BulkWorker
from tests.conftest import LiveServer, backend_settings, close_storage, issue_key, report_data
from tests.processes import irontrace

MAX_ROWS = 1500
MAX_BYTES = 64 * 1024
FAST_BULK = {
    "BULK_WORKER_THREADS": 1,  # an in-process worker on Elasticsearch too, so the tests need no process
    "BULK_POLL_SECONDS": 0.05,
    "BULK_BATCH_SIZE": 7,  # several batches even for a short file
    "BULK_MAX_ROWS": MAX_ROWS,
    "BULK_MAX_BYTES": MAX_BYTES,
}
JOB_TIMEOUT_SECONDS = 60
PIN = "CAT0336DLTJF00123"
VIN = "XTC652005L1234567"


@pytest.fixture
def app(backend, tmp_path, request):
    app = create_app({**backend_settings(backend, tmp_path, request), **FAST_BULK})
    yield app
    close_storage(app)


@pytest.fixture
def registered(server) -> dict:
    stolen = server.post("/v1/reports", json=report_data()).json()
    recovered = server.post("/v1/reports", json=report_data(
        "KZ-TRK-2024-000777", status="recovered", category="truck", manufacturer="KAMAZ",
        identifiers=[{"type": "vin", "value": VIN}], description="Orange KAMAZ dump truck",
    )).json()
    return {"stolen": stolen, "recovered": recovered}


def csv_body(header: list[str], rows: list[list[str]], delimiter: str = ",") -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter).writerows([header, *rows])
    return out.getvalue().encode()


def wait_for(server, location: str, statuses=("done", "failed", "cancelled")) -> dict:
    deadline = time.monotonic() + JOB_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        job = server.get(location).json()
        if job["status"] in statuses:
            return job
        time.sleep(0.05)
    raise AssertionError(f"bulk check still {job['status']} after {JOB_TIMEOUT_SECONDS} s: {job}")


def ndjson_results(server, location: str) -> list[dict]:
    response = server.get(location + "/results", headers={"Accept": "application/x-ndjson"})
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("application/x-ndjson")
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_job_answers_every_row_in_input_order(server, registered):
    rows = [["1", PIN, "Caterpillar"], ["2", "", "blank"], ["3", "CAT0336DLTJFOO123", ""],
            ["4", VIN, "KAMAZ"], ["5", "ZZZ9999999", "=HYPERLINK(\"http://x\")"], ["6", "CAT0336DLTJF00128", ""]]
    body = csv_body(["Lot", "Заводской номер", "Марка"], rows, delimiter=";").decode().encode("cp1251")
    created = server.post("/v1/bulk-checks", files={"file": ("inventory.csv", body, "text/csv")})
    assert created.status_code == 202, created.text
    assert created.json()["status"] == "queued" and created.json()["rows_total"] == 6
    location = created.headers["Location"]
    assert location == f"/v1/bulk-checks/{created.json()['id']}"

    job = wait_for(server, location)
    assert job["status"] == "done" and job["rows_done"] == 6 and job["eta_seconds"] is None
    counts = (job["hits"], job["possible_matches"], job["similar_serials"], job["no_matches"], job["errors"])
    assert counts == (1, 1, 1, 2, 1)
    assert job["started_at"] <= job["finished_at"]

    results = ndjson_results(server, location)
    assert [r["row"] for r in results] == [2, 3, 4, 5, 6, 7]
    assert [r["input"]["Lot"] for r in results] == ["1", "2", "3", "4", "5", "6"]
    assert [r["verdict"] for r in results] == ["hit", None, "possible_match", "no_match", "no_match",
                                               "similar_serials"]
    assert "no identifier" in results[1]["error"]
    assert results[0]["match"]["report_id"] == registered["stolen"]["id"]
    assert results[2]["match"]["match_type"] == "confusable" and results[2]["match"]["explanation"]
    assert results[3]["match"]["active"] is False  # a recovered report is information, not a hit
    # one digit off the running number, copied from a file: as likely the next machine of the series
    assert results[5]["match"]["tier"] == "similar" and results[5]["similar_serials"] == 1
    assert "typos are rare" in results[5]["match"]["explanation"]

    as_csv = server.get(location + "/results", headers={"Accept": "text/csv"})
    assert as_csv.headers["Content-Type"] == "text/csv; charset=utf-8"
    # Excel in a Russian locale opens it by double-click: UTF-8 with BOM, the upload's ';' between cells.
    assert as_csv.content.startswith(codecs.BOM_UTF8 + b"Lot;")
    table = list(csv.DictReader(io.StringIO(as_csv.content.decode("utf-8-sig")), delimiter=";"))
    assert [r["Lot"] for r in table] == ["1", "2", "3", "4", "5", "6"]
    assert table[0]["verdict"] == "hit" and table[0]["score"] == "1.0" and table[0]["tier"] == "alarm"
    assert (table[5]["verdict"], table[5]["tier"], table[5]["similar_serials"]) == ("similar_serials", "similar", "1")
    assert table[0]["matched_external_ref"] == "KZ-TRK-2025-000001"
    assert table[4]["Марка"] == "'=HYPERLINK(\"http://x\")"


def test_a_raw_ndjson_body_is_a_job_too(server, registered):
    body = "\n".join(json.dumps({"VIN": v, "ref": n}) for n, v in enumerate([VIN, PIN, "-"])).encode()
    created = server.post("/v1/bulk-checks", data=body, headers={"Content-Type": "application/x-ndjson"})
    assert created.status_code == 202
    wait_for(server, created.headers["Location"])
    results = ndjson_results(server, created.headers["Location"])
    assert [r["verdict"] for r in results] == ["no_match", "hit", None]
    assert [r["input"]["ref"] for r in results] == ["0", "1", "2"]


READINGS = [PIN, "cat-0336 dltjf 00123", "CAT0336DLTJFOO123", "CAT0336DLTJF00128", "CAT0336DLTJF0123",
            "JF00123", VIN, "XTC652005L123456", "ZZZ9999999", "C9-4RT05521"]


def test_each_bulk_row_answers_as_its_single_check(server, registered):
    rows = [[reading, "Caterpillar" if n % 2 else "", "excavator" if n % 3 else "", ""]
            for n, reading in enumerate(READINGS)]
    rows.append(["CAT9999", "", "", "yellow tracked excavator hydraulic breaker"])
    answered = server.post("/v1/checks/bulk", data=csv_body(["serial", "make", "category", "description"], rows),
                           headers={"Content-Type": "text/csv"})
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["rows_total"] == len(rows) and body["errors"] == 0
    for (reading, maker, category, description), result in zip(rows, body["results"]):
        query = {k: v for k, v in (("identifier", reading), ("manufacturer", maker), ("category", category),
                                   ("description", description)) if v}
        single = server.post("/v1/checks", json={**query, "reading_source": "copied"}).json()  # as a file's are
        assert result["verdict"] == single["verdict"], reading
        assert result["matches"] == len(single["matches"]), reading
        assert result["match"] == (single["matches"][0] if single["matches"] else None), reading


def test_a_row_may_say_how_its_serial_was_read(server, registered):
    swapped = "CAT0336DTLJF00123"  # LT typed as TL: a typing slip if typed, as likely another machine if copied
    body = csv_body(["serial", "reading source"], [[swapped, "Typed"], [swapped, ""], [swapped, "ocr"]])
    answered = server.post("/v1/checks/bulk", data=body, headers={"Content-Type": "text/csv"}).json()
    assert [r["verdict"] for r in answered["results"]] == ["possible_match", "similar_serials", "similar_serials"]
    assert (answered["possible_matches"], answered["similar_serials"]) == (1, 2)
    refused = server.post("/v1/checks/bulk", data=csv_body(["serial", "reading source"], [[swapped, "guessed"]]),
                          headers={"Content-Type": "text/csv"}).json()
    assert "reading_source" in refused["results"][0]["error"]


def test_workers_share_jobs_and_each_row_is_answered_once(app, server):
    second = BulkWorker(app.extensions[EXTENSION_KEY].bulk).start()  # beside the app's own worker
    try:
        locations = [server.post("/v1/bulk-checks", data=csv_body(["pin", "job"], [[f"SN{j}{n:05d}", str(j)]
                                                                                 for n in range(100)]),
                                 headers={"Content-Type": "text/csv"}).headers["Location"] for j in range(4)]
        for job_number, location in enumerate(locations):
            assert wait_for(server, location)["rows_done"] == 100
            results = ndjson_results(server, location)
            assert [r["row"] for r in results] == list(range(2, 102))
            assert {r["input"]["job"] for r in results} == {str(job_number)}
    finally:
        second.stop()


def test_small_files_are_answered_at_once_as_csv_when_asked(server, registered):
    body = csv_body(["S/N", "note"], [[PIN, "+cmd"], ["", "@x"]])
    answered = server.post("/v1/checks/bulk", data=body, headers={"Content-Type": "text/csv", "Accept": "text/csv"})
    table = list(csv.DictReader(io.StringIO(answered.text)))
    assert [(r["verdict"], r["note"]) for r in table] == [("hit", "'+cmd"), ("", "'@x")]
    assert "no identifier" in table[1]["error"]


def assert_too_large(response, limit: int, unit: str) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert (problem["status"], problem["limit"], problem["unit"]) == (413, limit, unit)
    assert str(limit) in problem["detail"]


def test_limits_give_413_naming_the_limit(server):
    serials = [[f"SN{n:06d}"] for n in range(MAX_ROWS + 1)]
    too_many = csv_body(["serial"], serials)
    assert_too_large(server.post("/v1/bulk-checks", data=too_many, headers={"Content-Type": "text/csv"}),
                     MAX_ROWS, "rows")
    sync_over = csv_body(["serial"], serials[:SYNC_MAX_ROWS + 1])
    assert_too_large(server.post("/v1/checks/bulk", data=sync_over, headers={"Content-Type": "text/csv"}),
                     SYNC_MAX_ROWS, "rows")
    too_big = csv_body(["serial", "padding"], [[f"SN{n}", "x" * 100] for n in range(MAX_BYTES // 100)])
    assert_too_large(server.post("/v1/bulk-checks", data=too_big, headers={"Content-Type": "text/csv"}),
                     MAX_BYTES, "bytes")
    assert_too_large(server.post("/v1/bulk-checks", files={"file": ("big.csv", too_big)}), MAX_BYTES, "bytes")
    at_limit = csv_body(["serial"], serials[:MAX_ROWS])
    assert server.post("/v1/bulk-checks", data=at_limit, headers={"Content-Type": "text/csv"}).status_code == 202


class PausingWorker(BulkWorker):
    """A real worker that stops after its first committed batch until ``resume`` is set, so a test can
    act between two batches (no timing involved)."""

    def __init__(self, bulk) -> None:
        super().__init__(bulk)
        self.paused, self.resume = threading.Event(), threading.Event()

    def _checked_batches(self, job):
        for batch, results in enumerate(super()._checked_batches(job)):
            if batch == 1:  # the first batch is committed by now
                self.paused.set()
                self.resume.wait(JOB_TIMEOUT_SECONDS)
            yield results


def test_cancel_stops_a_job_between_batches(app, server, registered):
    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()  # only the pausing worker below runs jobs
    body = csv_body(["serial"], [[f"SN{n:06d}"] for n in range(MAX_ROWS)])
    location = server.post("/v1/bulk-checks", data=body, headers={"Content-Type": "text/csv"}).headers["Location"]
    worker = PausingWorker(services.bulk).start()
    try:
        assert worker.paused.wait(JOB_TIMEOUT_SECONDS), "the worker never committed a batch"
        cancelled = server.delete(location)
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    finally:
        worker.resume.set()  # it checks the next batch, and finds the job cancelled when committing it
        worker.stop()
    job = server.get(location).json()
    assert job["status"] == "cancelled" and job["rows_done"] == FAST_BULK["BULK_BATCH_SIZE"]
    assert len(ndjson_results(server, location)) == job["rows_done"]
    assert server.delete(location).status_code == 200  # cancelling again changes nothing

    BulkWorker(services.bulk).run_once()  # a cancelled job is nobody's to run
    assert server.get(location).json() == job
    small = server.post("/v1/bulk-checks", data=csv_body(["pin"], [[PIN]]), headers={"Content-Type": "text/csv"})
    assert BulkWorker(services.bulk).run_once()
    refused = server.delete(small.headers["Location"])
    assert refused.status_code == 409 and refused.json()["job_status"] == "done"


def test_a_job_whose_worker_stopped_renewing_its_lease_reads_stalled_until_another_resumes_it(app, server):
    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()
    body = csv_body(["serial"], [[f"SN{n:06d}"] for n in range(20)])
    location = server.post("/v1/bulk-checks", data=body, headers={"Content-Type": "text/csv"}).headers["Location"]
    lease = services.bulk.settings.lease_seconds
    claimed = services.engine.jobs.claim_job("dead-worker", lease, time.time() - 2 * lease)  # then it died
    assert claimed is not None and claimed["id"] == location.rsplit("/", 1)[1]
    stalled = server.get(location).json()
    assert stalled["status"] == "stalled" and stalled["eta_seconds"] is None
    assert server.get("/v1/bulk-checks").json()["items"][0]["status"] == "stalled"
    assert "irontrace_bulk_jobs{status=\"stalled\"} 1.0" in server.get("/metrics").text
    assert BulkWorker(services.bulk).run_once()  # another worker takes it over once the lease ran out
    resumed = server.get(location).json()
    assert resumed["status"] == "done" and resumed["rows_done"] == 20


def test_the_caller_lists_its_own_jobs_newest_first(app, server):
    services = app.extensions[EXTENSION_KEY]
    services.stop_workers()
    dealer = {"Authorization": f"Bearer {issue_key(app, 'dealer')}"}
    own = [server.post("/v1/bulk-checks", data=csv_body(["serial"], [[f"SN{n}"]]),
                       headers={"Content-Type": "text/csv"}).json()["id"] for n in range(5)]
    theirs = server.http.post(server.url + "/v1/bulk-checks", data=csv_body(["serial"], [["SN9"]]), timeout=30,
                              headers={**dealer, "Content-Type": "text/csv"}).json()["id"]
    listed, cursor = [], None
    while True:
        page = server.get("/v1/bulk-checks", params={"limit": 2, **({"cursor": cursor} if cursor else {})}).json()
        listed += [job["id"] for job in page["items"]]
        assert all("owner" not in job and "lease_owner" not in job for job in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert listed == own[::-1]
    as_dealer = server.http.get(server.url + "/v1/bulk-checks", headers=dealer, timeout=30).json()["items"]
    assert [job["id"] for job in as_dealer] == [theirs]


def test_unknown_jobs_and_unreadable_files(server):
    assert server.get("/v1/bulk-checks/nope").status_code == 404
    assert server.get("/v1/bulk-checks/nope/results").status_code == 404
    assert server.delete("/v1/bulk-checks/nope").status_code == 404
    broken = server.post("/v1/bulk-checks", data=b'[{"serial": 1}', headers={"Content-Type": "application/json"})
    assert broken.status_code == 400 and broken.headers["Content-Type"] == "application/problem+json"
    missing = server.post("/v1/bulk-checks", files={"other": ("a.csv", b"serial\nSN1\n")})
    assert missing.status_code == 400 and "'file'" in missing.json()["detail"]
    assert server.get("/v1/bulk-checks/nope/results", headers={"Accept": "image/png"}).status_code == 406


def xlsx_body(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_an_excel_inventory_is_checked_and_its_results_come_back_as_excel_or_csv(server, registered):
    body = xlsx_body([["Инв. №", "Заводской номер", "Тип"], ["A-1", PIN, "Excavator"], ["A-2", VIN, "Haul truck"],
                      ["A-3", 123456789012, None], ["A-4", 12345678901234567, None]])
    created = server.post("/v1/bulk-checks", files={"file": ("stock.xlsx", body, "application/octet-stream")})
    assert created.status_code == 202, created.text
    assert created.json()["format"] == "xlsx" and created.json()["rows_total"] == 4
    job = wait_for(server, created.headers["Location"])
    assert (job["hits"], job["no_matches"], job["errors"]) == (1, 2, 1)  # the 17-digit number lost its digits

    as_xlsx = server.get(created.headers["Location"] + "/results", headers={"Accept": XLSX_CONTENT_TYPE})
    assert as_xlsx.status_code == 200 and as_xlsx.headers["Content-Type"] == XLSX_CONTENT_TYPE
    assert as_xlsx.headers["Content-Disposition"].endswith('.xlsx"')
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    header, *rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    table = [dict(zip(header, row)) for row in rows]
    assert [r["Инв. №"] for r in table] == ["A-1", "A-2", "A-3", "A-4"]
    assert [r["verdict"] for r in table] == ["hit", "no_match", "no_match", None]
    assert table[0]["matched_external_ref"] == "KZ-TRK-2025-000001" and table[0]["matched_active"] == "yes"
    assert table[1]["matched_status"] == "recovered" and table[1]["matched_active"] == "no"
    assert table[2]["Заводской номер"] == "123456789012"
    assert "Text" in table[3]["error"]

    as_csv = server.get(created.headers["Location"] + "/results", headers={"Accept": "text/csv"})
    assert as_csv.content.startswith(codecs.BOM_UTF8 + "Инв. №,".encode())  # no delimiter uploaded: a comma

    sync = server.post("/v1/checks/bulk", data=body, headers={"Content-Type": XLSX_CONTENT_TYPE,
                                                              "Accept": XLSX_CONTENT_TYPE})
    assert sync.status_code == 200
    synced = openpyxl.load_workbook(io.BytesIO(sync.content)).active
    assert [[cell.value for cell in row] for row in synced.iter_rows()] == [header, *rows]


def test_a_headerless_list_of_serials_is_a_bulk_check(server, registered):
    answered = server.post("/v1/checks/bulk", data=f"{PIN}\r\n{VIN}\r\nZZZ9999999\r\n".encode(),
                           headers={"Content-Type": "text/plain"})
    assert answered.status_code == 200, answered.text
    results = answered.json()["results"]
    assert [(r["row"], r["input"], r["verdict"]) for r in results] == [
        (1, {"identifier": PIN}, "hit"), (2, {"identifier": VIN}, "no_match"), (3, {"identifier": "ZZZ9999999"},
                                                                              "no_match")]


def test_files_that_are_no_inventory_are_refused_at_upload_and_nothing_is_stored(server):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 16
    for path in ("/v1/bulk-checks", "/v1/checks/bulk"):
        for upload in ({"files": {"file": ("photo.png", png, "image/png")}},
                       {"files": {"file": ("stock.csv", png, "text/csv")}},
                       {"data": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(1024),
                        "headers": {"Content-Type": "application/vnd.ms-excel"}}):
            refused = server.post(path, **upload)
            assert refused.status_code == 415, refused.text
            assert refused.headers["Content-Type"] == "application/problem+json"
            assert refused.json()["title"] == "Unsupported media type"
        unknown = server.post(path, files={"file": ("stock.csv", b"Lot;Model;Colour\r\n1;PC300;yellow\r\n")})
        assert unknown.status_code == 422, unknown.text
        problem = unknown.json()
        assert "Lot" in problem["detail"] and "serial" in problem["recognized_headers"]["identifier"]
        assert "марка" in problem["recognized_headers"]["manufacturer"]
    audit = server.get("/v1/audit", params={"action": "bulk_check.submit"}).json()
    assert audit["items"] == []


def test_lines_over_128_kib_are_refused_even_a_single_50_mb_line(backend, tmp_path, request):
    app = create_app({**backend_settings(backend, tmp_path, request), **FAST_BULK, "BULK_MAX_BYTES": 64 * 1024 ** 2})
    try:
        with LiveServer(app, issue_key(app)) as server:
            cell = csv_body(["serial", "note"], [["SN0001", "x" * (128 * 1024 + 1)]])
            refused = server.post("/v1/checks/bulk", data=cell, headers={"Content-Type": "text/csv"})
            assert refused.status_code == 413 and refused.json()["unit"] == "characters per line"
            assert refused.json()["line"] == 2
            line = b"serial," + b"A" * (50 * 1024 ** 2)
            for path in ("/v1/bulk-checks", "/v1/checks/bulk"):
                refused = server.post(path, data=line, headers={"Content-Type": "text/csv"})
                assert refused.status_code == 413, refused.text
                assert (refused.json()["limit"], refused.json()["line"]) == (128 * 1024, 1)
    finally:
        close_storage(app)


def test_wide_files_are_refused_and_empty_cells_never_stored(server, registered):
    wide = ("serial" + ",c" * 300 + "\r\n" + PIN + "\r\n").encode()
    refused = server.post("/v1/bulk-checks", data=wide, headers={"Content-Type": "text/csv"})
    assert refused.status_code == 413 and refused.json()["unit"] == "columns"
    sparse = ("serial" + "," * 5000 + "\r\n" + f"{PIN}," * 3 + "," * 4997 + "\r\n").encode()
    created = server.post("/v1/bulk-checks", data=sparse, headers={"Content-Type": "text/csv"})
    assert created.status_code == 202
    wait_for(server, created.headers["Location"])
    [result] = ndjson_results(server, created.headers["Location"])
    assert result["input"] == {"serial": PIN} and result["verdict"] == "hit"
    services = server.app.extensions[EXTENSION_KEY]
    [row] = services.engine.jobs.job_rows(created.json()["id"], 0, 1)
    assert row["cells"] == {"serial": PIN}
    [stored] = services.engine.jobs.iter_results(created.json()["id"], 1)
    assert "input" not in stored  # the row holds the cells; results do not repeat them


def test_openapi_documents_the_bulk_endpoints(server):
    document = server.get("/openapi.json").json()
    paths = document["paths"]
    assert set(paths["/v1/bulk-checks"]) == {"get", "post"}
    assert {"get", "delete"} <= set(paths["/v1/bulk-checks/{job_id}"])
    assert "text/csv" in paths["/v1/bulk-checks/{job_id}/results"]["get"]["responses"]["200"]["content"]
    assert "multipart/form-data" in paths["/v1/checks/bulk"]["post"]["requestBody"]["content"]
    assert "413" in paths["/v1/bulk-checks"]["post"]["responses"]
    assert {"BulkJob", "BulkCheckResult", "BulkRowResult"} <= set(document["components"]["schemas"])


@pytest.fixture
def seen_keys(app) -> list:
    """The Authorization header of every request the app receives (set up before it serves any)."""
    seen: list = []
    app.before_request(lambda: seen.append(request.headers.get("Authorization")))
    return seen


def test_bulk_check_command_against_a_server_sends_the_key(app, seen_keys, server, registered, tmp_path):
    seen_keys.clear()  # the registrations above were made with the admin key of ``server``
    key = issue_key(app, "border")
    source = tmp_path / "manifest.csv"
    source.write_bytes(csv_body(["VIN-код", "note"], [[VIN, "a"], [PIN, "b"], ["", "c"]]))
    output = tmp_path / "results.csv"
    done = irontrace("bulk-check", str(source), "-o", str(output), "--server", server.url, env={"IRONTRACE_KEY": key})
    assert done.returncode == exit_codes.HIT, done.stderr
    assert "rows 3: hits 1, possible matches 0, similar serials 0, no match 1, errors 1" in done.stderr
    table = list(csv.DictReader(io.StringIO(output.read_text(encoding="utf-8-sig"))))
    assert [(r["note"], r["verdict"]) for r in table] == [("a", "no_match"), ("b", "hit"), ("c", "")]
    assert seen_keys and set(seen_keys) == {f"Bearer {key}"}


def test_bulk_check_command_on_the_local_registry(tmp_path):
    env = {"IRONTRACE_DB": str(tmp_path / "local.db")}
    registry_file = tmp_path / "registry.ndjson"
    registry_file.write_text(json.dumps(report_data()) + "\n")
    assert irontrace("import", str(registry_file), env=env).returncode == 0
    source = tmp_path / "stock.csv"
    source.write_bytes(("Серийный номер\tМарка\n" + f"{PIN}\tCaterpillar\nZZZ9999999\tVolvo\n").encode("utf-16"))
    output = tmp_path / "results.ndjson"
    done = irontrace("bulk-check", str(source), "-o", str(output), env=env)
    assert done.returncode == exit_codes.HIT, done.stderr
    assert "rows 2: hits 1, possible matches 0, similar serials 0, no match 1, errors 0" in done.stderr
    results = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["input"]["Марка"], r["verdict"]) for r in results] == [("Caterpillar", "hit"), ("Volvo", "no_match")]
