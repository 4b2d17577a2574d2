"""Alphabets and look-alike letters that generated identifiers and damaged readings are made of."""

from __future__ import annotations

from search.normalize import CONFUSABLE_GROUPS

PIN_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # ISO 3779 / 10261: no I, O, Q
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"

# Cyrillic capitals a clerk types for Latin letters of the same shape.
CYRILLIC_LOOKALIKES: dict[str, str] = {
    "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К",
    "M": "М", "O": "О", "P": "Р", "T": "Т", "X": "Х", "Y": "У",
}
CYRILLIC_LOWER = {"a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у"}
TO_CYRILLIC = str.maketrans({**CYRILLIC_LOOKALIKES, **CYRILLIC_LOWER})

CONFUSABLE_WITH = {c: group.replace(c, "") for group in CONFUSABLE_GROUPS for c in group}
