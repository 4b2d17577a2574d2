"""Reading bulk-check uploads as real systems export them, and writing spreadsheet-safe results."""

from __future__ import annotations

import codecs
import csv
import io
import json

import pytest

from registry.errors import InvalidRequest, PayloadTooLarge
from registry.files.results import csv_lines, spreadsheet_safe
from registry.files.uploads import decode, detect_upload_format, read_upload

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
    data = ENCODINGS[encoding](manifest(";"))
    upload = read_upload(data, detect_upload_format("text/csv", None, data), ROWS_LIMIT)
    assert upload.columns == ["№ п/п", "Заводской номер", "Марка", "Примечание"]
    assert [r["query"] for r in upload.rows] == [
        {"identifier": "КМТ РС300 С55А17О44", "manufacturer": "Komatsu"},
        {"identifier": "CAT0336DLTJF00123", "manufacturer": "Caterpillar"},
    ]
    assert upload.rows[0]["cells"]["Примечание"] == "экскаватор, жёлтый"
    assert [r["number"] for r in upload.rows] == [2, 3]


def test_windows_1251_is_not_mistaken_for_utf8():
    assert decode("Заводской номер".encode("cp1251")) == "Заводской номер"
    assert decode("naïve".encode()) == "naïve"


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_delimiters_are_sniffed(delimiter):
    data = manifest(delimiter).encode()
    upload = read_upload(data, "csv", ROWS_LIMIT)
    assert len(upload.columns) == 4
    assert upload.rows[1]["query"]["identifier"] == "CAT0336DLTJF00123"
    assert upload.rows[0]["cells"]["Примечание"] == "экскаватор, жёлтый"  # a comma inside quotes stays


@pytest.mark.parametrize("header", IDENTIFIER_HEADERS)
@pytest.mark.parametrize("maker_header", MANUFACTURER_HEADERS)
def test_header_aliases_in_english_and_russian_any_case(header, maker_header):
    data = csv_text(["Lot", header, maker_header], [["17", "HLV5918681", "Hitachi"]]).encode()
    row = read_upload(data, "csv", ROWS_LIMIT).rows[0]
    assert row["query"] == {"identifier": "HLV5918681", "manufacturer": "Hitachi"}
    assert row["cells"] == {"Lot": "17", header: "HLV5918681", maker_header: "Hitachi"}
    assert row["error"] is None


def test_category_is_used_when_it_is_one_of_the_registry_s_and_kept_as_input_otherwise():
    data = csv_text(["VIN", "Category", "Description"], [["XTC652005L1234567", "Haul truck", "orange dump truck"],
                                                         ["XTC652005L1234568", "Самосвал", ""]]).encode()
    first, second = read_upload(data, "csv", ROWS_LIMIT).rows
    assert first["query"] == {"identifier": "XTC652005L1234567", "category": "haul_truck",
                              "description": "orange dump truck"}
    assert second["query"] == {"identifier": "XTC652005L1234568"}
    assert second["cells"]["Category"] == "Самосвал"


def test_model_and_reading_source_columns_are_read_and_a_bad_source_is_the_row_s_error():
    data = csv_text(["S/N", "Модель", "Reading Source"], [["HLV5918681", "HiLight V5+", "OCR"],
                                                          ["HLV5918682", "", ""], ["HLV5918683", "", "guess"]]).encode()
    ocr, plain, bad = read_upload(data, "csv", ROWS_LIMIT).rows
    assert ocr["query"] == {"identifier": "HLV5918681", "model": "HiLight V5+", "reading_source": "ocr"}
    assert plain["query"] == {"identifier": "HLV5918682"}  # the bulk check reads it as copied
    assert bad["query"] is None and "reading_source" in bad["error"]


def test_a_bad_row_in_the_middle_gets_its_own_error_and_the_rest_are_read():
    data = csv_text(["serial", "note"], [["SN0001", "a"], ["", "no serial"], ["---", "no letters"],
                                         ["SN0004", "d"]]).encode()
    rows = read_upload(data, "csv", ROWS_LIMIT).rows
    assert [r["number"] for r in rows] == [2, 3, 4, 5]
    assert [r["query"] is None for r in rows] == [False, True, True, False]
    assert "no identifier" in rows[1]["error"]
    assert "letters or digits" in rows[2]["error"]
    assert rows[3]["query"] == {"identifier": "SN0004"}


def test_ndjson_and_json_rows_use_the_same_aliases():
    lines = [{"S/N": "SN1", "make": "Volvo", "lot": 4}, "not an object", {"Заводской номер": "SN3"}]
    ndjson = ("\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{broken\n").encode()
    upload = read_upload(ndjson, detect_upload_format(None, "manifest.ndjson", ndjson), ROWS_LIMIT)
    assert [r["query"] for r in upload.rows] == [{"identifier": "SN1", "manufacturer": "Volvo"}, None,
                                                 {"identifier": "SN3"}, None]
    assert upload.rows[0]["cells"]["lot"] == "4"
    assert "not an object" in upload.rows[1]["error"] and "not valid JSON" in upload.rows[3]["error"]
    assert upload.columns == ["S/N", "make", "lot", "Заводской номер"]

    array = json.dumps(lines[:1] + lines[2:], ensure_ascii=False).encode("utf-16")
    assert detect_upload_format(None, None, array) == "json"
    assert [r["query"]["identifier"] for r in read_upload(array, "json", ROWS_LIMIT).rows] == ["SN1", "SN3"]


def test_row_limit_gives_payload_too_large_naming_it():
    data = csv_text(["serial"], [[f"SN{n}"] for n in range(ROWS_LIMIT + 1)]).encode()
    with pytest.raises(PayloadTooLarge) as raised:
        read_upload(data, "csv", ROWS_LIMIT)
    assert raised.value.extra == {"limit": ROWS_LIMIT, "unit": "rows"}
    assert len(read_upload(data, "csv", ROWS_LIMIT + 1).rows) == ROWS_LIMIT + 1


def test_a_file_without_rows_or_with_a_broken_json_array_is_refused():
    with pytest.raises(InvalidRequest):
        read_upload(b"serial\r\n", "csv", ROWS_LIMIT)
    with pytest.raises(InvalidRequest):
        read_upload(b'[{"serial": "SN1"}', "json", ROWS_LIMIT)


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])  # what the issue and README promise
def test_cells_a_spreadsheet_would_run_are_neutralized(trigger):
    assert spreadsheet_safe(f"{trigger}HYPERLINK(\"http://x\")") == f"'{trigger}HYPERLINK(\"http://x\")"
    assert spreadsheet_safe("CAT0336DLTJF00123") == "CAT0336DLTJF00123"
    assert spreadsheet_safe(None) == ""


def test_csv_results_neutralize_input_and_result_cells_and_keep_column_order():
    result = {"row": 2, "input": {"serial": "=1+1", "verdict": "@mine"}, "verdict": "no_match", "match": None,
              "matches": 0, "error": None}
    header, line = list(csv.reader(io.StringIO("".join(csv_lines([result], ["serial", "verdict"])))))
    assert header[:3] == ["serial", "input: verdict", "row"]
    assert line[:4] == ["'=1+1", "'@mine", "2", "no_match"]
