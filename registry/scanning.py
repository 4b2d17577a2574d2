"""Scanning: readings that walk through the registry instead of reading plates.

A dealer checks what stands on its lot: machines of many makes whose serials
have little to do with each other.  Someone enumerating the registry sends
readings that follow each other instead: one pattern with the number counting
up (``KMTPC300C55A17001``, ``...17002``), a tail grown or cut one or two
characters at a time (``17044``, ``A17044``, ``5A17044``), or one tail tried
behind many beginnings (``0A17044``, ``1A17044``...).  ``observe`` counts,
per key and day, the readings that follow one seen before (that day, among
the last ``REMEMBERED`` of the key, or earlier in the same file); enough of
them raise an alert (``registry.services.usage``).

Pure: the state is a plain document the engine's counters keep.
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections.abc import Sequence
from typing import Any

from registry.records import Document
from search.normalize import normalize

SEQUENCE_GAP = 10  # numbers this close, in the same pattern, count as a sequence
MIN_NUMBER_DIGITS = 3  # shorter digit runs (a model number, a year) are not serial numbers
MIN_TAIL = 4  # shorter readings are not compared as tails
TAIL_STEP = 2  # a tail grown or cut by up to this many leading characters
SHARED_TAIL = 6  # longer readings ending in the same this many characters: one tail, many beginnings
REMEMBERED = 100  # readings of a key remembered between requests
MAX_OBSERVED = 10_000  # readings of one file looked at: a scan shows long before that
EXAMPLES_KEPT = 5
LAST_NUMBER = re.compile(r"\d+(?=\D*$)")


def shape(reading: str) -> tuple[str, int] | None:
    """A normalized reading as (pattern, number): its last run of digits taken out, if long enough."""
    match = LAST_NUMBER.search(reading)
    if match is None or len(match[0]) < MIN_NUMBER_DIGITS:
        return None
    return f"{reading[:match.start()]}#{len(match[0])}#{reading[match.end():]}", int(match[0])


def observe(state: Document | None, readings: Sequence[str]) -> tuple[Document, list[str]]:
    """The state after ``readings``, and those of them that follow a reading seen before."""
    recent: list[str] = list(state["recent"]) if state else []
    memory = _Memory()
    for reading in recent:
        memory.remember(reading)
    flagged: list[str] = []
    for raw in readings[:MAX_OBSERVED]:
        reading = normalize(raw)
        if not reading or reading in memory.seen:
            continue  # a repeat is not a scan
        if memory.follows(reading):
            flagged.append(raw)
        memory.remember(reading)
        recent.append(reading)
    examples: list[Any] = list(state["examples"]) if state else []
    return {
        "recent": recent[-REMEMBERED:],
        "flagged": (state["flagged"] if state else 0) + len(flagged),
        "examples": (examples + flagged)[:EXAMPLES_KEPT],
        "alerted": bool(state and state["alerted"]),
    }, flagged


class _Memory:
    """What earlier readings say about the next one."""

    def __init__(self) -> None:
        self.numbers: dict[str, list[int]] = {}  # pattern -> its numbers seen, sorted
        self.seen: set[str] = set()
        self.cut: set[str] = set()  # seen readings with their first characters removed
        self.tails: set[str] = set()  # the last characters of seen readings longer than that

    def follows(self, reading: str) -> bool:
        shaped = shape(reading)
        if shaped is not None:
            known = self.numbers.get(shaped[0], [])
            at = bisect_left(known, shaped[1])
            if any(abs(known[i] - shaped[1]) <= SEQUENCE_GAP for i in (at - 1, at) if 0 <= i < len(known)):
                return True
        if len(reading) > SHARED_TAIL and reading[-SHARED_TAIL:] in self.tails:
            return True
        return reading in self.cut or any(reading[step:] in self.seen for step in range(1, TAIL_STEP + 1)
                                          if len(reading) - step >= MIN_TAIL)

    def remember(self, reading: str) -> None:
        shaped = shape(reading)
        if shaped is not None:
            insort(self.numbers.setdefault(shaped[0], []), shaped[1])
        self.seen.add(reading)
        self.cut.update(reading[step:] for step in range(1, TAIL_STEP + 1) if len(reading) - step >= MIN_TAIL)
        if len(reading) > SHARED_TAIL:
            self.tails.add(reading[-SHARED_TAIL:])
