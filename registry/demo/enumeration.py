"""How a hostile key holder tries to enumerate the registry, and what a real dealer sends.

``tests/test_enumeration.py`` runs these attacks against the service as each
role (the target: one dealer key learns at most 1% of the case references in
a day, whatever it sends) and ``bench/enumeration_bench.py`` measures them at
full size.  The attacker here is as strong as a public source tree makes one:
it knows every identifier family of the generated registries and which half
of each family's numbers the registry draws from; it does not know the seed.

An attack talks to the service through ``Ask``: readings in, for each the best
match the service showed (``None``: none), or ``Refused`` once the service
says no.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests

from registry.demo.reports import _FAMILIES, _Family, unregistered_serials
from search.normalize import normalize

Ask = Callable[[list[str]], list[dict[str, Any] | None]]
TAIL_LENGTH = 6  # the shortest tail the registry matches for those allowed tail matching
ROWS_PER_REQUEST = 1000  # what /v1/checks/bulk answers at once
TAIL_ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZ"  # what the next character of a plate may be
COVERED_DIGITS = 2  # a fuzzy match tolerates two typos: the last two digits need not be guessed


class Refused(Exception):
    """The service refused a request of the attack (its quota, its rate limit)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        super().__init__(f"{status}: {problem.get('detail')}")
        self.status = status
        self.problem = problem


def csv_file(readings: Sequence[str]) -> bytes:
    """Readings as the one-column CSV file a dealer uploads."""
    out = io.StringIO()
    csv.writer(out).writerows([["serial"], *[[r] for r in readings]])
    return out.getvalue().encode()


@dataclass
class Attacker:
    """One key asking a running service through ``/v1/checks/bulk``, a thousand rows a request, as the
    issue's dealer did; ``ask`` is its ``Ask``.  Keeps what it was shown and what it was refused."""

    url: str
    key: str
    shown: list[dict[str, Any] | None] = field(default_factory=list)
    refusals: list[Refused] = field(default_factory=list)
    rows_sent: int = 0

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "Content-Type": "text/csv"}

    def ask(self, readings: list[str]) -> list[dict[str, Any] | None]:
        matches: list[dict[str, Any] | None] = []
        for start in range(0, len(readings), ROWS_PER_REQUEST):
            chunk = readings[start:start + ROWS_PER_REQUEST]
            answer = requests.post(self.url + "/v1/checks/bulk", data=csv_file(chunk), headers=self.headers,
                                   timeout=600)
            if answer.status_code != 200:
                refused = Refused(answer.status_code, answer.json())
                self.refusals.append(refused)
                raise refused
            self.rows_sent += len(chunk)
            matches += [row["match"] for row in answer.json()["results"]]
        self.shown += matches
        return matches

    def learned(self) -> set[tuple[str, str]]:
        return case_references(self.shown)


def case_references(matches: Iterable[dict[str, Any] | None]) -> set[tuple[str, str]]:
    """The (agency, case number) pairs a series of answers revealed."""
    return {(m["reporting_agency"]["name"], m["external_ref"]) for m in matches if m}


def tail_sweep(start: int, count: int) -> list[str]:
    """Every 6-digit tail from ``start``: what the dealer of the issue sent, 000000 to 999999."""
    return [f"{n:0{TAIL_LENGTH}d}" for n in range(start, start + count)]


def grow_tails(ask: Ask, tails: Sequence[str], max_length: int = 17) -> dict[str, str]:
    """Grow each tail one character at a time, keeping the character whose reading still matches:
    the longest tail reached for each (the tail itself when no extension ever matched)."""
    grown = {}
    for tail in tails:
        reached = tail
        while len(reached) < max_length:
            readings = [c + reached for c in TAIL_ALPHABET]
            found = [r for r, match in zip(readings, ask(readings)) if match is not None]
            if not found:
                break
            reached = found[0]
        grown[tail] = reached
    return grown


def families_worth_sweeping(reports: Iterable[dict[str, Any]], count: int) -> list[_Family]:
    """The ``count`` plain-numbered families where a covering sweep reveals most identifiers per
    reading (held identifiers over readings needed): where a sweep pays best.  The attacker of this
    module learns them from the public source and a few hits."""
    plain = [f for f in _FAMILIES if type(f) is _Family and f.digits > COVERED_DIGITS]
    held: Counter[int] = Counter()
    for report in reports:
        for identifier in report["identifiers"]:
            value = normalize(identifier["value"])
            for index, family in enumerate(plain):
                if family.serial_of(value) is not None:
                    held[index] += 1
    yield_per_reading = {index: n / 10 ** (plain[index].digits - COVERED_DIGITS) for index, n in held.items()}
    return [plain[index] for index in sorted(yield_per_reading, key=lambda i: -yield_per_reading[i])[:count]]


def covering_sweep(families: Sequence[_Family], per_family: int) -> list[str]:
    """Readings that, if two typos are tolerated, cover each family's numbers: every value of the
    leading digits with the last two zeroed, so each reading stands for a hundred numbers."""
    readings = []
    for family in families:
        head_digits = family.digits - COVERED_DIGITS
        for n in range(min(per_family, 10 ** head_digits)):
            readings.append(family.head + f"{n:0{head_digits}d}" + "0" * COVERED_DIGITS)
    return readings


@dataclass(frozen=True)
class Inventory:
    """A dealer's stock as it would check it: serials read off its machines."""

    readings: list[str]
    reported: list[str]  # those among them that are registered as stolen or missing


def dealer_inventory(reports: Sequence[dict[str, Any]], size: int, reported: int, consecutive: int,
                     seed: int = 7) -> Inventory:
    """``size`` machines: ``reported`` of them registered as stolen or missing (typed as the agency
    did), a run of ``consecutive`` new machines of one model with serials that count up, and the
    rest machines nobody reported."""
    stolen = [i["value"] for r in reports if r["status"] in ("stolen", "missing") for i in r["identifiers"][:1]]
    chosen = stolen[:reported]
    base = unregistered_serials(1, seed)[0]
    head = base.rstrip("0123456789")
    start = int(base[len(head):] or 0)
    width = len(base) - len(head)
    run = [f"{head}{(start + n) % 10 ** width:0{width}d}" for n in range(consecutive)]
    others = unregistered_serials(size - len(chosen) - len(run) + 1, seed + 1)[1:]
    readings = [*others[: len(others) // 2], *chosen, *run, *others[len(others) // 2:]]
    return Inventory(readings, chosen)
