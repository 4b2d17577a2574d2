"""Tests for search.normalize: what never distinguishes two plate readings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.normalize import CONFUSABLE_GROUPS, confusable, normalize, skeleton
from search.scoring import compare

# Written as escapes so that nobody "fixes" a Cyrillic letter into a Latin one.
CYRILLIC_UPPER = {
    "\u0410": "A", "\u0412": "B", "\u0421": "C", "\u0415": "E", "\u041d": "H", "\u041a": "K",
    "\u041c": "M", "\u041e": "O", "\u0420": "P", "\u0422": "T", "\u0425": "X", "\u0423": "Y",
}
CYRILLIC_LOWER = {
    "\u0430": "A", "\u0432": "B", "\u0441": "C", "\u0435": "E", "\u043d": "H", "\u043a": "K",
    "\u043c": "M", "\u043e": "O", "\u0440": "P", "\u0442": "T", "\u0445": "X", "\u0443": "Y",
}
GREEK_UPPER = {
    "\u0391": "A", "\u0392": "B", "\u0395": "E", "\u0396": "Z", "\u0397": "H", "\u0399": "I",
    "\u039a": "K", "\u039c": "M", "\u039d": "N", "\u039f": "O", "\u03a1": "P", "\u03a4": "T",
    "\u03a5": "Y", "\u03a7": "X",
}
GREEK_LOWER = {
    "\u03b1": "A", "\u03b2": "B", "\u03b5": "E", "\u03b6": "Z", "\u03b7": "H", "\u03b9": "I",
    "\u03ba": "K", "\u03bc": "M", "\u03bd": "N", "\u03bf": "O", "\u03c1": "P", "\u03c4": "T",
    "\u03c5": "Y", "\u03c7": "X",
}
LATIN_TO_CYRILLIC = {latin: cyr for cyr, latin in CYRILLIC_UPPER.items()}
LATIN_TO_CYRILLIC_LOWER = {latin: cyr for cyr, latin in CYRILLIC_LOWER.items()}
CYRILLIC_ZHE = "\u0416"  # Ж: no Latin look-alike
SEPARATORS = " -./_"
# The look-alike groups the product promises to fold (O/0/Q/D, I/1/L, S/5, B/8, Z/2, G/6).
SPEC_GROUPS = ("0OQD", "1IL", "5S", "8B", "2Z", "6G")

IDENTIFIER_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
identifiers = st.text(alphabet=IDENTIFIER_ALPHABET, min_size=1, max_size=24)


# --- plain formatting ------------------------------------------------------


@pytest.mark.parametrize(
    "reading",
    [
        "cat0320dlejk01234",
        "CAT 0320D LEJK 01234",
        "CAT-0320D-LEJK-01234",
        "CAT.0320D.LEJK.01234",
        "CAT/0320D/LEJK/01234",
        "CAT_0320D_LEJK_01234",
        "  Cat 0320d-lejk/01234 ",
        "CAT\t0320D\nLEJK01234",
        "CAT\u00a00320D\u3000LEJK\uff0d01234",  # no-break space, ideographic space, full-width hyphen
    ],
)
def test_case_and_separators_are_ignored(reading):
    assert normalize(reading) == "CAT0320DLEJK01234"


def test_nothing_but_separators_normalizes_to_empty():
    assert normalize(" -./_ ") == ""


@pytest.mark.parametrize(
    "reading, expected",
    [
        ("\uff23\uff21\uff34\uff11\uff12", "CAT12"),  # ＣＡＴ１２
        ("\uff43\uff41\uff54\uff11\uff12", "CAT12"),  # ｃａｔ１２
        ("\uff2b\uff2f\uff2d\uff0d\uff18\uff10\uff10", "KOM800"),  # ＫＯＭ－８００
        ("PC\u2082\u2080\u2080", "PC200"),  # subscript digits
        ("\u2160\u2161-7", "III7"),  # Roman numerals Ⅰ Ⅱ
    ],
)
def test_unicode_compatibility_forms_fold_to_ascii(reading, expected):
    assert normalize(reading) == expected


# --- look-alike letters ----------------------------------------------------


@pytest.mark.parametrize(
    "letter, latin",
    [*CYRILLIC_UPPER.items(), *CYRILLIC_LOWER.items()],
    ids=lambda v: f"U+{ord(v):04X}" if len(v) == 1 and not v.isascii() else v,
)
def test_cyrillic_lookalikes_map_to_latin(letter, latin):
    assert normalize(f"1{letter}2") == f"1{latin}2"


@pytest.mark.parametrize(
    "letter, latin",
    [*GREEK_UPPER.items(), *GREEK_LOWER.items()],
    ids=lambda v: f"U+{ord(v):04X}" if len(v) == 1 and not v.isascii() else v,
)
def test_greek_lookalikes_map_to_latin(letter, latin):
    assert normalize(f"1{letter}2") == f"1{latin}2"


def test_serial_typed_entirely_on_a_russian_keyboard_equals_latin():
    typed = "\u0421\u0410\u0422-\u0412\u0425\u041c"  # С А Т - В Х М (Cyrillic)
    assert normalize(typed) == "CATBXM"
    assert normalize(typed).isascii()


@pytest.mark.parametrize("letter", [CYRILLIC_ZHE, CYRILLIC_ZHE.lower()])
def test_cyrillic_letter_without_lookalike_is_kept(letter):
    """Dropping Ж would make 'CAT-Ж12' equal to 'CAT12': it must stay."""
    result = normalize(f"CAT-{letter}12")
    assert result == f"CAT{CYRILLIC_ZHE}12"
    assert result != normalize("CAT12")


def test_cyrillic_letter_without_lookalike_prevents_equality():
    comparison = compare("CAT0320" + CYRILLIC_ZHE + "LEJK01234", "CAT0320LEJK01234")
    assert comparison is None or comparison.match_type not in {"exact", "normalized"}


# --- skeleton and confusable -----------------------------------------------


def test_module_declares_every_promised_group():
    declared = {frozenset(g) for g in CONFUSABLE_GROUPS}
    assert {frozenset(g) for g in SPEC_GROUPS} <= declared


@pytest.mark.parametrize("group", SPEC_GROUPS)
def test_skeleton_folds_every_member_of_a_group_to_one_character(group):
    folded = {skeleton(f"X{c}Y") for c in group}
    assert len(folded) == 1
    # the representative is one of the group, and the context is untouched
    (only,) = folded
    assert only[0] == "X" and only[2] == "Y" and only[1] in group


def test_skeleton_keeps_distinct_groups_apart():
    representatives = {skeleton(group[0]) for group in SPEC_GROUPS}
    assert len(representatives) == len(SPEC_GROUPS)


@pytest.mark.parametrize("char", sorted(set("ACEFHJKMNPRTUVWXY3479") | {CYRILLIC_ZHE}))
def test_skeleton_leaves_non_confusable_characters_alone(char):
    assert skeleton(char) == char


@pytest.mark.parametrize(
    "a, b",
    [(a, b) for group in SPEC_GROUPS for a in group for b in group if a != b],
)
def test_members_of_a_group_are_confusable(a, b):
    assert confusable(a, b)


@pytest.mark.parametrize("a, b", [("0", "1"), ("O", "I"), ("S", "B"), ("8", "6"), ("A", "4"), ("Z", "7"), ("X", "Y")])
def test_members_of_different_groups_are_not_confusable(a, b):
    assert not confusable(a, b)


ANY_CHAR = st.sampled_from("".join(SPEC_GROUPS) + "ACEHKX3479" + CYRILLIC_ZHE)


@given(ANY_CHAR, ANY_CHAR)
def test_confusable_is_symmetric(a, b):
    assert confusable(a, b) == confusable(b, a)


@given(ANY_CHAR)
def test_a_character_is_not_confusable_with_itself(a):
    assert not confusable(a, a)


# --- properties -------------------------------------------------------------


@given(st.text())
def test_normalize_is_idempotent(value):
    once = normalize(value)
    assert normalize(once) == once


@given(st.text())
def test_normalize_keeps_only_upper_case_letters_and_digits(value):
    result = normalize(value)
    assert all(c.isalnum() for c in result)
    assert result == result.upper()


def test_normalize_is_idempotent_for_separated_hangul_jamo():
    """Regression: NFKC used to run only before separators were removed."""
    once = normalize("\u1100-\u1161")  # ᄀ-ᅡ: two jamo that NFKC composes to 가
    assert normalize(once) == once
    assert once == normalize("\uac00")


@given(st.text(alphabet="\u1100\u1101\u1161\u1162\u11a8\u11a9\uac00 -", max_size=12))
def test_normalize_is_idempotent_on_separated_hangul(value):
    """Plain st.text() rarely produces jamo sequences; aim at them directly."""
    once = normalize(value)
    assert normalize(once) == once


@given(st.text())
def test_skeleton_of_normalized_value_is_idempotent(value):
    skel = skeleton(normalize(value))
    assert skeleton(skel) == skel
    assert normalize(skel) == skel  # a skeleton is itself a normalized value


@st.composite
def formatting_variants(draw, value: str) -> str:
    """The same identifier as an officer might type it: case, separators, Cyrillic keys."""
    out = [draw(st.sampled_from(["", " ", "  "]))]
    for ch in value:
        form = draw(st.sampled_from(["as_is", "lower", "cyrillic", "cyrillic_lower"]))
        if form == "lower":
            ch = ch.lower()
        elif form == "cyrillic" and ch in LATIN_TO_CYRILLIC:
            ch = LATIN_TO_CYRILLIC[ch]
        elif form == "cyrillic_lower" and ch in LATIN_TO_CYRILLIC_LOWER:
            ch = LATIN_TO_CYRILLIC_LOWER[ch]
        out.append(ch)
        out.append(draw(st.text(alphabet=SEPARATORS, max_size=2)))
    return "".join(out)


@given(st.data(), identifiers)
def test_formatting_only_variant_normalizes_equal(data, value):
    variant = data.draw(formatting_variants(value))
    assert normalize(variant) == normalize(value) == value


@given(st.data(), identifiers)
def test_formatting_only_variant_compares_as_exact_or_normalized(data, value):
    variant = data.draw(formatting_variants(value))
    comparison = compare(variant, value)
    assert comparison is not None
    assert comparison.match_type in {"exact", "normalized"}
