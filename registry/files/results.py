"""Bulk-check results as files: CSV (safe to open in a spreadsheet) and NDJSON, streamed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

# Result columns written after the uploaded ones, in this order.
RESULT_COLUMNS = (
    "row", "verdict", "score", "match_type", "tier", "matched_identifier", "matched_report_id",
    "matched_external_ref", "matched_status", "reporting_agency", "agency_contact", "explanation",
    "similar_serials", "error",
)
# A cell starting with one of these is a formula to a spreadsheet; the quote makes it text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


def spreadsheet_safe(cell: Any) -> str:
    """A cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if cell is None else str(cell)
    return FORMULA_GUARD + text if text.startswith(FORMULA_TRIGGERS) else text


def result_columns(input_columns: list[str]) -> list[str]:
    """Uploaded columns first, then the result; an uploaded column named like a result one is renamed."""
    return [f"input: {c}" if c in RESULT_COLUMNS else c for c in input_columns] + list(RESULT_COLUMNS)


def csv_cells(result: dict[str, Any], input_columns: list[str]) -> list[str]:
    """One result as a CSV row in ``result_columns`` order, every cell spreadsheet-safe."""
    match = result.get("match") or {}
    agency = match.get("reporting_agency") or {}
    identifier = match.get("identifier") or {}
    values = [result["input"].get(c) for c in input_columns] + [
        result["row"], result.get("verdict"), match.get("score"), match.get("match_type"), match.get("tier"),
        identifier.get("value"), match.get("report_id"), match.get("external_ref"), match.get("status"),
        agency.get("name"), agency.get("contact"), match.get("explanation"), result.get("similar_serials"),
        result.get("error"),
    ]
    return [spreadsheet_safe(v) for v in values]


def csv_lines(results: Iterable[dict[str, Any]], input_columns: list[str]) -> Iterator[str]:
    """Results as CSV, one line at a time, header first (for streaming)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: list[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(cells)
        return buffer.getvalue()

    yield line(result_columns(input_columns))
    for result in results:
        yield line(csv_cells(result, input_columns))


def ndjson_lines(results: Iterable[dict[str, Any]]) -> Iterator[str]:
    for result in results:
        yield json.dumps(result, ensure_ascii=False) + "\n"
