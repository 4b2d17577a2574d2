"""Structure checks for identifiers that a standard defines.

A failed check is never an error: a serial read off a worn plate is often
wrong, and telling the officer *why* a reading cannot be right (a VIN whose
check digit does not validate, a PIN with a letter no PIN may contain) is a
hint that points at the misread character.
"""

from __future__ import annotations

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


def vin_problems(vin: str) -> list[str]:
    """Human-readable reasons why a normalized value cannot be a valid VIN."""
    if len(vin) != VIN_LENGTH:
        return [f"a VIN has {VIN_LENGTH} characters, this has {len(vin)}"]
    forbidden = _forbidden_letters(vin)
    if forbidden:
        return forbidden
    if any(c not in _VIN_VALUES for c in vin):
        return ["a VIN holds only Latin letters and digits"]
    expected = vin_check_digit(vin)
    found = vin[VIN_CHECK_POSITION - 1]
    if found != expected:
        return [
            f"VIN check digit does not validate (position {VIN_CHECK_POSITION} "
            f"is {found}, the other characters give {expected}): a character is probably misread"
        ]
    return []


def pin_problems(pin: str) -> list[str]:
    """Human-readable reasons why a normalized value cannot be an ISO 10261 PIN."""
    if len(pin) != PIN_LENGTH:
        return [f"an ISO 10261 PIN has {PIN_LENGTH} characters, this has {len(pin)}"]
    problems = _forbidden_letters(pin)
    if not pin.isascii():
        problems.append("a PIN holds only Latin letters and digits")
    return problems


def structure_problems(identifier_type: str, value: str) -> list[str]:
    """Structure hints for a normalized value of the given identifier type."""
    if identifier_type == "vin":
        return vin_problems(value)
    if identifier_type == "pin":
        return pin_problems(value)
    return []


def _forbidden_letters(value: str) -> list[str]:
    letters = sorted(set(value) & VIN_FORBIDDEN_LETTERS)
    if not letters:
        return []
    named = f"the letter {letters[0]} never appears" if len(letters) == 1 else (
        f"the letters {', '.join(letters)} never appear"
    )
    return [f"{named} in a 17-character VIN or PIN (misread for 0 or 1?)"]
