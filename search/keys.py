"""Lookup keys: how an engine finds candidates without scanning the registry.

Every identifier is indexed under a handful of exact-match keys (plain
strings, stored as keyword terms in Elasticsearch and as hashed integers in
SQLite).  A query is turned into its own set of keys; any record sharing one
key with the query is a candidate, and the scorer decides how close it is.
Both engines use these functions, so they retrieve the same candidates.

Key families (all computed on the confusable skeleton, so O/0, I/1, ...
readings never cost a lookup):

``d:``  deletion neighbourhood.  The index stores the skeleton and every
        variant with one character deleted; the query looks up its skeleton
        and every variant with up to two deleted.  Two strings share a key
        when one edit (substitution, insertion, deletion), a swap of
        neighbours, one insertion plus one deletion, or an insertion plus a
        substitution separates them.
``c:``  pigeonhole keys, for values of 8 or more characters.  Positions are
        dealt round-robin into interleaved classes (position p goes to class
        p mod k) and a key keeps the characters of some of the classes.
        Values of 12+ characters use three classes, one per key: two
        substitutions touch at most two of them, so one key stays intact.
        Values of 8 to 11 characters use five classes, three per key (ten
        keys, each holding 60% of the characters, enough to stay selective
        on a short serial).  Interleaving, rather than cutting the value
        into runs, keeps a serial's unique tail in every key, so a
        manufacturer prefix shared by thousands of PINs cannot make a key
        unselective.  A query that is one or two characters short (a
        character not read, plus perhaps one misread) also builds the keys
        of the longer records it may come from, for every place the missing
        characters may have been (``gapped_class_keys``); and it builds the
        keys of itself with each pair of neighbours swapped back, so a swap
        plus a substitution, or two swaps, still meet an intact key.
Not reached: a swap of neighbours plus a missing or extra character (the
scorer would accept it; no key links it).

Trailing parts are found with a prefix lookup on the *reversed* skeleton
(``suffix_key``), one ordered-index range scan in either engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from itertools import combinations, combinations_with_replacement
from operator import itemgetter

from search.normalize import normalize, skeleton
from search.policy import (
    INDEX_DELETIONS,
    LONG_VALUE_LENGTH,
    MAX_MISSING_CHARACTERS,
    MIN_FUZZY_LENGTH,
    MIN_PARTIAL_LENGTH,
    MIN_TWO_EDIT_LENGTH,
    QUERY_DELETIONS,
)


@dataclass(frozen=True)
class Pigeonhole:
    """``classes`` interleaved classes; each key keeps ``kept`` of them.

    With at most ``classes - kept`` substitutions, some key is untouched.
    """

    classes: int
    kept: int

    def subsets(self) -> list[tuple[int, ...]]:
        return list(combinations(range(self.classes), self.kept))

    def positions(self, subset: tuple[int, ...], length: int) -> list[int]:
        return [p for p in range(length) if p % self.classes in subset]

    def key(self, subset: tuple[int, ...], length: int, chars: str) -> str:
        return f"c:{self.classes}.{''.join(map(str, subset))}/{length}:{chars}"


SHORT_PIGEONHOLE = Pigeonhole(classes=5, kept=3)
LONG_PIGEONHOLE = Pigeonhole(classes=3, kept=1)


def pigeonhole_for(length: int) -> Pigeonhole | None:
    if length >= LONG_VALUE_LENGTH:
        return LONG_PIGEONHOLE
    if length >= MIN_TWO_EDIT_LENGTH:
        return SHORT_PIGEONHOLE
    return None


@dataclass(frozen=True)
class IdentifierKeys:
    """Everything an engine needs to index, or look up, one identifier value."""

    normalized: str
    skeleton: str
    terms: tuple[str, ...]
    suffix_key: str  # reversed skeleton: trailing parts become prefixes


@dataclass(frozen=True)
class ReportKeys:
    """What every engine indexes for all the identifiers of one report."""

    terms: frozenset[str]
    suffix_keys: frozenset[str]  # of values long enough for a trailing-part lookup
    skeletons: tuple[str, ...]  # one per identifier, for screening candidates


def report_keys(values: Iterable[str]) -> ReportKeys:
    """The lookup keys, suffix keys and skeletons of a report's identifier values."""
    per_value = [index_keys(v) for v in values]
    return ReportKeys(
        frozenset(t for keys in per_value for t in keys.terms),
        frozenset(k.suffix_key for k in per_value if len(k.skeleton) >= MIN_PARTIAL_LENGTH),
        tuple(k.skeleton for k in per_value),
    )


def index_keys(value: str) -> IdentifierKeys:
    """Keys under which a registered identifier is stored."""
    return _keys(value, INDEX_DELETIONS, query=False)


def query_keys(value: str) -> IdentifierKeys:
    """Keys a check looks up for the identifier an officer read."""
    return _keys(value, QUERY_DELETIONS, query=True)


def _keys(value: str, deletions: int, query: bool) -> IdentifierKeys:
    norm = normalize(value)
    skel = skeleton(norm)
    terms = {"d:" + skel}
    if len(skel) >= MIN_FUZZY_LENGTH:
        terms.update("d:" + v for v in deletion_variants(skel, deletions))
    terms.update(class_keys(skel))
    if query:
        terms.update(gapped_class_keys(skel))
        terms.update(unswapped_class_keys(skel))
    return IdentifierKeys(norm, skel, tuple(sorted(terms)), skel[::-1])


def deletion_variants(value: str, max_deletions: int) -> set[str]:
    """Every string obtained by deleting 1..max_deletions characters."""
    variants: set[str] = set()
    frontier = {value}
    for _ in range(max_deletions):
        frontier = {v[:i] + v[i + 1 :] for v in frontier for i in range(len(v))}
        variants |= frontier
    return variants


def class_keys(value: str) -> set[str]:
    """The pigeonhole keys of a value (none below ``MIN_TWO_EDIT_LENGTH``)."""
    return {prefix + "".join(pick(value)) for prefix, pick in _class_patterns(len(value))}


def gapped_class_keys(value: str) -> set[str]:
    """Pigeonhole keys of the records one or two characters longer that ``value`` may be read from."""
    return {prefix + "".join(pick(value)) for prefix, pick in _gapped_patterns(len(value))}


Pattern = tuple[str, Callable[[str], Iterable[str]]]  # a key's prefix, and which characters of the value it keeps


@cache
def _class_patterns(length: int) -> tuple[Pattern, ...]:
    scheme = pigeonhole_for(length)
    if scheme is None:
        return ()
    return tuple(
        (scheme.key(subset, length, ""), itemgetter(*scheme.positions(subset, length)))
        for subset in scheme.subsets()
    )


@cache
def _gapped_patterns(length: int) -> tuple[Pattern, ...]:
    """For a reading of ``length`` characters, every key of a record 1..MAX_MISSING longer.

    Only where the missing characters fall relative to a key's positions
    matters (how far later positions shift), so each key enumerates the gaps
    between its own positions rather than every position of the record.  The
    patterns depend on lengths only, so they are computed once per length.
    """
    patterns: dict[tuple[str, tuple[int, ...]], None] = {}
    for missing in range(1, MAX_MISSING_CHARACTERS + 1):
        record_length = length + missing
        scheme = pigeonhole_for(record_length)
        if scheme is None:
            continue
        for subset in scheme.subsets():
            positions = scheme.positions(subset, record_length)
            # Room for missing characters before each kept position, and after the last.
            room = [positions[0]] + [b - a - 1 for a, b in zip(positions, positions[1:])]
            room.append(record_length - 1 - positions[-1])
            for gaps in combinations_with_replacement(range(len(room)), missing):
                if any(gaps.count(g) > room[g] for g in gaps):
                    continue
                # Kept positions from the j-th gap on sit j characters earlier in the reading.
                bounds = (0, *gaps, len(positions))
                picked = tuple(
                    positions[k] - shift
                    for shift, (a, b) in enumerate(zip(bounds, bounds[1:]))
                    for k in range(a, b)
                )
                patterns[(scheme.key(subset, record_length, ""), picked)] = None
    return tuple((prefix, itemgetter(*picked)) for prefix, picked in patterns)


def unswapped_class_keys(value: str) -> set[str]:
    """Pigeonhole keys of ``value`` with each pair of different neighbours swapped back.

    A swap of neighbours touches two classes; undone where it may have
    happened, it leaves the keys only the other edit to absorb.
    """
    keys: set[str] = set()
    if pigeonhole_for(len(value)) is None:
        return keys
    for i in range(len(value) - 1):
        if value[i] != value[i + 1]:
            keys |= class_keys(value[:i] + value[i + 1] + value[i] + value[i + 2 :])
    return keys


# Seen before: a new report is matched against the checks already made.  A check is kept
# under its reading's index keys and, as ``t:``, its skeleton; a report looks them up with its
# identifiers' query keys and, as ``t:``, each trailing part of a skeleton long enough to be a
# legible tail, so a check finds a later report as it would have found it registered
# (substitutions, swaps, a missing or extra character, a worn tail).  The verdict is
# ``search.matching.rank`` of the check's own query, as at the check.
TAIL_PREFIX = "t:"


def reading_terms(value: str) -> tuple[str, ...]:
    """Keys a check record is kept under, for reports registered after it."""
    keys = index_keys(value)
    return tuple(sorted({*keys.terms, TAIL_PREFIX + keys.skeleton}))


def sighting_terms(values: Iterable[str]) -> tuple[str, ...]:
    """Keys a new report's identifiers look up among the checks made before it."""
    terms: set[str] = set()
    for value in values:
        keys = query_keys(value)
        terms.update(keys.terms)
        skel = keys.skeleton
        terms.update(TAIL_PREFIX + skel[start:] for start in range(len(skel) - MIN_PARTIAL_LENGTH + 1))
        terms.add(TAIL_PREFIX + skel)
    return tuple(sorted(terms))
