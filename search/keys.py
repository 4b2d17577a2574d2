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
``c:``  interleaved classes.  Characters at positions i, i+3, i+6, ... form
        class i.  Two substitutions touch at most two of the three classes,
        so values of the same length with up to two substitutions share the
        untouched class.  Interleaving (rather than cutting the value into
        three runs) keeps a serial's unique tail in every class, so a
        manufacturer prefix shared by thousands of PINs cannot make a key
        unselective.
Trailing parts are found with a prefix lookup on the *reversed* skeleton
(``suffix_key``), one ordered-index range scan in either engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from search.normalize import normalize, skeleton

MIN_FUZZY_LENGTH = 6  # shorter values collide too often for edit-distance lookups
MIN_CLASS_KEY_LENGTH = 12  # below this a class is too short to be selective
MIN_PARTIAL_LENGTH = 6  # the shortest trailing part worth looking up
INDEX_DELETIONS = 1
QUERY_DELETIONS = 2
INTERLEAVED_CLASSES = 3


@dataclass(frozen=True)
class IdentifierKeys:
    """Everything an engine needs to index, or look up, one identifier value."""

    normalized: str
    skeleton: str
    terms: tuple[str, ...]
    suffix_key: str  # reversed skeleton: trailing parts become prefixes


def index_keys(value: str) -> IdentifierKeys:
    """Keys under which a registered identifier is stored."""
    return _keys(value, INDEX_DELETIONS)


def query_keys(value: str) -> IdentifierKeys:
    """Keys a check looks up for the identifier an officer read."""
    return _keys(value, QUERY_DELETIONS)


def _keys(value: str, deletions: int) -> IdentifierKeys:
    norm = normalize(value)
    skel = skeleton(norm)
    terms = {"d:" + skel}
    if len(skel) >= MIN_FUZZY_LENGTH:
        terms.update("d:" + v for v in deletion_variants(skel, deletions))
    if len(skel) >= MIN_CLASS_KEY_LENGTH:
        terms.update(class_keys(skel))
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
