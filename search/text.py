"""The words of a report that description searches match, in every engine.

Both engines index ``indexed_words(report_text(report))`` and look up
``text_terms(description)``; the scorer compares the same terms.  Changing
any function here changes what is indexed: rebuild the indices afterwards
(``irontrace es reindex``, or a fresh ``irontrace import`` into a new SQLite
file), or old reports are searched by the old words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

MIN_TERM_LENGTH: Final = 2
STOP_WORDS: Final = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its",
    "of", "on", "or", "the", "this", "to", "was", "were", "with",
))
WORD: Final = re.compile(r"\w+")


def report_text(report: Mapping[str, Any]) -> str:
    """The free text of a report that description searches look at."""
    parts = [
        report.get("description"),
        report.get("distinguishing_marks"),
        report.get("manufacturer"),
        report.get("model"),
        report.get("color"),
        report.get("category", "").replace("_", " "),
    ]
    return " ".join(p for p in parts if p)


def text_terms(text: str) -> set[str]:
    """Lower-cased words worth matching: no stop words, no single letters."""
    return {w for w in WORD.findall(text.casefold()) if len(w) >= MIN_TERM_LENGTH and w not in STOP_WORDS}


def indexed_words(text: str) -> str:
    """``text`` cut into the words ``text_terms`` sees, space-separated, for a full-text index.

    An engine's own tokenizer alone might keep ``3.5m`` or ``don't`` whole or
    not casefold ``ß``, so words the scorer counts as shared could fail to match.
    """
    return " ".join(WORD.findall(text.casefold()))
