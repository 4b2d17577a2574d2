"""Files uploaded for a bulk check: read (``registry.files.tables``) into rows to check.

Dealers, customs posts and auction houses send what their systems export:
CSV, NDJSON, a JSON array or an Excel workbook.  Header names are matched
loosely against ``HEADER_ALIASES`` (English and Russian); every other column
is kept and echoed in the results.  A headerless list of serials, one per
line, is read as such.  A row that cannot be checked carries its own error
and never stops the file; a file with no column naming an identifier is
refused at once, listing the names that would have been understood.

Rows are kept in a temporary file as they are read (in memory up to a few
megabytes, on disk past that), so an upload of any size or shape is read
with bounded memory and handed on as a stream.
"""

from __future__ import annotations

import hashlib
import json
import pickle
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from marshmallow import ValidationError

from registry.errors import InvalidRequest, PayloadTooLarge, UnrecognizedColumns, flatten_messages
from registry.files.tables import EXCEL_NUMBER, Limits, Table, read_table
from registry.validation import CheckRequestSchema
from registry.vocabulary import canonical_category

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
HEADERLESS_COLUMN = "identifier"  # the column name a headerless list of serials is given
SPOOL_MEMORY_BYTES = 4 * 1024 * 1024  # rows kept in memory up to this size, on disk past it
HASH_CHUNK_BYTES = 1024 * 1024

_request_schema = CheckRequestSchema()


class UploadRows:
    """The rows of an upload, in file order, kept in a temporary file of this process (pickled:
    the fastest round trip, and nothing but this class ever reads it).

    Each row is ``{"number", "cells", "query", "error"}``: its row in the file,
    its non-empty cells as uploaded, the check to run (``CheckQuery`` fields)
    or why there is none.  Rows are plain JSON values so a job store can keep
    them as they are.
    """

    def __init__(self) -> None:
        self._file = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)  # noqa: SIM115 - see close()
        self._count = 0

    def append(self, row: dict[str, Any]) -> None:
        pickle.dump(row, self._file, pickle.HIGHEST_PROTOCOL)
        self._count += 1

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._file.seek(0)
        for _ in range(self._count):
            yield pickle.load(self._file)

    def close(self) -> None:
        self._file.close()


@dataclass(frozen=True)
class Upload:
    """An uploaded file read into rows: its format, the delimiter of a CSV (results are written
    with the same one), its columns in file order, its rows and the file's SHA-256."""

    file_format: str
    delimiter: str
    columns: list[str]
    rows: UploadRows
    sha256: str

    def close(self) -> None:
        self.rows.close()


def read_upload(file: IO[bytes], file_format: str, max_rows: int, limits: Limits | None = None) -> Upload:
    """Every row of a seekable upload.  ``PayloadTooLarge`` past ``max_rows`` or the table
    ``limits``; ``UnrecognizedColumns`` (422) without an identifier column; ``InvalidRequest``
    if unreadable."""
    limits = limits or Limits()
    sha256 = _sha256(file)
    table = read_table(file, file_format, limits)
    rows = UploadRows()
    try:
        if table.header is None:
            columns = _read_objects(table, rows, max_rows, limits.max_columns)
        else:
            columns = _read_cells(table, rows, max_rows)
        if not rows:
            raise InvalidRequest("The file has no rows to check.")
    except BaseException:
        rows.close()
        raise
    return Upload(table.file_format, table.delimiter, columns, rows, sha256)


def _read_cells(table: Table, rows: UploadRows, max_rows: int) -> list[str]:
    """Rows of a CSV file or a worksheet: by the header's names, or a headerless list of serials."""
    assert table.header is not None
    columns = list(dict.fromkeys(name for name in table.header if name.strip()))
    if not any(ALIAS_FIELDS.get(header_key(name)) == "identifier" for name in columns):
        if not _is_a_serial_list(columns):
            raise _no_identifier_column(columns)
        columns = [HEADERLESS_COLUMN]
        rows.append(_row(table.header_row, {HEADERLESS_COLUMN: table.header[0].strip()}))
    names = table.header if columns != [HEADERLESS_COLUMN] else columns
    for number, cells in table.rows:
        _within_rows(rows, max_rows)
        if isinstance(cells, InvalidRequest):
            rows.append({"number": number, "cells": {}, "query": None, "error": cells.detail})
            continue
        rows.append(_row(number, {name: cell for name, cell in zip(names, cells) if name and cell.strip()}))
    return columns


def _is_a_serial_list(header: list[str]) -> bool:
    """A first row of one cell with a digit in it is a serial, not a column name."""
    return len(header) == 1 and any(c.isdigit() for c in header[0])


def _no_identifier_column(columns: list[str]) -> UnrecognizedColumns:
    found = ", ".join(repr(c) for c in columns) or "none"
    return UnrecognizedColumns(
        f"No column names an identifier (columns found: {found}). Name the column of serial numbers "
        f"like one of: {', '.join(HEADER_ALIASES['identifier'])}; or send one serial per line, "
        f"without a header.",
        {name: list(aliases) for name, aliases in HEADER_ALIASES.items()},
    )


def _read_objects(table: Table, rows: UploadRows, max_rows: int, max_columns: int) -> list[str]:
    """Rows of NDJSON or a JSON array: each object's members are its columns."""
    columns: dict[str, None] = {}  # every column seen, in the order first seen
    objects = 0
    for number, parsed in table.rows:
        _within_rows(rows, max_rows)
        cells = _cells(parsed)
        objects += isinstance(parsed, dict)
        columns.update(dict.fromkeys(cells))
        if len(columns) > max_columns:
            raise PayloadTooLarge(f"The file's objects have more than {max_columns} different members.",
                                  limit=max_columns, unit="columns")
        if isinstance(parsed, InvalidRequest):
            rows.append({"number": number, "cells": cells, "query": None, "error": parsed.detail})
        elif not isinstance(parsed, dict):
            rows.append({"number": number, "cells": cells, "query": None, "error": "The row is not an object."})
        else:
            rows.append(_row(number, cells))
    if objects and not any(ALIAS_FIELDS.get(header_key(name)) == "identifier" for name in columns):
        raise _no_identifier_column(list(columns))
    return list(columns)


def _within_rows(rows: UploadRows, max_rows: int) -> None:
    if len(rows) >= max_rows:
        raise PayloadTooLarge(f"The file has more than {max_rows} rows.", limit=max_rows, unit="rows")


def _cells(parsed: Any) -> dict[str, str]:
    """A JSON row's non-empty members as text; a value that is not an object has none."""
    if not isinstance(parsed, dict):
        return {}
    cells = {str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
             for k, v in parsed.items() if k and v is not None}
    return {k: v for k, v in cells.items() if v.strip()}


def _row(number: int, cells: dict[str, str]) -> dict[str, Any]:
    query, error = check_query(cells)
    return {"number": number, "cells": cells, "query": query, "error": error}


def header_key(name: str) -> str:
    """Header names compare case-insensitively, with ``_`` as a space and runs of spaces as one."""
    return " ".join(name.replace("_", " ").casefold().split())


def check_query(cells: dict[str, str]) -> tuple[dict[str, str] | None, str | None]:
    """The check a row asks for, validated as a single check is, or why it cannot be checked.

    The first non-empty column of each field wins; a category outside the
    registry's list is ignored rather than held against the row; a reading
    source is compared in lower case.  A serial that a spreadsheet turned
    into a number (``1,23457E+11``) has lost digits: it is reported, never
    checked as if it were the serial.
    """
    fields: dict[str, str] = {}
    for column, cell in cells.items():
        name = ALIAS_FIELDS.get(header_key(column))
        if name and name not in fields and cell.strip():
            fields[name] = cell.strip()
    category = canonical_category(fields.pop("category", ""))
    if category:
        fields["category"] = category
    identifier = fields.get("identifier")
    if not identifier:
        return None, "The row has no identifier (serial, PIN, VIN or a column named like one)."
    if EXCEL_NUMBER.fullmatch(identifier):
        return None, (f"The identifier {identifier} is a number as a spreadsheet shows it, with its last digits "
                      f"lost: format the column as Text, type the serials again and export again.")
    if "reading_source" in fields:
        fields["reading_source"] = fields["reading_source"].casefold()
    try:
        return _request_schema.load(fields), None
    except ValidationError as exc:
        return None, "; ".join(f"{e['field']}: {e['message']}" for e in flatten_messages(exc.messages))


def _sha256(file: IO[bytes]) -> str:
    digest = hashlib.sha256()
    file.seek(0)
    while chunk := file.read(HASH_CHUNK_BYTES):
        digest.update(chunk)
    file.seek(0)
    return digest.hexdigest()
