"""Structure checks for identifiers that a standard defines.

A failed check is never an error: a serial read off a worn plate is often
wrong, and telling the officer *why* a reading cannot be right (a VIN whose
check digit does not validate, a PIN with a letter no PIN may contain) is a
hint that points at the misread character.
"""

from __future__ import annotations

from dataclasses import dataclass

# ISO 3779 / North American (49 CFR 565) transliteration and weights.
VIN_LENGTH = 17
VIN_CHECK_POSITION = 9  # 1-based
VIN_FORBIDDEN_LETTERS = frozenset("IOQ")
_VIN_VALUES = {
    **{str(d): d for d in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9))),
    **dict(zip("JKLMN", range(1, 6))),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10))),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)

# ISO 10261 product identification number: 17 characters (a three-character
# manufacturer code first), the same alphabet as a VIN.
PIN_LENGTH = 17


def vin_check_digit(vin: str) -> str | None:
    """The check digit a 17-character VIN must carry, or None if it cannot have one."""
    if len(vin) != VIN_LENGTH or any(c not in _VIN_VALUES for c in vin):
        return None
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def is_valid_vin(vin: str) -> bool:
    """True when a normalized VIN has the right length, alphabet and check digit."""
    expected = vin_check_digit(vin)
    return expected is not None and vin[VIN_CHECK_POSITION - 1] == expected


# Why a value cannot be a valid VIN or PIN, by code: English wording with the problem's values.
# ``describe`` words a problem with these; a caller may translate the same templates.
STRUCTURE_PROBLEMS: dict[str, str] = {
    "vin_length": "a VIN has %(expected)d characters, this has %(length)d",
    "pin_length": "an ISO 10261 PIN has %(expected)d characters, this has %(length)d",
    "forbidden_letter": "the letter %(letters)s never appears in a 17-character VIN or PIN (misread for 0 or 1?)",
    "forbidden_letters": "the letters %(letters)s never appear in a 17-character VIN or PIN (misread for 0 or 1?)",
    "vin_alphabet": "a VIN holds only Latin letters and digits",
    "pin_alphabet": "a PIN holds only Latin letters and digits",
    "vin_check_digit": "VIN check digit does not validate (position %(position)d is %(found)s, "
                       "the other characters give %(expected)s): a character is probably misread",
}


@dataclass(frozen=True)
class StructureProblem:
    """One reason a value cannot be a valid VIN or PIN: a code of ``STRUCTURE_PROBLEMS`` and its values."""

    code: str
    values: tuple[tuple[str, str | int], ...] = ()

    @property
    def params(self) -> dict[str, str | int]:
        return dict(self.values)

    def describe(self) -> str:
        return STRUCTURE_PROBLEMS[self.code] % self.params


def vin_findings(vin: str) -> list[StructureProblem]:
    """Why a normalized value cannot be a valid VIN."""
    if len(vin) != VIN_LENGTH:
        return [StructureProblem("vin_length", (("expected", VIN_LENGTH), ("length", len(vin))))]
    forbidden = _forbidden_letters(vin)
    if forbidden:
        return forbidden
    if any(c not in _VIN_VALUES for c in vin):
        return [StructureProblem("vin_alphabet")]
    expected = vin_check_digit(vin)
    found = vin[VIN_CHECK_POSITION - 1]
    if expected is not None and found != expected:
        return [StructureProblem("vin_check_digit",
                                 (("position", VIN_CHECK_POSITION), ("found", found), ("expected", expected)))]
    return []


def pin_findings(pin: str) -> list[StructureProblem]:
    """Why a normalized value cannot be an ISO 10261 PIN."""
    if len(pin) != PIN_LENGTH:
        return [StructureProblem("pin_length", (("expected", PIN_LENGTH), ("length", len(pin))))]
    problems = _forbidden_letters(pin)
    if not pin.isascii():
        problems.append(StructureProblem("pin_alphabet"))
    return problems


def structure_findings(identifier_type: str, value: str) -> list[StructureProblem]:
    """Structure problems of a normalized value of the given identifier type."""
    if identifier_type == "vin":
        return vin_findings(value)
    if identifier_type == "pin":
        return pin_findings(value)
    return []


def vin_problems(vin: str) -> list[str]:
    """Human-readable reasons why a normalized value cannot be a valid VIN."""
    return [p.describe() for p in vin_findings(vin)]


def pin_problems(pin: str) -> list[str]:
    """Human-readable reasons why a normalized value cannot be an ISO 10261 PIN."""
    return [p.describe() for p in pin_findings(pin)]


def structure_problems(identifier_type: str, value: str) -> list[str]:
    """Structure hints for a normalized value of the given identifier type, in English."""
    return [p.describe() for p in structure_findings(identifier_type, value)]


def _forbidden_letters(value: str) -> list[StructureProblem]:
    letters = sorted(set(value) & VIN_FORBIDDEN_LETTERS)
    if not letters:
        return []
    code = "forbidden_letter" if len(letters) == 1 else "forbidden_letters"
    return [StructureProblem(code, (("letters", ", ".join(letters)),))]
