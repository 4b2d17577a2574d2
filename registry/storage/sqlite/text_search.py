"""FTS5 query strings for description words (``search.text.text_terms``)."""

from __future__ import annotations

from collections.abc import Iterable


def fts_all_terms(terms: Iterable[str]) -> str:
    """Every term must occur (listings filtered by ``q``)."""
    return " AND ".join(_quoted(t) for t in sorted(terms))


def fts_any_term(terms: Iterable[str]) -> str:
    """Any term may occur; FTS5's rank orders by how well (description candidates)."""
    return " OR ".join(_quoted(t) for t in sorted(terms))


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'
