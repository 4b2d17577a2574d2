"""From candidate reports to a verdict an officer can act on.

Engines only *find* candidates; this module decides.  Each candidate's
identifiers are compared with the reading (``search.scoring.compare``) and
graded by how likely the differences are a misreading of this plate rather
than another machine (``search.grading``), with the whole candidate set
telling how crowded the registry is around the reading; its text is compared
with the description, and the query's manufacturer, model and category nudge
the score.  Because every engine hands its candidates to ``rank``, the
embedded default and Elasticsearch return the same verdict and order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from search.attributes import analyse, describe_report
from search.description import compare_description
from search.grading import Context, Ground, Neighbourhood, Resemblance, grade, grade_description
from search.policy import MIN_FUZZY_LENGTH
from search.query import CheckQuery
from search.scoring import Edit, Reading, compare
from search.vocabulary import (
    ACTIVE_STATUSES,
    ALARM,
    HIT,
    HIT_MATCH_TYPES,
    MATCH_TYPES,
    NO_MATCH,
    POSSIBLE_MATCH,
    SIMILAR_SERIALS,
)

MIN_SIMILARITY = 0.35  # below this a candidate is not worth an officer's time, whatever its tier
MAX_MATCHES = 10

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Match:
    """One registered report that resembles the query."""

    report: Report
    identifier: Mapping[str, Any] | None
    score: float
    match_type: str
    explanation: str
    tier: str  # alarm (strong evidence this is the machine) or similar (as likely another one)
    edits: tuple[Edit, ...] = ()  # how the reading differs from ``identifier`` (confusable and fuzzy matches)
    grounds: tuple[Ground, ...] = ()  # why the evidence is strong or weak (``search.grading``)

    @property
    def active(self) -> bool:
        return self.report["status"] in ACTIVE_STATUSES


@dataclass(frozen=True)
class CheckOutcome:
    """The verdict, the matches best first, and notes on what the check could not look for."""

    verdict: str
    matches: list[Match] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def rank(query: CheckQuery, candidates: Iterable[Report], match_types: Collection[str] = MATCH_TYPES) -> CheckOutcome:
    """Compare every candidate once, grade each against the whole neighbourhood, keep the
    worthwhile ones, best first, and decide.

    ``match_types``: the kinds of resemblance the asker may be told of (who may be told what is
    the caller's policy); a candidate resembling the query only in other ways is no match.  The
    neighbourhood that grades a match is the same whoever asks.
    """
    reading = Reading.of(query.identifier) if query.identifier else None
    compared = [(report, _resemblances(reading, report)) for report in _unique(candidates)]
    neighbourhood = Neighbourhood.of(resemblances for _, resemblances in compared)
    matches = [match for report, resemblances in compared
               if (match := _best(query, report, resemblances, neighbourhood, match_types)) is not None]
    matches.sort(key=_order)
    return CheckOutcome(verdict_for(matches), matches[:MAX_MATCHES], reading_notes(reading))


def reading_notes(reading: Reading | None) -> list[str]:
    """What the answer cannot vouch for because of the reading itself: a reading too short for
    typos and legible tails was only matched exactly (and by look-alike characters)."""
    if reading is None or len(reading.skeleton) >= MIN_FUZZY_LENGTH:
        return []
    return [
        f"The reading has only {len(reading.skeleton)} letters or digits (fewer than {MIN_FUZZY_LENGTH}): only "
        f"exact matches (ignoring case, separators and look-alike characters such as O for 0) were looked "
        f"for, not readings with typos or only the legible tail of a serial, because so short a reading "
        f"would match many unrelated serials."
    ]


def verdict_for(matches: Iterable[Match]) -> str:
    """``hit`` only on equality with an active report; ``possible_match`` on an alarm of one;
    ``similar_serials`` when active reports resemble the reading only weakly.  Recovered and
    cancelled reports are information, never a verdict."""
    active = [m for m in matches if m.active]
    if any(m.match_type in HIT_MATCH_TYPES for m in active):
        return HIT
    if any(m.tier == ALARM for m in active):
        return POSSIBLE_MATCH
    return SIMILAR_SERIALS if active else NO_MATCH


def best_match(query: CheckQuery, report: Report, reading: Reading | None = None,
               match_types: Collection[str] = MATCH_TYPES) -> Match | None:
    """The strongest resemblance of a kind in ``match_types`` between the query and one report,
    graded as if it were the only candidate."""
    if reading is None and query.identifier:
        reading = Reading.of(query.identifier)
    resemblances = _resemblances(reading, report)
    return _best(query, report, resemblances, Neighbourhood.of([resemblances]), match_types)


def _unique(candidates: Iterable[Report]) -> Iterator[Report]:
    seen: set[str] = set()
    for report in candidates:
        if report["id"] not in seen:
            seen.add(report["id"])
            yield report


def _resemblances(reading: Reading | None, report: Report) -> list[Resemblance]:
    """The report's identifiers the reading resembles enough to be worth listing."""
    if reading is None:
        return []
    found = []
    for identifier in report.get("identifiers", ()):
        comparison = compare(reading, identifier["value"], identifier["type"])
        if comparison is not None and comparison.score >= MIN_SIMILARITY:
            found.append(Resemblance.of(reading, identifier, comparison))
    return found


def _best(query: CheckQuery, report: Report, resemblances: Sequence[Resemblance],
          neighbourhood: Neighbourhood, match_types: Collection[str]) -> Match | None:
    context = Context.of(query, report)
    found = [_graded(report, r, neighbourhood, context) for r in resemblances
             if r.comparison.match_type in match_types]
    if query.description and "description" in match_types:
        found.extend(_description_match(query.description, report, context))
    if not found:
        return None
    return min(found, key=lambda m: (-m.score, MATCH_TYPES.index(m.match_type)))


def _graded(report: Report, resemblance: Resemblance, neighbourhood: Neighbourhood, context: Context) -> Match:
    comparison = resemblance.comparison
    graded = grade(resemblance, neighbourhood, context)
    explanation = "; ".join([comparison.explanation, *graded.reasons])
    return Match(report, resemblance.identifier, graded.score, comparison.match_type, explanation, graded.tier,
                 comparison.edits, graded.grounds)


def _description_match(description: str, report: Report, context: Context) -> list[Match]:
    """What the report's description and fields confirm of the query's (``search.description``),
    never more than a similar report."""
    comparison = compare_description(analyse(description), describe_report(report))
    if comparison is None or comparison.score < MIN_SIMILARITY:
        return []
    graded = grade_description(comparison.similarity, context)
    explanation = "; ".join([comparison.explanation, *graded.reasons])
    return [Match(report, None, graded.score, "description", explanation, graded.tier, grounds=graded.grounds)]


def _order(match: Match) -> tuple[bool, float, int, str, str, str]:
    """Active reports first, then score; ties broken by content so engines agree."""
    value = match.identifier["value"] if match.identifier else ""
    return (not match.active, -match.score, MATCH_TYPES.index(match.match_type),
            value, match.report.get("external_ref", ""), match.report["id"])
