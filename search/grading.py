"""What a resemblance is evidence of: this plate misread, or another machine of the series.

Equipment is numbered in sequence, so a machine that was never reported
usually sits one or two digits from one that was.  ``search.scoring.compare``
measures how close a reading is to a registered value; ``grade`` judges how
likely the differences are to be a misreading of *this* plate, and puts the
match in a tier (``search.vocabulary``):

``alarm`` (strong evidence: stop and confirm)
    equal once formatting, case and look-alike letters are ignored; only
    look-alike characters differ (O/0, I/1, S/5, B/8, Z/2, G/6: two real
    serials never differ only that way); the reading is the value without its
    first characters (a worn plate, a missing maker code), and what was read
    is selective: it holds the whole running number (the value's last run of
    digits) and at least ``SELECTIVE_TAIL_FIXED_CHARACTERS`` characters before
    it; neighbours typed in the wrong order outside the running number.
``similar`` (weak evidence: a similar serial, not an alarm)
    one or two wrong, missing or extra characters, or swapped digits of the
    running number, which are as likely a neighbouring machine as a typo; a
    tail that does not reach past the running number, or that several
    registered values end with; a description.

Context moves a grade.  A reading copied from a file rarely holds typos and
OCR confuses look-alikes rather than typing slips, so only a typed reading's
swap is a slip, and typos weigh less in the other two.  A conflicting
manufacturer, model or category undoes the evidence that rests on a value
being selective in its series (a tail, a swap); an agreeing model narrows a
tail to its series as one more legible character would.  Each further
report resembling the reading lowers the scores of similar serials (all of
them alike, so it never reorders them).
The two tiers' scores never overlap, so every alarm ranks above every similar
serial.  Scores are monotone in ``compare``'s similarity within a tier.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from search.normalize import normalize, skeleton
from search.policy import MIN_PARTIAL_LENGTH, SELECTIVE_TAIL_FIXED_CHARACTERS
from search.query import CheckQuery
from search.scoring import Comparison, Edit, Reading
from search.vocabulary import ALARM, COPIED, HIT_MATCH_TYPES, OCR, SIMILAR, TYPED

# Scores of each tier: (lowest, highest).  An alarm stays below an equal identifier (0.99).
SCORE_BANDS: dict[str, tuple[float, float]] = {ALARM: (0.70, 0.98), SIMILAR: (0.35, 0.65)}
# What the query says of the item: agreement is a small nudge, conflict a larger one (within the tier).
CONTEXT_FIELDS = ("manufacturer", "model", "category")
CONTEXT_AGREES_BONUS = 0.02
CONTEXT_CONFLICTS_PENALTY = 0.05
CONTEXT_HEADROOM = CONTEXT_AGREES_BONUS * len(CONTEXT_FIELDS)  # left at the top of a band for agreement
CONTEXT_DIFFERS = "%(field)s differs (query %(asked)s, record %(registered)s)"
# How likely an arbitrary typo is in a reading obtained this way, relative to a typed one.
TYPO_LIKELIHOOD: dict[str, float] = {TYPED: 1.0, OCR: 0.8, COPIED: 0.5}
CROWDING_WEIGHT = 0.15  # each further report resembling the reading takes this share off a similar score
MAKER_CODE_LENGTH = 3  # a PIN or VIN starts with its maker's code: only wording depends on it

# The grounds of a grade, as English templates and their values (``registry.explanations`` translates them).
LOOKALIKES_ONLY = "only look-alike characters differ: two real serials never differ only that way"
TYPING_SLIP = "characters outside the running number typed in the wrong order: a typing slip"
RUNNING_NUMBER_DIFFERS = ("a difference in the running number (%(running)s) is as likely a neighbouring machine "
                          "as a misreading")
TYPO = "a wrong, missing or extra character is as likely another machine as a misreading"
COPIED_TYPO = "copied from a file, where typos are rare"
CROWDED = "%(count)d registered reports have a value like this reading"
TAIL_SHARED = "%(count)d registered reports have values ending this way"
TAIL_CONTEXT_DIFFERS = "a tail is selective only within its maker's series, and the context differs"
MAKER_CODE_MISSING = "only the start (%(unread)s) not read, as a worn maker code would be; the rest matches"
TAIL_SELECTIVE = ("the legible part holds the whole running number (%(running)s) and %(before)s before it: "
                  "selective in its series")
TAIL_SELECTIVE_WITH_MODEL = ("the legible part holds the whole running number (%(running)s) and %(before)s before "
                             "it, and the model agrees: selective in its series")
TAIL_NOT_SELECTIVE = ("the legible part does not reach far enough past the running number (%(running)s): other "
                      "machines of the series end the same way")
DESCRIPTION_ONLY = "a description alone cannot tell one machine of a model from another"
GROUNDS = (LOOKALIKES_ONLY, TYPING_SLIP, RUNNING_NUMBER_DIFFERS, TYPO, COPIED_TYPO, CROWDED, TAIL_SHARED,
           TAIL_CONTEXT_DIFFERS, MAKER_CODE_MISSING, TAIL_SELECTIVE, TAIL_SELECTIVE_WITH_MODEL, TAIL_NOT_SELECTIVE,
           DESCRIPTION_ONLY)
EDITED_MATCH_TYPES = frozenset({"confusable", "fuzzy"})  # what ``align``'s edit list explains


@dataclass(frozen=True)
class Resemblance:
    """A registered identifier that a reading resembles, and how."""

    identifier: Mapping[str, Any]
    comparison: Comparison
    record: str  # the registered value, normalized
    legible: int  # when the reading is the value's trailing part (look-alikes aside): its length, else 0

    @classmethod
    def of(cls, reading: Reading, identifier: Mapping[str, Any], comparison: Comparison) -> Resemblance:
        record = normalize(identifier["value"])
        legible = len(reading.normalized)
        is_tail = MIN_PARTIAL_LENGTH <= legible < len(record) and skeleton(record).endswith(reading.skeleton)
        return cls(identifier, comparison, record, legible if is_tail else 0)


@dataclass(frozen=True)
class Neighbourhood:
    """How crowded the registry is around a reading, counted in the candidates a check retrieved."""

    resembling: int = 1  # reports with an identifier the reading resembles (typos, look-alikes, its tail)
    sharing_tail: int = 1  # reports with an identifier the reading is the trailing part of

    @classmethod
    def of(cls, per_report: Iterable[Sequence[Resemblance]]) -> Neighbourhood:
        resembling = sharing_tail = 0
        for resemblances in per_report:
            resembling += any(r.comparison.match_type not in HIT_MATCH_TYPES for r in resemblances)
            sharing_tail += any(r.legible for r in resemblances)
        return cls(max(resembling, 1), max(sharing_tail, 1))


@dataclass(frozen=True)
class Context:
    """What else a check knows that bears on a grade: how the reading was obtained, and whether
    the query's manufacturer, model and category agree with the report's."""

    reading_source: str = TYPED
    agreeing: frozenset[str] = frozenset()
    differing: tuple[tuple[str, str, str], ...] = ()  # (field, asked, registered) of each field that differs

    @classmethod
    def of(cls, query: CheckQuery, report: Mapping[str, Any]) -> Context:
        agreeing, differing = set(), []
        for name in CONTEXT_FIELDS:
            asked, registered = getattr(query, name), report.get(name)
            if not asked or not registered:
                continue
            if _same_name(asked, registered):
                agreeing.add(name)
            else:
                differing.append((name, asked, registered))
        return cls(query.reading_source, frozenset(agreeing), tuple(differing))

    @property
    def conflicting(self) -> bool:
        return bool(self.differing)

    @property
    def conflicts(self) -> tuple[str, ...]:
        """Each field that differs, as an explanation says it."""
        return tuple(CONTEXT_DIFFERS % {"field": name, "asked": asked, "registered": registered}
                     for name, asked, registered in self.differing)

    @property
    def model_agrees(self) -> bool:
        return "model" in self.agreeing

    def nudged(self, tier: str, similarity: float) -> float:
        """A similarity in 0..1 as a score of ``tier``, moved by agreement and conflict within its band."""
        low, high = SCORE_BANDS[tier]
        scaled = low + (high - low - CONTEXT_HEADROOM) * similarity
        nudge = CONTEXT_AGREES_BONUS * len(self.agreeing) - CONTEXT_CONFLICTS_PENALTY * len(self.differing)
        return round(min(max(scaled + nudge, low), high), 4)


def _same_name(asked: str, registered: str) -> bool:
    """Names agree when one is a prefix of the other (CAT, Caterpillar; PC300, PC300-8)."""
    a, b = normalize(asked), normalize(registered)
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


@dataclass(frozen=True)
class Ground:
    """One reason for a grade: an English template of ``GROUNDS`` and its values."""

    template: str
    values: tuple[tuple[str, str | int], ...] = ()

    def __str__(self) -> str:
        return self.template % dict(self.values) if self.values else self.template


@dataclass(frozen=True)
class Grade:
    tier: str
    score: float
    grounds: tuple[Ground, ...]  # why, in an officer's words
    conflicts: tuple[str, ...] = ()  # what the query said of the item that the report contradicts

    @property
    def reasons(self) -> tuple[str, ...]:
        """The grounds and conflicts as the English phrases of an explanation."""
        return (*map(str, self.grounds), *self.conflicts)


@dataclass(frozen=True)
class _Evidence:
    strong: bool
    grounds: tuple[Ground, ...]


def grade(resemblance: Resemblance, neighbourhood: Neighbourhood, context: Context) -> Grade:
    """The tier and score of one resemblance, and the grounds for them (the context's conflicts too)."""
    comparison = resemblance.comparison
    if comparison.match_type in HIT_MATCH_TYPES:  # equality decides; the context is the officer's to weigh
        return Grade(ALARM, comparison.score, ())
    evidence = []  # one per way the reading relates to the value: edited, and the value's tail
    if comparison.match_type in EDITED_MATCH_TYPES:
        evidence.append(_edit_evidence(comparison.edits, resemblance.record, context))
    if resemblance.legible:
        evidence.append(_tail_evidence(resemblance, neighbourhood, context))
    strong = next((e for e in evidence if e.strong), None)
    if strong is not None:
        return Grade(ALARM, context.nudged(ALARM, comparison.score), strong.grounds, context.conflicts)
    grounds = evidence[0].grounds
    crowd = neighbourhood.resembling  # the same for every match of a check: it lowers scores, not ranks
    if crowd > 1:
        grounds += (Ground(CROWDED, (("count", crowd),)),)
    likelihood = 1.0 if comparison.match_type == "partial" else TYPO_LIKELIHOOD[context.reading_source]
    similarity = comparison.score * likelihood / (1 + CROWDING_WEIGHT * (crowd - 1))
    return Grade(SIMILAR, context.nudged(SIMILAR, similarity), grounds, context.conflicts)


def grade_description(similarity: float, context: Context) -> Grade:
    """Words in common never identify one machine of a model: a description match is a similar one."""
    return Grade(SIMILAR, context.nudged(SIMILAR, similarity), (Ground(DESCRIPTION_ONLY),), context.conflicts)


def running_number(record: str) -> tuple[int, int]:
    """Where the running number sits in a normalized value: its last run of digits, as
    0-based ``(start, end)``; ``(len, len)`` for a value without digits."""
    end = len(record)
    while end and not _digit(record[end - 1]):
        end -= 1
    start = end
    while start and _digit(record[start - 1]):
        start -= 1
    return (start, end) if start < end else (len(record), len(record))


def _digit(char: str) -> bool:
    return "0" <= char <= "9"


def _edit_evidence(edits: Sequence[Edit], record: str, context: Context) -> _Evidence:
    """Look-alikes are strong; a typed swap outside the running number is a slip; any other typo is weak."""
    typos = [e for e in edits if not e.is_confusable]
    if not typos:
        return _Evidence(True, (Ground(LOOKALIKES_ONLY),))
    start, end = running_number(record)
    slips = context.reading_source == TYPED and not context.conflicting and all(
        e.kind == "swap" and not _touches(e, start, end) for e in typos
    )
    if slips:
        return _Evidence(True, (Ground(TYPING_SLIP),))
    if any(_touches(e, start, end) for e in typos):
        grounds: tuple[Ground, ...] = (Ground(RUNNING_NUMBER_DIFFERS, (("running", _running(record, start, end)),)),)
    else:
        grounds = (Ground(TYPO),)
    if context.reading_source == COPIED:
        grounds += (Ground(COPIED_TYPO),)
    return _Evidence(False, grounds)


def _touches(edit: Edit, start: int, end: int) -> bool:
    """Whether an edit changes the running number (``start``..``end``, 0-based; edit positions are 1-based)."""
    if edit.kind == "swap":  # positions p and p + 1: both must be its digits
        return start < edit.position < end
    if edit.kind == "extra":  # inserted after position p: next to one of its digits
        return start <= edit.position <= end
    return start < edit.position <= end


def _tail_evidence(resemblance: Resemblance, neighbourhood: Neighbourhood, context: Context) -> _Evidence:
    """A legible tail is strong when it is selective: it holds the whole running number and enough
    before it (a PIN or VIN without its maker code always does), no other report ends the same way,
    and the context agrees."""
    record, legible = resemblance.record, resemblance.legible
    unread = len(record) - legible
    start, end = running_number(record)
    before = start - unread  # characters read before the running number
    running = (("running", _running(record, start, end)),)
    if neighbourhood.sharing_tail > 1:
        return _Evidence(False, (Ground(TAIL_SHARED, (("count", neighbourhood.sharing_tail),)),))
    if context.conflicting:
        return _Evidence(False, (Ground(TAIL_CONTEXT_DIFFERS),))
    if before + context.model_agrees >= SELECTIVE_TAIL_FIXED_CHARACTERS:
        if unread <= MAKER_CODE_LENGTH:
            return _Evidence(True, (Ground(MAKER_CODE_MISSING, (("unread", record[:unread]),)),))
        template = TAIL_SELECTIVE_WITH_MODEL if context.model_agrees else TAIL_SELECTIVE
        return _Evidence(True, (Ground(template, (*running, ("before", record[unread:start]))),))
    return _Evidence(False, (Ground(TAIL_NOT_SELECTIVE, running),))


def _running(record: str, start: int, end: int) -> str:
    """The running number as shown in an explanation (a dash for a value without digits)."""
    return record[start:end] or "-"
