"""Readings damaged the ways an officer damages them, for benchmarks and golden tests."""

from __future__ import annotations

import random
from collections.abc import Iterable

from registry.demo.alphabets import ALNUM, CONFUSABLE_WITH, CYRILLIC_LOOKALIKES, CYRILLIC_LOWER, TO_CYRILLIC

CORRUPTION_KINDS: tuple[str, ...] = (
    "formatting", "cyrillic", "confusable", "substitution", "two_substitutions",
    "insertion", "deletion", "transposition", "tail", "missing_prefix",
)
SEPARATORS = (" ", "-", ".", " ", "-")


def _alnum_positions(value: str) -> list[int]:
    return [i for i, c in enumerate(value) if c.isalnum()]


def _other_alnum(ch: str, rng: random.Random) -> str:
    while True:
        replacement = ALNUM[rng.randrange(len(ALNUM))]
        if replacement != ch.upper():
            return replacement


def corrupt(value: str, kind: str, rng: random.Random) -> str:
    """What an officer at a border post might type for ``value``; never ``value`` itself.

    Raises ValueError when ``kind`` cannot apply (no confusable character, a
    value too short for ``tail``, not 17 characters for ``missing_prefix``...),
    so callers can pick another kind.
    """
    chars = list(value)
    positions = _alnum_positions(value)
    if kind == "formatting":
        if len(value) < 2:
            raise ValueError("too short to reformat")
        if rng.random() < 0.5:
            chars = [c.lower() for c in chars]
        else:
            chars = [c.lower() if rng.random() < 0.4 else c for c in chars]
        for _ in range(1 + rng.randrange(3)):
            chars.insert(1 + rng.randrange(len(chars) - 1), SEPARATORS[rng.randrange(len(SEPARATORS))])
        result = "".join(chars)
    elif kind == "cyrillic":
        candidates = [i for i, c in enumerate(chars) if c in CYRILLIC_LOOKALIKES or c in CYRILLIC_LOWER]
        if not candidates:
            raise ValueError("no letter with a Cyrillic look-alike")
        if rng.random() >= 0.7:  # sometimes only part of it typed on the Cyrillic layout
            candidates = rng.sample(candidates, 1 + rng.randrange(len(candidates)))
        for i in candidates:
            chars[i] = chars[i].translate(TO_CYRILLIC)
        result = "".join(chars)
    elif kind == "confusable":
        candidates = [i for i, c in enumerate(chars) if c in CONFUSABLE_WITH]
        if not candidates:
            raise ValueError("no confusable character")
        swaps = 2 if len(candidates) > 1 and rng.random() < 0.3 else 1
        for i in rng.sample(candidates, swaps):
            options = CONFUSABLE_WITH[chars[i]]
            chars[i] = options[rng.randrange(len(options))]
        result = "".join(chars)
    elif kind in ("substitution", "two_substitutions"):
        needed = 1 if kind == "substitution" else 2
        if len(positions) < needed:
            raise ValueError("not enough characters to substitute")
        for i in rng.sample(positions, needed):
            chars[i] = _other_alnum(chars[i], rng)
        result = "".join(chars)
    elif kind == "insertion":
        chars.insert(rng.randrange(len(chars) + 1), ALNUM[rng.randrange(len(ALNUM))])
        result = "".join(chars)
    elif kind == "deletion":
        if len(positions) < 2:
            raise ValueError("too short to delete a character")
        del chars[rng.choice(positions)]
        result = "".join(chars)
    elif kind == "transposition":
        candidates = [i for i in range(len(chars) - 1)
                      if chars[i] != chars[i + 1] and chars[i].isalnum() and chars[i + 1].isalnum()]
        if not candidates:
            raise ValueError("no two different adjacent characters")
        i = rng.choice(candidates)
        chars[i], chars[i + 1] = chars[i + 1], chars[i]
        result = "".join(chars)
    elif kind == "tail":
        if len(positions) <= 6:
            raise ValueError("too short for a partial reading")
        keep = rng.randint(6, min(10, len(positions) - 1))
        result = value[positions[-keep]:]
    elif kind == "missing_prefix":
        if len(positions) != 17:
            raise ValueError("missing_prefix applies to 17-character PINs and VINs")
        result = value[positions[3]:]
    else:
        raise ValueError(f"unknown corruption kind {kind!r}; expected one of {CORRUPTION_KINDS}")
    if result == value:  # cannot happen with the rules above; keep the promise explicit
        raise ValueError(f"{kind} left {value!r} unchanged")
    return result


def corrupted_readings(reports: Iterable[dict], count: int, rng: random.Random) -> list[dict]:
    """Readings of active reports' identifiers, damaged by each of ``CORRUPTION_KINDS`` in turn.

    Each is ``{"kind", "reading", "external_ref", "agency"}``: what a benchmark
    or golden test sends, and the report it should find.
    """
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    readings: list[dict] = []
    while len(readings) < count:
        kind = CORRUPTION_KINDS[len(readings) % len(CORRUPTION_KINDS)]
        report = rng.choice(active)
        identifier = rng.choice(report["identifiers"])
        try:
            reading = corrupt(identifier["value"], kind, rng)
        except ValueError:
            continue
        readings.append({"kind": kind, "reading": reading, "external_ref": report["external_ref"],
                         "agency": report["reporting_agency"]["name"]})
    return readings
