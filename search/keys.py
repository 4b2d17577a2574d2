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
        Values of 8 to 11 characters, too short for class keys but long
        enough for two edits, are indexed with up to two deletions, so any
        two edits of them share a key.
``c:``  interleaved classes, for values of 12 or more characters.
        Characters at positions i, i+3, i+6, ... form class i.  Two
        substitutions touch at most two of the three classes, so values of
        the same length with up to two substitutions share the untouched
        class.  A query that is one or two characters short (a character not
        read, plus perhaps one misread) also builds the classes of the
        longer record it may come from, for every place the missing
        characters may have been: a class with no missing character in it
        is then exact.  Likewise the query builds the classes of itself with
        each pair of neighbours swapped back, so a swap plus a substitution,
        or two swaps, still meet an intact class.  Interleaving (rather than cutting the value into
        three runs) keeps a serial's unique tail in every class, so a
        manufacturer prefix shared by thousands of PINs cannot make a key
        unselective.
Not reached: a swap of neighbours plus a missing or extra character on a
value of 12 or more characters (the scorer would accept it; no key links it).

Trailing parts are found with a prefix lookup on the *reversed* skeleton
(``suffix_key``), one ordered-index range scan in either engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations_with_replacement
from typing import Callable

from search.normalize import normalize, skeleton

MIN_FUZZY_LENGTH = 6  # shorter values collide too often for edit-distance lookups
MIN_TWO_EDIT_LENGTH = 8  # the scorer tolerates two edits from this length on
MIN_CLASS_KEY_LENGTH = 12  # below this a class is too short to be selective
MIN_PARTIAL_LENGTH = 6  # the shortest trailing part worth looking up
INDEX_DELETIONS = 1
SHORT_INDEX_DELETIONS = 2  # for values of MIN_TWO_EDIT_LENGTH..MIN_CLASS_KEY_LENGTH-1
QUERY_DELETIONS = 2
INTERLEAVED_CLASSES = 3
MAX_MISSING_CHARACTERS = 2  # characters a reading may lack and still be matched


@dataclass(frozen=True)
class IdentifierKeys:
    """Everything an engine needs to index, or look up, one identifier value."""

    normalized: str
    skeleton: str
    terms: tuple[str, ...]
    suffix_key: str  # reversed skeleton: trailing parts become prefixes


def index_keys(value: str) -> IdentifierKeys:
    """Keys under which a registered identifier is stored."""
    return _keys(value, index_deletions, query=False)


def query_keys(value: str) -> IdentifierKeys:
    """Keys a check looks up for the identifier an officer read."""
    return _keys(value, lambda _length: QUERY_DELETIONS, query=True)


def index_deletions(length: int) -> int:
    """Deletions indexed for a value: two where only they can reach two edits."""
    if MIN_TWO_EDIT_LENGTH <= length < MIN_CLASS_KEY_LENGTH:
        return SHORT_INDEX_DELETIONS
    return INDEX_DELETIONS


def _keys(value: str, deletions: Callable[[int], int], query: bool) -> IdentifierKeys:
    norm = normalize(value)
    skel = skeleton(norm)
    terms = {"d:" + skel}
    if len(skel) >= MIN_FUZZY_LENGTH:
        terms.update("d:" + v for v in deletion_variants(skel, deletions(len(skel))))
    if len(skel) >= MIN_CLASS_KEY_LENGTH:
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
    """One key per interleaved class, tagged with class number and length."""
    return {f"c:{i}/{len(value)}:{value[i::INTERLEAVED_CLASSES]}" for i in range(INTERLEAVED_CLASSES)}


def gapped_class_keys(value: str) -> set[str]:
    """Class keys of the records one or two characters longer that ``value`` may be read from.

    Only where the missing characters fall relative to a class's positions
    matters (how far later positions shift), so each class enumerates the
    gaps between its own positions rather than every position of the record.
    """
    keys: set[str] = set()
    for missing in range(1, MAX_MISSING_CHARACTERS + 1):
        length = len(value) + missing
        if length < MIN_CLASS_KEY_LENGTH:
            continue
        for i in range(INTERLEAVED_CLASSES):
            positions = range(i, length, INTERLEAVED_CLASSES)
            # Room for missing characters before each class position, and after the last.
            room = [i] + [INTERLEAVED_CLASSES - 1] * (len(positions) - 1) + [length - 1 - positions[-1]]
            for gaps in combinations_with_replacement(range(len(room)), missing):
                if any(gaps.count(g) > room[g] for g in gaps):
                    continue
                # Class positions from the j-th gap on are shifted j characters left in ``value``.
                bounds = (0, *gaps, len(positions))
                chars = "".join(
                    value[positions[a] - shift : positions[b - 1] - shift + 1 : INTERLEAVED_CLASSES]
                    for shift, (a, b) in enumerate(zip(bounds, bounds[1:]))
                    if a < b
                )
                keys.add(f"c:{i}/{length}:{chars}")
    return keys


def unswapped_class_keys(value: str) -> set[str]:
    """Class keys of ``value`` with each pair of different neighbours swapped back.

    A swap of neighbours touches two classes; undone where it may have
    happened, it leaves the classes only the other edit to absorb.
    """
    keys: set[str] = set()
    if len(value) < MIN_CLASS_KEY_LENGTH:
        return keys
    for i in range(len(value) - 1):
        if value[i] != value[i + 1]:
            keys |= class_keys(value[:i] + value[i + 1] + value[i] + value[i + 2 :])
    return keys
