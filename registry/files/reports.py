"""Reading and writing files of reports: NDJSON, a JSON array, or CSV.

NDJSON is the lossless format (one report per line, exactly as the API
serves it).  CSV is for spreadsheets: nested fields become dotted columns
(``incident.country``) and identifiers one column per type (``pin``,
``vin``, ...), several values separated by `` | ``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from registry.errors import InvalidRequest
from registry.vocabulary import IDENTIFIER_TYPES

FORMATS = ("ndjson", "json", "csv")
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
SUFFIX_FORMATS = {".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json", ".csv": "csv"}

Row = tuple[int, Any]  # (1-based row or line number, parsed data)


def detect_format(path: Path, head: bytes) -> str:
    """By file name, else by the first character: ``[`` array, ``{`` NDJSON, else CSV."""
    if path.suffix.lower() in SUFFIX_FORMATS:
        return SUFFIX_FORMATS[path.suffix.lower()]
    return format_of_first_character(head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1].decode("latin-1"))


def format_of_first_character(first: str) -> str:
    """``[`` opens a JSON array, ``{`` an NDJSON line; anything else is taken for CSV."""
    return {"[": "json", "{": "ndjson"}.get(first, "csv")


def read_reports(stream: IO[bytes], file_format: str) -> Iterator[Row]:
    """Rows of report data; a row that cannot even be parsed is yielded as an ``InvalidRequest``."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    try:
        for number, data in parse_rows(text, file_format):
            if file_format == "csv" and isinstance(data, dict):
                data = _unflattened(data)
            yield number, data
    finally:
        text.detach()  # the caller owns the stream (and reads its position for progress)


def parse_rows(text: IO[str], file_format: str, delimiter: str = ",") -> Iterator[Row]:
    """Rows as parsed, before any meaning is given to them: JSON values, or CSV rows as
    ``{column: cell}``.  A line that cannot be parsed is yielded as an ``InvalidRequest``."""
    if file_format == "ndjson":
        yield from _ndjson_rows(text)
    elif file_format == "json":
        yield from _json_rows(text)
    elif file_format == "csv":
        yield from enumerate(csv.DictReader(text, delimiter=delimiter), start=2)
    else:
        raise InvalidRequest(f"Unknown format {file_format!r}; use one of {', '.join(FORMATS)}.")


def _ndjson_rows(text: IO[str]) -> Iterator[Row]:
    for number, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidRequest(f"Line is not valid JSON: {exc.msg} at column {exc.colno}.")


def _unflattened(row: dict[str, str | None]) -> Any:
    try:
        return unflatten(row)
    except ValueError as exc:  # an unreadable ``identifiers`` cell spoils its row only
        return InvalidRequest(f"The identifiers column is not a JSON list: {exc}.")


def _json_rows(text: IO[str]) -> Iterator[Row]:
    try:
        data = json.load(text)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(f"File is not valid JSON: {exc.msg} at line {exc.lineno}.") from exc
    if not isinstance(data, list):
        raise InvalidRequest("A JSON file of reports must hold an array.")
    yield from enumerate(data, start=1)


def unflatten(row: dict[str, str | None]) -> dict[str, Any]:
    """A CSV row as a report: dotted columns nest, identifier columns become the list."""
    report: dict[str, Any] = {}
    identifiers = []
    for column, cell in row.items():
        if column is None or cell is None or not cell.strip():
            continue
        name, value = column.strip().lower(), cell.strip()
        if name in IDENTIFIER_TYPES:
            identifiers += [{"type": name, "value": v.strip()} for v in value.split("|") if v.strip()]
        elif name == "identifiers":
            identifiers += json.loads(value)
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
        writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for report in reports:
            writer.writerow(flatten(report))
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
