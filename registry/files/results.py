"""Bulk-check results as files: CSV and NDJSON streamed, and Excel workbooks.

CSV is written to open correctly by double-click in Excel whatever its
locale: UTF-8 with a BOM (without one Excel reads Windows-1251 in a Russian
locale) and the delimiter the upload used (a Russian-locale Excel splits
columns on ``;``), every cell spreadsheet-safe.  A workbook holds every cell
as text, so nothing in it is ever run or turned into a number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import IO, Any

from registry.files.cells import spreadsheet_safe

# Result columns written after the uploaded ones, in this order.
RESULT_COLUMNS = (
    "row", "verdict", "score", "match_type", "tier", "matched_identifier", "matched_report_id",
    "matched_external_ref", "matched_status", "matched_active", "reporting_agency", "agency_contact", "explanation",
    "similar_serials", "notes", "complete", "unanswered_sources", "error",
)
UTF8_BOM = "\ufeff"
LIST_SEPARATOR = "; "
SHEET_NAME = "results"
XLSX_MAX_ROWS = 1_048_575  # rows a worksheet holds below its header
XLSX_OPTIONS = {
    "constant_memory": True,  # rows go to disk as they are written: a million rows use no more memory than ten
    "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
}


def result_columns(input_columns: list[str]) -> list[str]:
    """Uploaded columns first, then the result; an uploaded column named like a result one is renamed."""
    return [f"input: {c}" if c in RESULT_COLUMNS else c for c in input_columns] + list(RESULT_COLUMNS)


def result_cells(result: dict[str, Any], input_columns: list[str]) -> list[Any]:
    """One result as a row of ``result_columns``, values as they are (``None`` for nothing)."""
    match = result.get("match") or {}
    agency = match.get("reporting_agency") or {}
    identifier = match.get("identifier") or {}
    checked = result.get("verdict") is not None
    return [result["input"].get(c) for c in input_columns] + [
        result["row"], result.get("verdict"), match.get("score"), match.get("match_type"), match.get("tier"),
        identifier.get("value"), match.get("report_id"), match.get("external_ref"), match.get("status"),
        _yes_no(match.get("active")), agency.get("name"), agency.get("contact"), match.get("explanation"),
        result.get("similar_serials"), LIST_SEPARATOR.join(result.get("notes") or ()) or None,
        _yes_no(result.get("complete")) if checked else None,
        LIST_SEPARATOR.join(result.get("unanswered_sources") or ()) or None, result.get("error"),
    ]


def _yes_no(flag: bool | None) -> str | None:
    return None if flag is None else ("yes" if flag else "no")


def csv_lines(results: Iterable[dict[str, Any]], input_columns: list[str], delimiter: str = ",") -> Iterator[str]:
    """Results as CSV, one line at a time, header first (for streaming), BOM in front."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)

    def line(cells: list[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
        return buffer.getvalue()

    yield UTF8_BOM + line(result_columns(input_columns))
    for result in results:
        yield line(result_cells(result, input_columns))


def ndjson_lines(results: Iterable[dict[str, Any]]) -> Iterator[str]:
    for result in results:
        yield json.dumps(result, ensure_ascii=False) + "\n"


def write_xlsx(results: Iterable[dict[str, Any]], input_columns: list[str], out: str | IO[bytes]) -> None:
    """Results as an .xlsx workbook (to a path or a binary file): a header row that stays in
    view and filters, the row number and score numbers, every other cell text.  At most
    ``XLSX_MAX_ROWS`` rows: the caller offers CSV for more."""
    import xlsxwriter  # imported when a workbook is asked for: most results are CSV

    workbook = xlsxwriter.Workbook(out, XLSX_OPTIONS)
    sheet = workbook.add_worksheet(SHEET_NAME)
    header = result_columns(input_columns)
    sheet.write_row(0, 0, header, workbook.add_format({"bold": True}))
    sheet.freeze_panes(1, 0)
    written = 0
    for written, result in enumerate(results, start=1):
        for column, value in enumerate(result_cells(result, input_columns)):
            if isinstance(value, int | float):
                sheet.write_number(written, column, value)
            elif value is not None:
                sheet.write_string(written, column, str(value))
    sheet.autofilter(0, 0, written, len(header) - 1)
    workbook.close()
