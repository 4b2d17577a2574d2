"""Forms under which two readings of the same plate are considered equal.

``normalize`` removes what never distinguishes two identifiers (case,
separators, Unicode compatibility forms, Cyrillic and Greek letters typed for
their Latin look-alikes).  ``skeleton`` goes one step further and folds the
characters officers misread for one another (O/0, I/1, S/5, ...): two values
with the same skeleton are *probably* the same plate, and the scorer says so.
"""

from __future__ import annotations

import unicodedata

# Cyrillic and Greek capitals that Kazakh, Russian and Greek keyboards produce
# for Latin letters of the same shape (lower case is upper-cased first).
HOMOGLYPHS: dict[str, str] = {
    # Cyrillic: А В С Е Н К М О Р Т Х У, plus Kazakh/Ukrainian І Ү Ј Ѕ
    "А": "A", "В": "B", "С": "C", "Е": "E", "Н": "H", "К": "K", "М": "M",
    "О": "O", "Р": "P", "Т": "T", "Х": "X", "У": "Y", "І": "I", "Ү": "Y",
    "Ј": "J", "Ѕ": "S",
    # Greek
    "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I", "Κ": "K",
    "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X",
}

# Groups of characters read one for another off worn or dirty plates.  The
# first character of each group stands for the whole group in a skeleton.
CONFUSABLE_GROUPS: tuple[str, ...] = ("0OQD", "1IL", "5S", "8B", "2Z", "6G")

_SKELETON = {c: group[0] for group in CONFUSABLE_GROUPS for c in group}
_HOMOGLYPH_TABLE = str.maketrans(HOMOGLYPHS)
_SKELETON_TABLE = str.maketrans(_SKELETON)
_ASCII_SEPARATORS = str.maketrans("", "", "".join(chr(c) for c in range(128) if not chr(c).isalnum()))


def normalize(value: str) -> str:
    """Canonical form of an identifier: NFKC, upper case, Latin look-alikes, no separators.

    Only letters and digits are kept; letters with no Latin look-alike (say
    Cyrillic Ж) are kept as they are rather than dropped, so that they can
    never make two different identifiers equal.
    """
    if value.isascii():  # the common case: NFKC and look-alikes change nothing
        return value.upper().translate(_ASCII_SEPARATORS)
    folded = unicodedata.normalize("NFKC", value).upper().translate(_HOMOGLYPH_TABLE)
    kept = "".join(c for c in folded if c.isalnum())
    # Removing separators can bring combining characters together (Hangul
    # jamo); compose once more so that normalizing twice changes nothing.
    return kept if kept.isascii() else unicodedata.normalize("NFKC", kept)


def lookalikes_typed(value: str) -> list[tuple[str, str]]:
    """The non-Latin look-alike letters a reading was typed with, each with the Latin letter it stands for."""
    return [(c, HOMOGLYPHS[c]) for c in sorted({c.upper() for c in value if c.upper() in HOMOGLYPHS})]


def skeleton(normalized: str) -> str:
    """Fold confusable characters of a *normalized* value to one representative each."""
    return normalized.translate(_SKELETON_TABLE)


def confusable(a: str, b: str) -> bool:
    """True when two different characters are commonly read one for the other."""
    return a != b and _SKELETON.get(a, a) == _SKELETON.get(b, b)
