"""How close a reading is to a registered identifier, and why.

``compare`` aligns the officer's reading with a registered value using a
weighted edit distance in which confusable characters (O/0, I/1, S/5, ...)
cost a fraction of an arbitrary substitution, then turns the alignment into a
match type, a score in 0..1 and a sentence an officer can check against the
plate.  All weights and thresholds are the named constants below.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance.OSA import distance as _osa_distance

from search.identifiers import structure_problems
from search.normalize import confusable, lookalikes_typed, normalize, skeleton
from search.policy import MAX_EDITS, MIN_FUZZY_LENGTH, MIN_PARTIAL_LENGTH, allowed_typos

# Edit costs.  A confusable reading is a quarter of a real typo.
SUBSTITUTION_COST = 1.0
CONFUSABLE_COST = 0.25
INDEL_COST = 1.0
TRANSPOSITION_COST = 0.8

# Scores.  Exact and normalized equality are the only ones that make a hit.
EXACT_SCORE = 1.0
NORMALIZED_SCORE = 0.99
CONFUSABLE_BASE = 0.97
FUZZY_BASE = 0.9
PARTIAL_BASE = 0.55
PARTIAL_SPAN = 0.3
PARTIAL_CONFUSABLE_PENALTY = 0.02

_FAR = float("inf")
SAME_AFTER_NORMALIZATION = "same identifier once case, separators and look-alike letters are ignored"


@dataclass(frozen=True)
class Comparison:
    """The outcome of comparing a reading with one registered value."""

    match_type: str
    score: float
    explanation: str
    edits: tuple[Edit, ...] = ()  # of a confusable or fuzzy match: what ``search.grading`` judges, and callers show


@dataclass(frozen=True)
class _Edit:
    kind: str  # "sub", "extra" (only in the query), "missing" (only in the record), "swap"
    position: int  # 1-based position in the registered value
    query_text: str
    record_text: str

    @property
    def is_confusable(self) -> bool:
        return self.kind == "sub" and confusable(self.query_text, self.record_text)

    def describe(self) -> str:
        if self.kind == "sub":
            note = " (often misread)" if self.is_confusable else ""
            return (
                f"query has {self.query_text} where the record has {self.record_text} "
                f"at position {self.position}{note}"
            )
        if self.kind == "extra" and self.position == 0:
            return f"query has an extra {self.query_text} at the start"
        if self.kind == "extra":
            return f"query has an extra {self.query_text} after position {self.position}"
        if self.kind == "missing":
            return f"query is missing {self.record_text} at position {self.position}"
        return (
            f"query has {self.query_text} where the record has {self.record_text} "
            f"at positions {self.position}-{self.position + 1} (swapped neighbours)"
        )


Edit = _Edit  # one difference of an alignment, as ``align`` returns it


@dataclass(frozen=True)
class Reading:
    """What an officer read, normalized once per check rather than once per candidate."""

    raw: str
    normalized: str
    skeleton: str
    lookalike_notes: tuple[str, ...]

    @classmethod
    def of(cls, value: str) -> Reading:
        normalized = normalize(value)
        return cls(value.strip(), normalized, skeleton(normalized), tuple(_lookalike_notes(value)))


def compare(query: str | Reading, record_value: str, record_type: str = "other") -> Comparison | None:
    """Compare what an officer read with a registered identifier; None if unrelated."""
    reading = query if isinstance(query, Reading) else Reading.of(query)
    if reading.raw == record_value.strip():
        return Comparison("exact", EXACT_SCORE, "identical to the registered value")
    q, r = reading.normalized, normalize(record_value)
    if not q or not r:
        return None
    if q == r:
        explanation = "; ".join([SAME_AFTER_NORMALIZATION, *reading.lookalike_notes])
        return Comparison("normalized", NORMALIZED_SCORE, explanation)
    r_skeleton = skeleton(r)
    candidates = [c for c in (_edited(reading, r, r_skeleton), _trailing(reading, r, r_skeleton)) if c]
    if not candidates:
        return None
    best = max(candidates, key=lambda c: c.score)
    hints = structure_problems(record_type, q) if len(q) == len(r) else []
    details = [best.explanation, *reading.lookalike_notes, *hints]
    return Comparison(best.match_type, best.score, "; ".join(details), best.edits)


def within_reach(query_skeleton: str, record_skeleton: str) -> bool:
    """Whether ``compare`` could relate the two values at all, from their skeletons alone.

    Cheap enough for an engine to test before it even loads a candidate; it
    never says no where ``compare`` would find a match.
    """
    return reaches_any(query_skeleton, (record_skeleton,))


def typos_at_least(query_skeleton: str, record_skeleton: str, limit: int) -> int:
    """A lower bound on the typos of ``align`` (its edits that are not confusable misreads),
    exact up to ``limit``: above it, any number over ``limit``.

    On skeletons a confusable misread is no edit at all, and every other edit
    of an alignment stays one edit, so the unit-cost optimal-string-alignment
    distance of the skeletons never exceeds the typos.  RapidFuzz computes it
    in compiled code, stopping at ``limit``: a fraction of what ``align``
    costs in Python, which makes it the screen in front of ``align``.
    """
    return _osa_distance(query_skeleton, record_skeleton, score_cutoff=limit)


def reaches_any(query_skeleton: str, record_skeletons: Iterable[str]) -> bool:
    """``within_reach`` for a report: true if any of its identifiers may match.

    A shared tail, or lengths within ``MAX_EDITS`` and at most that many typos
    (``typos_at_least``).  One loop rather than a function call per
    identifier: engines call it for every candidate report, and Python's
    calls were most of its cost.
    """
    length, tails = len(query_skeleton), len(query_skeleton) >= MIN_PARTIAL_LENGTH
    for record_skeleton in record_skeletons:
        if tails and record_skeleton.endswith(query_skeleton):
            return True
        if (
            -MAX_EDITS <= len(record_skeleton) - length <= MAX_EDITS
            and _osa_distance(query_skeleton, record_skeleton, score_cutoff=MAX_EDITS) <= MAX_EDITS
        ):
            return True
    return False


def _edited(reading: Reading, r: str, r_skeleton: str) -> Comparison | None:
    """A confusable or fuzzy match, when few enough edits separate the two."""
    q = reading.normalized
    if abs(len(q) - len(r)) > MAX_EDITS or min(len(q), len(r)) < MIN_FUZZY_LENGTH - 1:
        return None
    allowed = allowed_typos(len(r))
    if typos_at_least(reading.skeleton, r_skeleton, allowed) > allowed:
        return None  # more typos than a fuzzy match may have, and not a confusable one either
    cost, edits = align(q, r)
    typos = sum(1 for e in edits if not e.is_confusable)
    explanation = "; ".join(e.describe() for e in edits)
    if typos == 0:
        return Comparison("confusable", round(CONFUSABLE_BASE * (1 - cost / len(r)), 4), explanation, tuple(edits))
    if typos <= allowed and len(r) >= MIN_FUZZY_LENGTH:
        score = FUZZY_BASE * (1 - cost / max(len(q), len(r)))
        return Comparison("fuzzy", round(score, 4), explanation, tuple(edits))
    return None


def _trailing(reading: Reading, r: str, r_skeleton: str) -> Comparison | None:
    """A partial match: the query is the legible tail of the registered value."""
    q = reading.normalized
    if len(q) < MIN_PARTIAL_LENGTH or len(q) >= len(r) or not r_skeleton.endswith(reading.skeleton):
        return None
    tail = r[-len(q) :]
    misreads = sum(1 for a, b in zip(q, tail) if a != b)
    score = PARTIAL_BASE + PARTIAL_SPAN * len(q) / len(r) - PARTIAL_CONFUSABLE_PENALTY * misreads
    unread = len(r) - len(q)
    explanation = (
        f"query matches the last {len(q)} of {len(r)} characters; "
        f"the first {unread} ({r[:unread]}) were not read"
    )
    if misreads:
        explanation += f", {misreads} of the matched characters read as look-alikes"
    return Comparison("partial", round(score, 4), explanation)


def align(q: str, r: str) -> tuple[float, list[_Edit]]:
    """Weighted optimal-string-alignment distance and the edits that achieve it.

    Only cells within ``MAX_EDITS`` of the diagonal are filled: an alignment
    that strays further needs more insertions or deletions than any accepted
    match has, and the band makes a comparison several times cheaper.  Two
    different characters are confusable when their skeleton characters are
    equal, so each cell compares two characters instead of calling
    ``confusable``, and minima are taken by comparisons rather than a call
    to ``min`` per cell.
    """
    n, m = len(q), len(r)
    qs, rs = skeleton(q), skeleton(r)
    dist = [[_FAR] * (m + 1) for _ in range(n + 1)]
    for i in range(min(n, MAX_EDITS) + 1):
        dist[i][0] = i * INDEL_COST
    for j in range(min(m, MAX_EDITS) + 1):
        dist[0][j] = j * INDEL_COST
    for i in range(1, n + 1):
        qi, qsi, q_before = q[i - 1], qs[i - 1], q[i - 2] if i > 1 else ""
        row, above, two_above = dist[i], dist[i - 1], dist[i - 2]
        for j in range(max(1, i - MAX_EDITS), min(m, i + MAX_EDITS) + 1):
            rj = r[j - 1]
            if qi == rj:
                best = above[j - 1]
            else:
                best = above[j - 1] + (CONFUSABLE_COST if qsi == rs[j - 1] else SUBSTITUTION_COST)
                if j > 1 and q_before == rj and qi == r[j - 2]:
                    swapped = two_above[j - 2] + TRANSPOSITION_COST
                    if swapped < best:
                        best = swapped
            inserted = above[j] + INDEL_COST
            if inserted < best:
                best = inserted
            deleted = row[j - 1] + INDEL_COST
            if deleted < best:
                best = deleted
            row[j] = best
    return dist[n][m], _trace(dist, q, r, qs, rs)


def _trace(dist: list[list[float]], q: str, r: str, qs: str, rs: str) -> list[_Edit]:
    edits: list[_Edit] = []
    i, j = len(q), len(r)
    while i > 0 or j > 0:
        here = dist[i][j]
        if i > 0 and j > 0:
            qi, rj = q[i - 1], r[j - 1]
            if qi == rj:
                if _same(here, dist[i - 1][j - 1]):
                    i, j = i - 1, j - 1
                    continue
            elif _same(here, dist[i - 1][j - 1] + (
                CONFUSABLE_COST if qs[i - 1] == rs[j - 1] else SUBSTITUTION_COST
            )):
                edits.append(_Edit("sub", j, qi, rj))
                i, j = i - 1, j - 1
                continue
            if (
                i > 1 and j > 1 and qi == r[j - 2] and q[i - 2] == rj
                and _same(here, dist[i - 2][j - 2] + TRANSPOSITION_COST)
            ):
                edits.append(_Edit("swap", j - 1, q[i - 2 : i], r[j - 2 : j]))
                i, j = i - 2, j - 2
                continue
        if i > 0 and _same(here, dist[i - 1][j] + INDEL_COST):
            edits.append(_Edit("extra", j, q[i - 1], ""))
            i -= 1
        else:
            edits.append(_Edit("missing", j, "", r[j - 1]))
            j -= 1
    return edits[::-1]


def _same(a: float, b: float) -> bool:
    return -1e-9 < a - b < 1e-9


def _lookalike_notes(query: str) -> list[str]:
    typed = lookalikes_typed(query)
    if not typed:
        return []
    letters = ", ".join(f"{c} for {latin}" for c, latin in typed)
    return [f"query was typed with non-Latin look-alike letters ({letters})"]
