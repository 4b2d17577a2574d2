"""Tests for search.identifiers: VIN check digits and PIN layout hints."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.identifiers import (
    is_valid_vin,
    pin_problems,
    structure_problems,
    vin_check_digit,
    vin_problems,
)

# Reference transliteration from 49 CFR 565.15 (Table IV), written out
# independently of the module under test.
REFERENCE_VALUES = {
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
    **{str(d): d for d in range(10)},
}
REFERENCE_WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]
VIN_ALPHABET = "".join(sorted(REFERENCE_VALUES))  # no I, O, Q


def reference_check_digit(vin: str) -> str:
    remainder = sum(REFERENCE_VALUES[c] * w for c, w in zip(vin, REFERENCE_WEIGHTS)) % 11
    return "X" if remainder == 10 else str(remainder)


def with_check_digit(vin: str, digit: str) -> str:
    return vin[:8] + digit + vin[9:]


# Widely quoted real-world VINs, each checked with the algorithm above, plus
# the all-ones test VIN (weights sum to 89, 89 mod 11 = 1).
VALID_VINS = [
    "1M8GDM9AXKP042788",  # check digit X (remainder 10)
    "1HGCM82633A004352",
    "JH4KA7561PC008269",
    "5GZCZ43D13S812715",
    "11111111111111111",
]


def test_reference_implementation_agrees_with_the_published_examples():
    """Guards the test oracle itself before it is used to judge the module."""
    for vin in VALID_VINS:
        assert reference_check_digit(vin) == vin[8], vin


@pytest.mark.parametrize("vin", VALID_VINS)
def test_known_valid_vins_validate(vin):
    assert vin_check_digit(vin) == vin[8]
    assert is_valid_vin(vin)
    assert vin_problems(vin) == []
    assert structure_problems("vin", vin) == []


def test_check_digit_x_is_produced_for_remainder_ten():
    assert vin_check_digit("1M8GDM9AXKP042788") == "X"
    assert not is_valid_vin(with_check_digit("1M8GDM9AXKP042788", "0"))


@pytest.mark.parametrize("wrong", ["0", "1", "2", "4", "9", "X"])
def test_wrong_check_digit_is_invalid_and_explained(wrong):
    vin = with_check_digit("1HGCM82633A004352", wrong)
    assert not is_valid_vin(vin)
    (problem,) = vin_problems(vin)
    assert "check digit" in problem
    assert f"position 9 is {wrong}" in problem
    assert "give 3" in problem  # what the other 16 characters require


def test_european_vin_without_check_digit_does_not_validate():
    """WP0ZZZ99ZTS392124 is a real Porsche VIN; Europe does not use position 9 as a check digit."""
    vin = "WP0ZZZ99ZTS392124"
    assert reference_check_digit(vin) != vin[8]
    assert not is_valid_vin(vin)
    assert "check digit" in vin_problems(vin)[0]


def test_a_single_misread_character_breaks_the_check_digit():
    vin = "JH4KA7561PC008269"
    misread = vin[:14] + "8" + vin[15:]  # 2 read as 8 at position 15 (weight 4: 24 ≢ 0 mod 11)
    assert not is_valid_vin(misread)


@given(st.text(alphabet=VIN_ALPHABET, min_size=17, max_size=17))
def test_check_digit_matches_reference_implementation(vin):
    expected = reference_check_digit(vin)
    assert vin_check_digit(vin) == expected
    assert is_valid_vin(with_check_digit(vin, expected))
    other = "0" if expected != "0" else "1"
    assert not is_valid_vin(with_check_digit(vin, other))


@pytest.mark.parametrize("letter", ["I", "O", "Q"])
def test_vin_with_forbidden_letter_is_flagged(letter):
    vin = "1HGCM82633A0" + letter + "4352"
    assert len(vin) == 17
    assert not is_valid_vin(vin)
    assert vin_check_digit(vin) is None
    (problem,) = vin_problems(vin)
    assert f"letter {letter}" in problem


def test_vin_with_several_forbidden_letters_names_them_all():
    (problem,) = vin_problems("1HGCM8263IA0O4Q52")
    assert "I, O, Q" in problem


@pytest.mark.parametrize("vin", ["1HGCM82633A00435", "1HGCM82633A0043521", ""])
def test_vin_of_wrong_length_is_flagged(vin):
    assert not is_valid_vin(vin)
    assert vin_check_digit(vin) is None
    (problem,) = vin_problems(vin)
    assert "17" in problem and str(len(vin)) in problem


def test_vin_with_non_latin_letter_is_flagged():
    vin = "1HGCM82633A00435\u0416"  # Ж survives normalization
    assert not is_valid_vin(vin)
    (problem,) = vin_problems(vin)
    assert "Latin" in problem


# --- PIN (ISO 10261) --------------------------------------------------------

VALID_PIN = "CAT0320DLEJK01234"


def test_well_formed_pin_has_no_problems():
    assert pin_problems(VALID_PIN) == []
    assert structure_problems("pin", VALID_PIN) == []


def test_pin_is_not_held_to_the_vin_check_digit():
    """ISO 10261 PINs have no mandatory North American check digit."""
    assert not is_valid_vin(VALID_PIN)
    assert pin_problems(VALID_PIN) == []


@pytest.mark.parametrize("pin", [VALID_PIN[:-1], VALID_PIN + "5", VALID_PIN[3:]])
def test_pin_of_wrong_length_is_flagged(pin):
    (problem,) = pin_problems(pin)
    assert "17" in problem and str(len(pin)) in problem


@pytest.mark.parametrize("letter", ["I", "O", "Q"])
def test_pin_with_forbidden_letter_is_flagged(letter):
    pin = VALID_PIN[:12] + letter + VALID_PIN[13:]
    problems = pin_problems(pin)
    assert any(f"letter {letter}" in p for p in problems)


@pytest.mark.parametrize("position", [0, 12])
def test_pin_with_a_non_latin_letter_is_flagged(position):
    pin = VALID_PIN[:position] + "\u0416" + VALID_PIN[position + 1 :]
    assert any("Latin letters and digits" in p for p in pin_problems(pin))


@pytest.mark.parametrize("identifier_type", ["serial", "engine", "component", "telematics", "other"])
def test_other_identifier_types_get_no_structure_hints(identifier_type):
    assert structure_problems(identifier_type, "1HGCM82634A0O4352") == []
