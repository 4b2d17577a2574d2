"""Reading and writing files of reports: NDJSON, a JSON array, or CSV (and, to read, an Excel
workbook laid out like the CSV, through ``registry.files.tables``).

NDJSON is the lossless format (one report per line, exactly as the API
serves it).  CSV is for spreadsheets: nested fields become dotted columns
(``incident.country``) and identifiers one column per type (``pin``,
``vin``, ...), several values separated by `` | ``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from registry.errors import InvalidRequest
from registry.files.cells import spreadsheet_safe, unguarded
from registry.files.tables import Limits, read_table
from registry.vocabulary import IDENTIFIER_TYPES

FORMATS = ("ndjson", "json", "csv")  # what an export writes; an import also reads workbooks
MULTI_VALUE_SEPARATOR = " | "
CSV_COLUMNS = (
    "external_ref", "status", "category", "manufacturer", "model", "year", "color",
    *IDENTIFIER_TYPES,
    "description", "distinguishing_marks",
    "incident.date", "incident.country", "incident.region", "incident.place", "incident.circumstances",
    "value.amount", "value.currency",
    "reporting_agency.name", "reporting_agency.country", "reporting_agency.contact", "source",
    "id", "version", "created_at", "updated_at",
)
IMPORT_LIMITS = Limits()

Row = tuple[int, Any]  # (1-based row or line number, parsed data)


def read_reports(file: IO[bytes], file_format: str) -> Iterator[Row]:
    """Rows of report data from a seekable file, in any format bulk checks read; a row that
    cannot even be parsed is yielded as an ``InvalidRequest``, a file-level problem raised."""
    table = read_table(file, file_format, IMPORT_LIMITS)
    if table.header is None:
        yield from table.rows
        return
    for number, cells in table.rows:
        if isinstance(cells, InvalidRequest):
            yield number, cells
        else:
            yield number, _unflattened(dict(zip(table.header, cells)))


def _unflattened(row: dict[str, str]) -> Any:
    try:
        return unflatten(row)
    except (ValueError, RecursionError) as exc:  # an unreadable ``identifiers`` cell spoils its row only
        return InvalidRequest(f"The identifiers column is not a JSON list: {exc or 'nested too deeply'}.")


def unflatten(row: dict[str, str]) -> dict[str, Any]:
    """A CSV row as a report: dotted columns nest, identifier columns become the list; a cell
    an export guarded against spreadsheets (``'=...``) reads as it was."""
    report: dict[str, Any] = {}
    identifiers = []
    for column, cell in row.items():
        if not column or not cell.strip():
            continue
        name, value = column.strip().lower(), unguarded(cell.strip())
        if name in IDENTIFIER_TYPES:
            identifiers += [{"type": name, "value": v.strip()} for v in value.split("|") if v.strip()]
        elif name == "identifiers":
            listed = json.loads(value)
            if not isinstance(listed, list):
                raise ValueError("not a list")
            identifiers += listed
        elif "." in name:
            outer, inner = name.split(".", 1)
            report.setdefault(outer, {})[inner] = value
        else:
            report[name] = value
    if identifiers:
        report["identifiers"] = identifiers
    return report


def flatten(report: Mapping[str, Any]) -> dict[str, Any]:
    """A report as one CSV row (identifier locations are not kept: use NDJSON for that)."""
    row: dict[str, Any] = {}
    for key, value in report.items():
        if key == "identifiers":
            for identifier in value:
                column = identifier["type"]
                row[column] = MULTI_VALUE_SEPARATOR.join(filter(None, [row.get(column), identifier["value"]]))
        elif isinstance(value, dict):
            row.update({f"{key}.{inner}": v for inner, v in value.items()})
        else:
            row[key] = value
    return row


def write_reports(reports: Iterable[Mapping[str, Any]], out: IO[str], file_format: str) -> int:
    """Write reports in the given format; returns how many were written."""
    count = 0
    if file_format == "csv":
        writer = csv.writer(out)
        writer.writerow(CSV_COLUMNS)
        for report in reports:
            row = flatten(report)
            writer.writerow([spreadsheet_safe(row.get(column)) for column in CSV_COLUMNS])
            count += 1
    elif file_format == "ndjson":
        for report in reports:
            out.write(json.dumps(report, ensure_ascii=False) + "\n")
            count += 1
    elif file_format == "json":
        out.write("[")
        for report in reports:
            out.write(("," if count else "") + "\n" + json.dumps(report, ensure_ascii=False))
            count += 1
        out.write("\n]\n")
    else:
        raise InvalidRequest(f"Unknown format {file_format!r}; use one of {', '.join(FORMATS)}.")
    return count
