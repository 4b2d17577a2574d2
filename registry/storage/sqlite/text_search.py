"""FTS5 query strings for the listing filter ``q`` (``search.text.text_terms``)."""

from __future__ import annotations

from collections.abc import Iterable


def fts_all_terms(terms: Iterable[str]) -> str:
    """Every term must occur (listings filtered by ``q``)."""
    return " AND ".join(_quoted(t) for t in sorted(terms))


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'
