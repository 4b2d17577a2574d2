"""Files uploaded for a bulk check: decoded, sniffed, and read into rows to check.

Dealers, customs posts and auction houses send what their systems export:
CSV from a spreadsheet (UTF-8 with or without BOM, UTF-16, or Windows-1251
from a Russian-language system; comma, semicolon or tab separated), NDJSON
or a JSON array.  Header names are matched loosely against ``HEADER_ALIASES``
(English and Russian); every other column is kept and echoed in the results.
A row that cannot be checked carries its own error and never stops the file.
"""

from __future__ import annotations

import codecs
import io
import json
import re
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from marshmallow import ValidationError

from registry.errors import InvalidRequest, PayloadTooLarge, flatten_messages
from registry.files.reports import FORMATS, SUFFIX_FORMATS, format_of_first_character, parse_rows
from registry.validation import CheckRequestSchema
from registry.vocabulary import CATEGORIES

CONTENT_TYPE_FORMATS = {
    "text/csv": "csv",
    "application/csv": "csv",
    "text/tab-separated-values": "csv",
    "application/vnd.ms-excel": "csv",  # what Windows browsers send for a .csv
    "application/x-ndjson": "ndjson",
    "application/ndjson": "ndjson",
    "application/jsonl": "ndjson",
    "application/json": "json",
}
UPLOAD_SUFFIX_FORMATS = {**SUFFIX_FORMATS, ".tsv": "csv", ".txt": "csv"}
FORMAT_SNIFF_BYTES = 64  # enough of an upload's start to see its first character in any encoding
DELIMITERS = (",", ";", "\t")
# Tried in this order of preference when there is no BOM; cp1251 is what spreadsheets exported
# on Russian-language Windows use.
CANDIDATE_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "cp1251")
FALLBACK_ENCODING = "cp1251"
ENCODING_SNIFF_BYTES = 4096

# Column names meaning each field of a check, compared after ``header_key``.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "identifier": (
        "identifier", "serial", "serial number", "serial no", "serial no.", "serial #", "s/n", "sn", "pin",
        "product identification number", "vin", "vin code", "vin-code", "chassis number", "chassis no",
        "заводской номер", "заводской №", "зав. номер", "зав. №", "зав номер", "серийный номер", "серийный №",
        "vin-код", "vin код", "вин", "идентификатор", "номер шасси",
    ),
    "manufacturer": ("manufacturer", "make", "brand", "maker", "производитель", "изготовитель", "марка"),
    "model": ("model", "модель"),
    "category": ("category", "equipment type", "type", "категория", "тип", "тип техники", "вид техники"),
    "description": ("description", "item", "item description", "описание", "наименование"),
    "reading_source": ("reading source", "read by", "источник номера"),
}
ALIAS_FIELDS = {alias: name for name, aliases in HEADER_ALIASES.items() for alias in aliases}

_request_schema = CheckRequestSchema()


@dataclass(frozen=True)
class Upload:
    """The rows of an uploaded file and its columns, in file order.

    Each row is ``{"number", "cells", "query", "error"}``: its line in the file,
    its cells as uploaded, the check to run (``CheckQuery`` fields) or why
    there is none.  Rows are plain JSON so a job store can keep them as they are.
    """

    file_format: str
    columns: list[str]
    rows: list[dict[str, Any]]


def detect_upload_format(content_type: str | None, filename: str | None, data: bytes) -> str:
    """By content type, else file name, else the first character of ``data``."""
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in CONTENT_TYPE_FORMATS:
        return CONTENT_TYPE_FORMATS[mime]
    suffix = PurePath(filename or "").suffix.lower()
    if suffix in UPLOAD_SUFFIX_FORMATS:
        return UPLOAD_SUFFIX_FORMATS[suffix]
    return format_of_first_character(decode(data[:FORMAT_SNIFF_BYTES]).lstrip()[:1])


def decode(data: bytes) -> str:
    """Text of an upload: by its BOM, else in the encoding whose reading of the start looks most
    like text (UTF-8 first on a tie, then UTF-16 without BOM, then Windows-1251)."""
    for bom, encoding in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                          (codecs.BOM_UTF16_BE, "utf-16-be")):
        if data.startswith(bom):
            return data[len(bom):].decode(encoding, errors="replace")
    head = data[:ENCODING_SNIFF_BYTES]
    ranked = sorted(CANDIDATE_ENCODINGS, key=lambda e: -_plausible_share(head.decode(e, errors="replace")))
    for encoding in ranked:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return data.decode(FALLBACK_ENCODING, errors="replace")


def _plausible_share(text: str) -> float:
    """Share of characters an inventory is made of: printable Latin, Greek, Cyrillic, punctuation.

    Wrong guesses give control characters (UTF-16 read as UTF-8), CJK
    (UTF-8 read as UTF-16) or replacement characters.
    """
    if not text:
        return 1.0
    plausible = sum((c.isprintable() or c in "\t\r\n") and (c < "\u0530" or "\u2000" <= c < "\u2200") for c in text)
    return plausible / len(text)


def sniff_delimiter(text: str) -> str:
    """The one of comma, semicolon and tab found most often in the header line, outside quotes."""
    header = re.sub(r'"[^"]*"', "", text.split("\n", 1)[0])
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


def header_key(name: str) -> str:
    """Header names compare case-insensitively, with ``_`` as a space and runs of spaces as one."""
    return " ".join(name.replace("_", " ").casefold().split())


def read_upload(data: bytes, file_format: str, max_rows: int) -> Upload:
    """Every row of an upload; ``PayloadTooLarge`` past ``max_rows``, ``InvalidRequest`` if unreadable."""
    if file_format not in FORMATS:
        raise InvalidRequest(f"Unknown format {file_format!r}; use one of {', '.join(FORMATS)}.")
    text = decode(data)
    delimiter = sniff_delimiter(text) if file_format == "csv" else ","
    stream = io.StringIO(text, newline="")
    columns: dict[str, None] = {}  # every column seen, in the order first seen
    rows: list[dict[str, Any]] = []
    for number, parsed in parse_rows(stream, file_format, delimiter):
        if len(rows) == max_rows:
            raise PayloadTooLarge(f"The file has more than {max_rows} rows.", limit=max_rows, unit="rows")
        cells = _cells(parsed)
        columns.update(dict.fromkeys(cells))
        rows.append(_row(number, parsed, cells))
    if not rows:
        raise InvalidRequest("The file has no rows to check.")
    return Upload(file_format, list(columns), rows)


def _cells(parsed: Any) -> dict[str, str]:
    """A row's cells as text; a JSON value that is not an object has none."""
    if not isinstance(parsed, dict):
        return {}
    return {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
            for k, v in parsed.items() if k and v is not None}


def _row(number: int, parsed: Any, cells: dict[str, str]) -> dict[str, Any]:
    if isinstance(parsed, InvalidRequest):
        return {"number": number, "cells": cells, "query": None, "error": parsed.detail}
    if not isinstance(parsed, dict):
        return {"number": number, "cells": cells, "query": None, "error": "The row is not an object."}
    query, error = check_query(cells)
    return {"number": number, "cells": cells, "query": query, "error": error}


def check_query(cells: dict[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """The check a row asks for, validated as a single check is, or why it cannot be checked.

    The first non-empty column of each field wins; a category outside the
    registry's list is ignored rather than held against the row; a reading
    source is compared in lower case.
    """
    fields: dict[str, str] = {}
    for column, cell in cells.items():
        name = ALIAS_FIELDS.get(header_key(column))
        if name and name not in fields and cell.strip():
            fields[name] = cell.strip()
    category = fields.pop("category", "").casefold().replace(" ", "_")
    if category in CATEGORIES:
        fields["category"] = category
    if not fields.get("identifier"):
        return None, "The row has no identifier (serial, PIN, VIN or a column named like one)."
    if "reading_source" in fields:
        fields["reading_source"] = fields["reading_source"].casefold()
    try:
        return _request_schema.load(fields), None
    except ValidationError as exc:
        return None, "; ".join(f"{e['field']}: {e['message']}" for e in flatten_messages(exc.messages))
