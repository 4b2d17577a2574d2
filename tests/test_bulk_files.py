"""Reading bulk-check uploads as real systems export them, and writing spreadsheet-safe results."""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import tracemalloc
import zipfile
from typing import Any

import openpyxl
import pytest

from registry.errors import InvalidRequest, PayloadTooLarge, UnrecognizedColumns, UnsupportedFileType
from registry.files.cells import spreadsheet_safe, unguarded
from registry.files.results import UTF8_BOM, csv_lines, write_xlsx
from registry.files.tables import MAX_LINE_CHARS, XLSX_CONTENT_TYPE, Limits, detect_encoding, detect_format
from registry.files.uploads import HEADER_ALIASES, HEADERLESS_COLUMN, Upload, read_upload

ROWS_LIMIT = 100
# The column names the issue names, as a Russian- or English-language export would write them.
IDENTIFIER_HEADERS = ("serial", "Serial Number", "S/N", "PIN", "VIN", "Заводской номер", "серийный номер",
                      "VIN-код", "SERIAL_NUMBER", "  serial   number ")
MANUFACTURER_HEADERS = ("Manufacturer", "make", "Марка", "Производитель")


def csv_text(header: list[str], rows: list[list[str]], delimiter: str = ",") -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def manifest(delimiter: str = ",") -> str:
    """A customs manifest: Russian headers, Cyrillic cells, a column the registry does not know."""
    return csv_text(["№ п/п", "Заводской номер", "Марка", "Примечание"], [
        ["1", "КМТ РС300 С55А17О44", "Komatsu", "экскаватор, жёлтый"],
        ["2", "CAT0336DLTJF00123", "Caterpillar", "с гидромолотом"],
    ], delimiter)


def workbook(rows: list[list[Any]], sheets_before: int = 0) -> bytes:
    """An .xlsx file as Excel would save it, the table on its first visible sheet."""
    book = openpyxl.Workbook()
    for n in range(sheets_before):  # hidden sheets before the table
        hidden = book.create_sheet(f"hidden {n}", 0)
        hidden.append(["not", "this"])
        hidden.sheet_state = "hidden"
    sheet = book.worksheets[sheets_before]
    for row in rows:
        sheet.append(row)
    for line in sheet.iter_rows():
        for cell in line:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"  # text that looks like a formula, as a cell formatted as Text holds it
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read(data: bytes, content_type: str | None = None, name: str | None = None, max_rows: int = ROWS_LIMIT,
         limits: Limits | None = None) -> tuple[Upload, list[dict]]:
    """An upload read as the API reads it: format detected, rows kept aside, then listed."""
    file = io.BytesIO(data)
    upload = read_upload(file, detect_format(file, name, content_type), max_rows, limits)
    return upload, list(upload.rows)


ENCODINGS = {
    "utf-8": lambda text: text.encode("utf-8"),
    "utf-8 with BOM": lambda text: codecs.BOM_UTF8 + text.encode("utf-8"),
    "utf-16 LE with BOM": lambda text: codecs.BOM_UTF16_LE + text.encode("utf-16-le"),
    "utf-16 BE with BOM": lambda text: codecs.BOM_UTF16_BE + text.encode("utf-16-be"),
    "utf-16 LE without BOM": lambda text: text.encode("utf-16-le"),
    "windows-1251": lambda text: text.encode("cp1251"),
}


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_every_encoding_reads_the_same_rows(encoding):
    upload, rows = read(ENCODINGS[encoding](manifest(";")), "text/csv")
    assert upload.columns == ["№ п/п", "Заводской номер", "Марка", "Примечание"]
    assert upload.delimiter == ";"
    assert [r["query"] for r in rows] == [
        {"identifier": "КМТ РС300 С55А17О44", "manufacturer": "Komatsu"},
        {"identifier": "CAT0336DLTJF00123", "manufacturer": "Caterpillar"},
    ]
    assert rows[0]["cells"]["Примечание"] == "экскаватор, жёлтый"
    assert [r["number"] for r in rows] == [2, 3]


def test_windows_1251_is_not_mistaken_for_utf8_even_past_the_first_kilobytes():
    assert detect_encoding(io.BytesIO("Заводской номер".encode("cp1251"))) == "cp1251"
    assert detect_encoding(io.BytesIO("naïve".encode())) == "utf-8"
    late = ("serial\r\n" + "SN0001\r\n" * 2000 + "Экскаватор\r\n").encode("cp1251")  # ASCII for 14 KB first
    assert detect_encoding(io.BytesIO(late)) == "cp1251"
    assert read(late, max_rows=3000)[1][-1]["cells"]["serial"] == "Экскаватор"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_sniffed(delimiter):
    upload, rows = read(manifest(delimiter).encode())
    assert len(upload.columns) == 4 and upload.delimiter == delimiter
    assert rows[1]["query"]["identifier"] == "CAT0336DLTJF00123"
    assert rows[0]["cells"]["Примечание"] == "экскаватор, жёлтый"  # a comma inside quotes stays


@pytest.mark.parametrize("header", IDENTIFIER_HEADERS)
@pytest.mark.parametrize("maker_header", MANUFACTURER_HEADERS)
def test_header_aliases_in_english_and_russian_any_case(header, maker_header):
    [row] = read(csv_text(["Lot", header, maker_header], [["17", "HLV5918681", "Hitachi"]]).encode())[1]
    assert row["query"] == {"identifier": "HLV5918681", "manufacturer": "Hitachi"}
    assert row["cells"] == {"Lot": "17", header: "HLV5918681", maker_header: "Hitachi"}
    assert row["error"] is None


@pytest.mark.parametrize("spelling", ["Haul truck", "haul_truck", "HAUL-TRUCK", " haul  truck "])
def test_category_is_taken_however_it_is_spelt_and_kept_as_input_otherwise(spelling):
    data = csv_text(["VIN", "Category", "Description"], [["XTC652005L1234567", spelling, "orange dump truck"],
                                                         ["XTC652005L1234568", "Самосвал", ""]]).encode()
    first, second = read(data)[1]
    assert first["query"] == {"identifier": "XTC652005L1234567", "category": "haul_truck",
                              "description": "orange dump truck"}
    assert second["query"] == {"identifier": "XTC652005L1234568"}
    assert second["cells"]["Category"] == "Самосвал"


def test_model_and_reading_source_columns_are_read_and_a_bad_source_is_the_row_s_error():
    data = csv_text(["S/N", "Модель", "Reading Source"], [["HLV5918681", "HiLight V5+", "OCR"],
                                                          ["HLV5918682", "", ""], ["HLV5918683", "", "guess"]]).encode()
    ocr, plain, bad = read(data, "text/csv")[1]
    assert ocr["query"] == {"identifier": "HLV5918681", "model": "HiLight V5+", "reading_source": "ocr"}
    assert plain["query"] == {"identifier": "HLV5918682"}  # the bulk check reads it as copied
    assert bad["query"] is None and "reading_source" in bad["error"]


def test_a_bad_row_in_the_middle_gets_its_own_error_and_the_rest_are_read():
    data = csv_text(["serial", "note"], [["SN0001", "a"], ["", "no serial"], ["---", "no letters"],
                                         ["SN0004", "d"]]).encode()
    rows = read(data)[1]
    assert [r["number"] for r in rows] == [2, 3, 4, 5]
    assert [r["query"] is None for r in rows] == [False, True, True, False]
    assert "no identifier" in rows[1]["error"]
    assert "letters or digits" in rows[2]["error"]
    assert rows[3]["query"] == {"identifier": "SN0004"}


def test_empty_cells_are_not_kept():
    header = ["serial", *[f"c{n}" for n in range(200)]]
    _, [row] = read(csv_text(header, [["SN0001", *[""] * 199, "last"]]).encode())
    assert row["cells"] == {"serial": "SN0001", "c199": "last"}


def test_ndjson_and_json_rows_use_the_same_aliases():
    lines = [{"S/N": "SN1", "make": "Volvo", "lot": 4}, "not an object", {"Заводской номер": "SN3"}]
    ndjson = ("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n").encode()
    upload, rows = read(ndjson, name="manifest.ndjson")
    assert [r["query"] for r in rows] == [{"identifier": "SN1", "manufacturer": "Volvo"}, None,
                                          {"identifier": "SN3"}, None]
    assert rows[0]["cells"]["lot"] == "4"
    assert "not an object" in rows[1]["error"] and "not valid JSON" in rows[3]["error"]
    assert upload.columns == ["S/N", "make", "lot", "Заводской номер"]

    array = json.dumps(lines[:1] + lines[2:], ensure_ascii=False).encode("utf-16")
    assert detect_format(io.BytesIO(array)) == "json"
    assert [r["query"]["identifier"] for r in read(array)[1]] == ["SN1", "SN3"]


def test_a_json_array_is_read_element_by_element():
    elements = [{"serial": f"SN{n:05d}", "note": "x" * (n % 50)} for n in range(3000)]  # several read chunks
    text = " [\n" + ",\n".join(json.dumps(e) for e in elements) + "\n] \n"
    rows = read(text.encode(), max_rows=3000)[1]
    assert [r["query"]["identifier"] for r in rows] == [e["serial"] for e in elements]
    assert [r["number"] for r in rows] == list(range(1, 3001))
    assert read(b"[12345678901234567890]", max_rows=10)[1][0]["error"] == "The row is not an object."
    too_long = json.dumps([{"serial": "SN1", "note": "y" * (MAX_LINE_CHARS + 1)}]).encode()
    with pytest.raises(PayloadTooLarge) as raised:
        read(too_long)
    assert raised.value.extra["unit"] == "characters per line"
    for broken in (b'[{"serial": "SN1"}', b'[{"serial": "SN1"} {"serial": "SN2"}]', b'[{"serial": "SN1"},]'):
        with pytest.raises(InvalidRequest):
            read(broken)


def test_row_limit_gives_payload_too_large_naming_it():
    data = csv_text(["serial"], [[f"SN{n}"] for n in range(ROWS_LIMIT + 1)]).encode()
    with pytest.raises(PayloadTooLarge) as raised:
        read(data)
    assert raised.value.extra == {"limit": ROWS_LIMIT, "unit": "rows"}
    assert len(read(data, max_rows=ROWS_LIMIT + 1)[1]) == ROWS_LIMIT + 1


def test_a_file_without_rows_or_empty_is_refused():
    with pytest.raises(InvalidRequest, match="no rows"):
        read(b"serial\r\n")
    with pytest.raises(InvalidRequest, match="empty"):
        read(b"")


def test_a_headerless_list_of_serials_is_checked_from_its_first_line():
    upload, rows = read(b"CAT0336DLTJF00123\r\nKMT PC300 C55A17044\r\n\r\nHLV5918681\r\n")
    assert upload.columns == [HEADERLESS_COLUMN]
    assert [(r["number"], r["query"]["identifier"]) for r in rows] == [
        (1, "CAT0336DLTJF00123"), (2, "KMT PC300 C55A17044"), (4, "HLV5918681")]
    assert rows[0]["cells"] == {HEADERLESS_COLUMN: "CAT0336DLTJF00123"}


@pytest.mark.parametrize("reading", ["1,23457E+11", "1.23457E+11", "1E+11", "6,02214E+23"])
def test_a_serial_a_spreadsheet_turned_into_a_number_is_reported_on_its_row(reading):
    # A comma-decimal spreadsheet writes ';' between cells, a one-column list nothing at all.
    for data in (f"serial;note\r\n{reading};x\r\nSN0001;y\r\n".encode(), f"SN0001\r\n{reading}\r\n".encode()):
        rows = read(data)[1]
        damaged = next(r for r in rows if r["cells"].get("serial", r["cells"].get(HEADERLESS_COLUMN)) == reading)
        assert damaged["query"] is None and "Text" in damaged["error"] and reading in damaged["error"]
        assert any(r["query"] == {"identifier": "SN0001"} for r in rows)
    assert read(b"serial\r\n12E345\r\n")[1][0]["query"] == {"identifier": "12E345"}  # a serial, not a number


def test_no_identifier_column_is_refused_listing_the_names_understood():
    for data in (csv_text(["Lot", "Model", "Colour"], [["1", "PC300", "yellow"]]).encode(),
                 csv_text(["Номер"], [["CAT0336DLTJF00123"]]).encode(),  # one column, but a word for a header
                 b'{"lot": 1, "model": "PC300"}\n'):
        with pytest.raises(UnrecognizedColumns) as raised:
            read(data)
        assert raised.value.extra["recognized_headers"] == {k: list(v) for k, v in HEADER_ALIASES.items()}
        assert "заводской номер" in raised.value.detail and "serial" in raised.value.detail


def test_an_xlsx_workbook_reads_like_its_csv_export():
    data = workbook([
        ["Lot", "Заводской номер", "Марка", "Category", "Bought", "Weight"],
        [1, "КМТ РС300 С55А17О44", "Komatsu", "Drill rig", dt.date(2024, 5, 1), 31.5],
        [],
        [3, 123456789012, "Caterpillar", None, None, None],  # a serial kept as a number, all 12 digits
        [4, 1234567890123456789, "Volvo", None, None, None],  # Excel keeps 15 digits of it
        [5, "=HYPERLINK(\"http://x\")", None, None, None, None],
    ], sheets_before=1)
    for content_type, name in ((XLSX_CONTENT_TYPE, None), ("application/octet-stream", "stock.xlsx"), (None, None)):
        upload, rows = read(data, content_type, name)
        assert upload.file_format == "xlsx" and upload.columns[:3] == ["Lot", "Заводской номер", "Марка"]
        assert [r["number"] for r in rows] == [2, 4, 5, 6]
        assert rows[0]["query"] == {"identifier": "КМТ РС300 С55А17О44", "manufacturer": "Komatsu",
                                    "category": "drill_rig"}
        assert rows[0]["cells"]["Bought"] == "2024-05-01" and rows[0]["cells"]["Weight"] == "31.5"
        assert rows[1]["query"]["identifier"] == "123456789012"
        assert rows[2]["query"] is None and "E+18" in rows[2]["error"]
        assert rows[3]["cells"]["Заводской номер"] == "=HYPERLINK(\"http://x\")"  # text, never run


@pytest.mark.parametrize(("data", "named"), [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "a PNG picture"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + bytes(range(256)) * 8, "a PDF"),
    (bytes((n * 7919) % 256 for n in range(4096)), "random bytes"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512), ".xls"),
])
def test_a_file_that_is_no_table_is_unsupported(data, named):
    with pytest.raises(UnsupportedFileType) as raised:
        read(data, "text/csv", "stock.csv")
    if named == ".xls":
        assert ".xlsx or CSV" in raised.value.detail


def zipped(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return out.getvalue()


def test_zip_files_that_are_not_xlsx_are_unsupported_and_a_zip_bomb_is_not_unpacked():
    ods = zipped({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"})
    with pytest.raises(UnsupportedFileType, match=r"\.ods"):
        read(ods)
    with pytest.raises(UnsupportedFileType, match="zip archive"):
        read(zipped({"readme.txt": b"hello"}))
    with pytest.raises(UnsupportedFileType, match="damaged"):
        read(workbook([["serial"], ["SN1"]])[:300])
    bomb = workbook([["serial"], *[[f"SN{n:06d}" + " " * 200] for n in range(2000)]])
    with pytest.raises(PayloadTooLarge) as raised:
        read(bomb, limits=Limits(max_unpacked_bytes=len(bomb)))
    assert raised.value.extra["unit"] == "bytes unpacked"


def test_lines_over_the_limit_are_refused_without_being_held(tmp_path):
    header_and_line = csv_text(["serial", "note"], [["SN1", "z" * (MAX_LINE_CHARS + 1)]]).encode()
    with pytest.raises(PayloadTooLarge) as raised:
        read(header_and_line)
    assert raised.value.extra == {"limit": MAX_LINE_CHARS, "unit": "characters per line", "line": 2}
    quoted = ('serial,note\r\nSN1,"' + "multi\nline " * (MAX_LINE_CHARS // 5) + '"\r\n').encode()
    with pytest.raises(PayloadTooLarge):  # one record over many short lines
        read(quoted)
    one_line = tmp_path / "one-line.csv"
    with one_line.open("wb") as out:  # a single 50 MB line, read from disk as the API spools it
        out.write(b"serial,")
        for _ in range(50):
            out.write(b"A" * 1024 * 1024)
    tracemalloc.start()
    try:
        with one_line.open("rb") as file, pytest.raises(PayloadTooLarge):
            read_upload(file, detect_format(file, one_line.name), ROWS_LIMIT)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 1024 * 1024, f"reading a 50 MB line took {peak} bytes"


def test_a_wide_file_is_refused_and_a_long_one_read_with_bounded_memory(tmp_path):
    with pytest.raises(PayloadTooLarge) as raised:
        read(("serial" + "," * 10_000 + "x\r\nSN1\r\n").encode())
    assert raised.value.extra == {"limit": Limits().max_columns, "unit": "columns"}
    assert read(("serial" + "," * 10_000 + "\r\nSN1" + "," * 10_000 + "\r\n").encode())[1][0]["cells"] == {
        "serial": "SN1"}  # trailing empty columns, as spreadsheets export them, are no columns
    many = tmp_path / "inventory.csv"
    with many.open("w", encoding="utf-8") as out:
        out.write("serial,make,note\n")
        for n in range(100_000):
            out.write(f"SN{n:08d},Komatsu,yard {n % 7}\n")
    tracemalloc.start()
    try:
        with many.open("rb") as file:
            upload = read_upload(file, "csv", 1_000_000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(upload.rows) == 100_000 and next(iter(upload.rows))["query"]["identifier"] == "SN00000000"
    upload.close()
    assert peak < 16 * 1024 * 1024, f"reading 100,000 rows took {peak} bytes"


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])  # what the issue and README promise
def test_cells_a_spreadsheet_would_run_are_neutralized(trigger):
    assert spreadsheet_safe(f"{trigger}HYPERLINK(\"http://x\")") == f"'{trigger}HYPERLINK(\"http://x\")"
    assert spreadsheet_safe("CAT0336DLTJF00123") == "CAT0336DLTJF00123"
    assert spreadsheet_safe(None) == ""


@pytest.mark.parametrize("cell", ["  =1+1", "\u3000=1+1", "＝1+1", "＋1", "－1", "＠SUM(A1)", " ＝cmd|' /C calc'!A0"])
def test_leading_spaces_and_full_width_signs_are_neutralized_too(cell):
    assert spreadsheet_safe(cell) == "'" + cell
    assert unguarded(spreadsheet_safe(cell)) == cell
    assert unguarded("'quoted") == "'quoted"  # a quote the guard did not add stays


def test_csv_results_neutralize_header_input_and_result_cells_with_bom_and_delimiter():
    result = {"row": 2, "input": {"=serial": "=1+1", "verdict": "@mine"}, "verdict": "no_match", "match": None,
              "matches": 0, "notes": [], "complete": False, "unanswered_sources": ["smv"], "error": None}
    text = "".join(csv_lines([result], ["=serial", "verdict"], ";"))
    assert text.startswith(UTF8_BOM)
    header, line = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert header[:3] == ["'=serial", "input: verdict", "row"]
    assert line[:4] == ["'=1+1", "'@mine", "2", "no_match"]
    row = dict(zip(header, line))
    assert (row["complete"], row["unanswered_sources"]) == ("no", "smv")


def test_xlsx_results_hold_text_that_is_never_run(tmp_path):
    match = {"score": 0.97, "match_type": "confusable", "external_ref": "KZ-1", "status": "recovered",
             "active": False, "reporting_agency": {"name": "Police", "contact": "+7 700"}}
    results = [{"row": 2, "input": {"serial": "=1+1", "note": "001234"}, "verdict": "no_match", "match": match,
                "matches": 1, "notes": [], "complete": True, "unanswered_sources": [], "error": None}]
    path = tmp_path / "results.xlsx"
    write_xlsx(results, ["serial", "note"], str(path))
    sheet = openpyxl.load_workbook(path).active
    header, row = [[cell.value for cell in r] for r in sheet.iter_rows()]
    values = dict(zip(header, row))
    assert values["serial"] == "=1+1" and sheet["A2"].data_type == "s"  # a string, not a formula
    assert values["note"] == "001234"  # leading zeros kept: text, not a number
    assert (values["row"], values["score"]) == (2, 0.97)
    assert (values["matched_status"], values["matched_active"], values["complete"]) == ("recovered", "no", "yes")
    assert sheet.freeze_panes == "A2"
