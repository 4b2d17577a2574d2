"""Tables in files, as dealers, customs posts and agencies have them: the one reader behind
bulk-check uploads (``registry.files.uploads``) and ``irontrace import`` (``registry.files.reports``).

Formats: CSV (UTF-8 with or without BOM, UTF-16, or Windows-1251 from a
Russian-language system; comma, semicolon or tab separated), NDJSON, a JSON
array, and Excel workbooks (.xlsx/.xlsm, the first visible worksheet, read
with openpyxl).  Anything else is refused as ``UnsupportedFileType`` (415).

Everything is read from a seekable binary file as a stream, a line or a row
at a time, so memory stays bounded whatever the file's shape: a line (or a
CSV record, or a JSON array element) longer than ``Limits.max_line_chars``,
a header wider than ``Limits.max_columns`` and a workbook that unpacks to
more than ``Limits.max_unpacked_bytes`` are refused with a clear error
instead of being held.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import IO, Any

from registry.errors import InvalidRequest, PayloadTooLarge, UnsupportedFileType
from registry.validation import check_json_value, load_json

FORMATS = ("csv", "ndjson", "json", "xlsx")
XLSX_CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
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
SUFFIX_FORMATS = {
    ".ndjson": "ndjson", ".jsonl": "ndjson", ".json": "json", ".csv": "csv", ".tsv": "csv", ".txt": "csv",
    ".xlsx": "xlsx", ".xlsm": "xlsx",
}

MAX_LINE_CHARS = 128 * 1024  # a line, CSV record or JSON array element longer than this is refused
DEFAULT_MAX_COLUMNS = 256
DEFAULT_MAX_UNPACKED_BYTES = 1024 ** 3  # what a workbook may unpack to (a zip bomb is refused unread)
SNIFF_BYTES = 4096  # enough of a file's start to tell its kind and guess its encoding
READ_CHUNK_CHARS = 64 * 1024
MIN_TEXT_SHARE = 0.9  # below this share of plausible characters, a file is not text

ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (and .doc): the pre-2007 Office container
OPENDOCUMENT_SPREADSHEET = b"application/vnd.oasis.opendocument.spreadsheet"
XLSX_WORKBOOK_PART = "xl/workbook.xml"
SAVE_AS_HINT = "save it as .xlsx or CSV and send that"

DELIMITERS = (",", ";", "\t")
DEFAULT_DELIMITER = ","
ONE_COLUMN = "\x1f"  # ASCII unit separator: the delimiter of a file of one column, found in no cell
BOM_ENCODINGS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Tried in this order of preference when there is no BOM; cp1251 is what spreadsheets exported
# on Russian-language Windows use, and reads any byte.
CANDIDATE_ENCODINGS = ("utf-8", "utf-16-le", "utf-16-be", "cp1251")
FALLBACK_ENCODING = "cp1251"

# Excel's "General" format shows a long number as 1.23457E+11 (1,23457E+11 in a comma-decimal
# locale); a serial typed into such a cell has lost its last digits for good.
EXCEL_NUMBER = re.compile(r"[+-]?\d(?:[.,]\d+)?E\+\d{2,3}", re.IGNORECASE)
EXCEL_SIGNIFICANT_DIGITS = 15  # Excel keeps no more of a number; anything longer was cut


@dataclass(frozen=True)
class Limits:
    """What a table may hold before it is refused rather than read."""

    max_columns: int = DEFAULT_MAX_COLUMNS
    max_line_chars: int = MAX_LINE_CHARS
    max_unpacked_bytes: int = DEFAULT_MAX_UNPACKED_BYTES


@dataclass
class Table:
    """A file's rows as read: for CSV and workbooks the ``header`` (the first row that is not
    blank, at ``header_row``) and then each non-blank row's cells as a list; for NDJSON and
    JSON each parsed value (``header`` is ``None``).  A row that cannot even be parsed is an
    ``InvalidRequest``; a file-level problem (a line too long) is raised while iterating.
    Numbers are rows in the file (CSV counts lines, a workbook its rows, NDJSON its lines, a
    JSON array its elements)."""

    file_format: str
    delimiter: str
    header: list[str] | None
    rows: Iterator[tuple[int, Any]]
    header_row: int = 0


def detect_format(file: IO[bytes], filename: str | None = None, content_type: str | None = None) -> str:
    """What a file is: by its first bytes for workbooks; text by content type, else file name,
    else first character (``[`` a JSON array, ``{`` NDJSON, anything else CSV).

    ``UnsupportedFileType`` for anything that is neither text nor an .xlsx workbook (an .xls,
    an .ods, a PDF, a picture), ``InvalidRequest`` for an empty file.
    """
    head = _peek(file, SNIFF_BYTES)
    if not head:
        raise InvalidRequest("The file is empty.")
    if head.startswith(ZIP_MAGIC):
        return _zip_format(file)
    if head.startswith(OLE2_MAGIC):
        raise UnsupportedFileType(f"This is an Excel 97-2003 workbook (.xls), which is not read: {SAVE_AS_HINT}.")
    text = _best_guess(head)
    if _plausible_share(text) < MIN_TEXT_SHARE:
        raise UnsupportedFileType("The file is neither CSV, NDJSON, JSON nor an Excel workbook (.xlsx).")
    mime = (content_type or "").split(";")[0].strip().lower()
    if mime in CONTENT_TYPE_FORMATS:
        return CONTENT_TYPE_FORMATS[mime]
    suffix = PurePath(filename or "").suffix.lower()
    if SUFFIX_FORMATS.get(suffix, "xlsx") != "xlsx":  # a text file named .xlsx is read as what it is
        return SUFFIX_FORMATS[suffix]
    return format_of_first_character(text.lstrip("\ufeff \t\r\n")[:1])


def format_of_first_character(first: str) -> str:
    """``[`` opens a JSON array, ``{`` an NDJSON line; anything else is taken for CSV."""
    return {"[": "json", "{": "ndjson"}.get(first, "csv")


def read_table(file: IO[bytes], file_format: str, limits: Limits | None = None) -> Table:
    """The rows of a seekable binary file in ``file_format``, read lazily (see ``Table``)."""
    limits = limits or Limits()
    file.seek(0)
    if file_format == "xlsx":
        return _workbook_table(file, limits)
    if file_format not in FORMATS:
        raise InvalidRequest(f"Unknown format {file_format!r}; use one of {', '.join(FORMATS)}.")
    text = io.TextIOWrapper(file, encoding=detect_encoding(file), errors="replace", newline="")
    lines = _BoundedLines(text, limits.max_line_chars)
    if file_format == "ndjson":
        table = Table(file_format, DEFAULT_DELIMITER, None, _ndjson_rows(lines))
    elif file_format == "json":
        table = Table(file_format, DEFAULT_DELIMITER, None, _json_array_rows(text, limits.max_line_chars))
    else:
        table = _csv_table(lines, limits)
    table.rows = _borrowing(text, table.rows)
    return table


def _borrowing(text: io.TextIOWrapper, rows: Iterator[tuple[int, Any]]) -> Iterator[tuple[int, Any]]:
    """Rows read through ``text``, which lets go of the caller's file once they are read (a text
    wrapper would close it), so the caller can still look at it and close it."""
    try:
        yield from rows
    finally:
        with contextlib.suppress(ValueError):  # the caller closed its file first: nothing to let go of
            text.detach()


def detect_encoding(file: IO[bytes]) -> str:
    """The encoding of a text file: by its BOM; else UTF-8 if its start reads as text in UTF-8
    and the whole file decodes (other encodings' text is almost never valid UTF-8); else the
    first of the candidates that decodes the whole file, tried in the order in which their
    reading of its start looks most like text (UTF-16 without BOM, then Windows-1251)."""
    head = _peek(file, SNIFF_BYTES)
    for bom, encoding in BOM_ENCODINGS:
        if head.startswith(bom):
            return encoding
    utf8 = CANDIDATE_ENCODINGS[0]
    if _plausible_share(head.decode(utf8, errors="replace")) >= MIN_TEXT_SHARE and _decodes(file, utf8):
        return utf8
    ranked = sorted(CANDIDATE_ENCODINGS, key=lambda e: -_plausible_share(head.decode(e, errors="replace")))
    return next((encoding for encoding in ranked if _decodes(file, encoding)), FALLBACK_ENCODING)


def cell_text(value: Any) -> str:
    """A spreadsheet cell as the text a CSV export would hold.  A whole number keeps its digits;
    one longer than Excel keeps is written as Excel shows it (``1.23456789012346E+15``), so
    that it is reported as damaged, never checked as if it were the serial."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        if abs(value) >= 10 ** EXCEL_SIGNIFICANT_DIGITS:
            return f"{value:.{EXCEL_SIGNIFICANT_DIGITS - 1}E}"
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def sniff_delimiter(line: str) -> str | None:
    """The one of comma, semicolon and tab found most often in the header line, outside quotes;
    ``None`` for a line with none of them (a file of one column)."""
    header = re.sub(r'"[^"]*"', "", line)
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else None


def trimmed(cells: list[str]) -> list[str]:
    """Cells without the empty ones at the end (spreadsheets export formatted blank columns)."""
    end = len(cells)
    while end and not cells[end - 1].strip():
        end -= 1
    return cells[:end]


# -- CSV and NDJSON: lines of bounded length ----------------------------------------------

class _BoundedLines:
    """Lines of a text stream, refusing any longer than ``limit`` characters without ever
    holding one: what a line (or a CSV record spanning lines) has read so far is counted,
    and the reader calls ``record_done`` after each record."""

    def __init__(self, text: IO[str], limit: int) -> None:
        self.text = text
        self.limit = limit
        self.number = 0  # lines read
        self.record_start = 1  # the line the current record started on
        self._pending = 0

    def __iter__(self) -> _BoundedLines:
        return self

    def __next__(self) -> str:
        line = self.text.readline(self.limit + 1)
        if not line:
            raise StopIteration
        self.number += 1
        self._pending += len(line.rstrip("\r\n"))
        if self._pending > self.limit:
            raise PayloadTooLarge(
                f"Line {self.record_start} is longer than {self.limit} characters; no row or cell of an "
                f"inventory is that long.", limit=self.limit, unit="characters per line", line=self.record_start)
        return line

    def record_done(self) -> None:
        self._pending = 0
        self.record_start = self.number + 1


def _csv_table(lines: _BoundedLines, limits: Limits) -> Table:
    first = ""
    for first in lines:  # blank lines before the header are skipped
        if first.strip():
            break
        lines.record_done()
    delimiter = sniff_delimiter(first)
    # One column: a comma in a cell is part of it (1,23457E+11 from a comma-decimal spreadsheet).
    rows = _csv_rows(csv.reader(_chained(first, lines), delimiter=delimiter or ONE_COLUMN), lines)
    return _headed_table("csv", delimiter or DEFAULT_DELIMITER, rows, limits)


def _chained(first: str, rest: Iterator[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _csv_rows(records: Iterator[list[str]], lines: _BoundedLines) -> Iterator[tuple[int, Any]]:
    """Records that are not blank, each numbered by the line it starts on."""
    while True:
        start = lines.record_start
        try:
            cells = next(records)
        except StopIteration:
            return
        except csv.Error as exc:  # a stray quote at the end of the file: that row only
            lines.record_done()
            yield start, InvalidRequest(f"The row is not valid CSV: {exc}.")
            continue
        lines.record_done()
        if any(cell.strip() for cell in cells):
            yield start, cells


def _ndjson_rows(lines: _BoundedLines) -> Iterator[tuple[int, Any]]:
    for line in lines:
        number = lines.number
        lines.record_done()
        if not line.strip():
            continue
        try:
            yield number, load_json(line)
        except json.JSONDecodeError as exc:
            yield number, InvalidRequest(f"Line is not valid JSON: {exc.msg} at column {exc.colno}.")


def _json_array_rows(text: IO[str], limit: int) -> Iterator[tuple[int, Any]]:
    """The elements of a JSON array, decoded one at a time from a buffer of bounded size."""
    decoder = json.JSONDecoder()
    buffer, position, at_end = "", 0, False

    def fill() -> bool:
        """Read more; ``False`` at the end of the file."""
        nonlocal buffer, position, at_end
        chunk = text.read(READ_CHUNK_CHARS)
        buffer, position, at_end = buffer[position:] + chunk, 0, not chunk
        return bool(chunk)

    def next_character() -> str:
        """The next character that is not white space ('' at the end), left unread."""
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n\ufeff":
                position += 1
            if position < len(buffer) or not fill():
                return buffer[position:position + 1]

    def expect(character: str, what: str) -> None:
        nonlocal position
        if next_character() != character:
            raise InvalidRequest(f"File is not valid JSON: expected {what}.")
        position += 1

    expect("[", "an array of objects")
    if next_character() == "]":
        return
    number = 0
    while True:
        next_character()
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as exc:
                if at_end or len(buffer) - position > limit:
                    raise _too_long_or_invalid(number + 1, len(buffer) - position, limit, exc) from exc
                fill()
                continue
            except (RecursionError, ValueError) as exc:  # nested too deeply, or an integer past 4,300 digits
                raise InvalidRequest(f"File is not valid JSON: element {number + 1} of the array nests too deeply "
                                     f"or holds an integer of over 4,300 digits.") from exc
            if end < len(buffer) or at_end:  # a number at the buffer's end may go on in the next chunk
                break
            if not fill():
                break
        number += 1
        if end - position > limit:
            raise _too_long_or_invalid(number, end - position, limit, None)
        position = end
        try:
            check_json_value(value)
        except json.JSONDecodeError as exc:
            raise InvalidRequest(f"File is not valid JSON: {exc.msg} in element {number} of the array.") from exc
        yield number, value
        if next_character() == "]":
            return
        expect(",", "',' or ']' after an element of the array")


def _too_long_or_invalid(element: int, read: int, limit: int, error: json.JSONDecodeError | None) -> Exception:
    if read > limit or error is None:
        return PayloadTooLarge(f"Element {element} of the array is longer than {limit} characters.",
                               limit=limit, unit="characters per line")
    return InvalidRequest(f"File is not valid JSON: {error.msg} in element {element} of the array.")


# -- Workbooks --------------------------------------------------------------------------------

def _zip_format(file: IO[bytes]) -> str:
    """An .xlsx workbook, or a refusal naming what the zip file is."""
    try:
        with zipfile.ZipFile(file) as archive:
            names = set(archive.namelist())
            if XLSX_WORKBOOK_PART in names:
                return "xlsx"
            kind = archive.read("mimetype")[:len(OPENDOCUMENT_SPREADSHEET)] if "mimetype" in names else b""
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise UnsupportedFileType("The file is a damaged zip archive, not a readable workbook.") from exc
    finally:
        file.seek(0)
    if kind == OPENDOCUMENT_SPREADSHEET:
        raise UnsupportedFileType(f"This is an OpenDocument spreadsheet (.ods), which is not read: {SAVE_AS_HINT}.")
    raise UnsupportedFileType("The file is a zip archive, not an Excel workbook (.xlsx), CSV or JSON.")


def _workbook_table(file: IO[bytes], limits: Limits) -> Table:
    import openpyxl  # imported when a workbook comes: most uploads are CSV

    _refuse_zip_bomb(file, limits.max_unpacked_bytes)
    try:
        workbook = openpyxl.load_workbook(file, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises anything from KeyError to its own errors on a damaged file
        raise InvalidRequest(f"The workbook cannot be read: {type(exc).__name__}: {exc}.") from exc
    sheets = [s for s in workbook.worksheets if getattr(s, "sheet_state", "visible") == "visible"]
    if not sheets:
        workbook.close()
        raise InvalidRequest("The workbook has no visible worksheet.")
    return _headed_table("xlsx", DEFAULT_DELIMITER, _sheet_rows(workbook, sheets[0], limits.max_columns + 1), limits)


def _refuse_zip_bomb(file: IO[bytes], limit: int) -> None:
    try:
        with zipfile.ZipFile(file) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidRequest("The workbook is a damaged zip archive.") from exc
    finally:
        file.seek(0)
    if unpacked > limit:
        raise PayloadTooLarge(f"The workbook unpacks to {unpacked} bytes, more than {limit}.",
                              limit=limit, unit="bytes unpacked")


def _sheet_rows(workbook: Any, sheet: Any, max_width: int) -> Iterator[tuple[int, list[str]]]:
    """Non-empty rows of a worksheet as text cells, numbered as the spreadsheet numbers them.

    The sheet's declared dimensions are ignored (a formatted column XFD would pad every row
    to 16,384 cells): each row is as wide as its last cell, and cut at ``max_width``."""
    sheet.reset_dimensions()
    try:
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            cells = trimmed([cell_text(v) for v in values[:max_width]])
            if cells:
                yield number, cells
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InvalidRequest(f"The workbook cannot be read: {type(exc).__name__}: {exc}.") from exc
    finally:
        workbook.close()


# -- Shared ----------------------------------------------------------------------------------

def _headed_table(file_format: str, delimiter: str, rows: Iterator[tuple[int, Any]], limits: Limits) -> Table:
    """A table whose first row is its header, refused if wider than ``limits.max_columns``."""
    header_row, header = next(rows, (0, []))
    if isinstance(header, InvalidRequest):
        raise InvalidRequest(f"The header row is unreadable: {header.detail}")
    header = trimmed(header)
    if len(header) > limits.max_columns:
        raise PayloadTooLarge(f"The file has more than {limits.max_columns} columns.",
                              limit=limits.max_columns, unit="columns")
    return Table(file_format, delimiter, header, rows, header_row)


def _peek(file: IO[bytes], size: int) -> bytes:
    file.seek(0)
    head = file.read(size)
    file.seek(0)
    return head


def _best_guess(head: bytes) -> str:
    """The start of a text file, decoded as its BOM or its most plausible encoding says."""
    for bom, encoding in BOM_ENCODINGS:
        if head.startswith(bom):
            return head.decode(encoding, errors="replace")
    return max((head.decode(e, errors="replace") for e in CANDIDATE_ENCODINGS), key=_plausible_share)


def _decodes(file: IO[bytes], encoding: str) -> bool:
    """Whether the whole file decodes strictly in ``encoding`` (read in chunks, kept nowhere)."""
    decoder = codecs.getincrementaldecoder(encoding)("strict")
    file.seek(0)
    try:
        while chunk := file.read(READ_CHUNK_CHARS):
            decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    finally:
        file.seek(0)
    return True


def _plausible_share(text: str) -> float:
    """Share of characters an inventory is made of: printable Latin, Greek, Cyrillic, punctuation,
    full-width forms.

    Wrong guesses give control characters (UTF-16 read as UTF-8), CJK
    (UTF-8 read as UTF-16) or replacement characters; binary files give all three.
    """
    if not text:
        return 1.0
    plausible = sum((c.isprintable() or c in "\t\r\n")
                    and (c < "\u0530" or "\u2000" <= c < "\u2200" or "\uff00" <= c < "\ufff0")  # + full-width
                    for c in text)
    return plausible / len(text)
