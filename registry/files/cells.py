"""Cells that a spreadsheet opens as text, never runs (OWASP "CSV injection").

Every CSV the registry writes (bulk-check results, ``irontrace export``)
passes each cell, header cells included, through ``spreadsheet_safe``.
Spreadsheets skip leading spaces and read full-width signs (＝, ＋, －, ＠)
as their ASCII forms, so those are looked through too.
"""

from __future__ import annotations

import unicodedata
from typing import Any

# A cell starting with one of these is a formula to a spreadsheet; the quote makes it text.
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
FORMULA_GUARD = "'"


def spreadsheet_safe(cell: Any) -> str:
    """The cell as text that a spreadsheet will not run as a formula."""
    text = "" if cell is None else str(cell)
    return FORMULA_GUARD + text if runs_as_formula(text) else text


def runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet would take ``text`` for a formula: its first character, past any
    spaces and read as its compatibility (half-width) form, is a trigger."""
    if text.startswith(FORMULA_TRIGGERS):
        return True
    first = text.lstrip()[:1]
    return bool(first) and unicodedata.normalize("NFKC", first).startswith(FORMULA_TRIGGERS)


def unguarded(cell: str) -> str:
    """A cell as it was before ``spreadsheet_safe`` (what an import of an export reads)."""
    if cell.startswith(FORMULA_GUARD) and runs_as_formula(cell[len(FORMULA_GUARD):]):
        return cell[len(FORMULA_GUARD):]
    return cell
