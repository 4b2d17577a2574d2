"""From candidate reports to a verdict an officer can act on.

Engines only *find* candidates; this module decides.  Each candidate's
identifiers are compared with the reading (``search.scoring.compare``), its
text with the description, and the query's manufacturer and category nudge
the score.  Because every engine hands its candidates to ``rank``, the
embedded default and Elasticsearch return the same verdict and order.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from search.attributes import analyse, describe_report
from search.description import compare_description
from search.normalize import normalize
from search.policy import MIN_FUZZY_LENGTH
from search.query import CheckQuery
from search.scoring import Edit, Reading, compare
from search.vocabulary import ACTIVE_STATUSES, HIT, HIT_MATCH_TYPES, MATCH_TYPES, NO_MATCH, POSSIBLE_MATCH

POSSIBLE_MATCH_MIN_SCORE = 0.35  # below this a candidate is not worth an officer's time
MAX_MATCHES = 10

# Context from the query: agreement is a small nudge, conflict a larger one.
CONTEXT_AGREES_BONUS = 0.02
CONTEXT_CONFLICTS_PENALTY = 0.05
MAX_ADJUSTED_SCORE = 0.98  # context never lifts a near match to the score of an equal one

Report = Mapping[str, Any]


@dataclass(frozen=True)
class Match:
    """One registered report that resembles the query."""

    report: Report
    identifier: Mapping[str, Any] | None
    score: float
    match_type: str
    explanation: str
    edits: tuple[Edit, ...] = ()  # how the reading differs from ``identifier`` (confusable and fuzzy matches)

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
    """Score every candidate once, keep the worthwhile ones, best first, and decide.

    ``match_types``: the kinds of resemblance the asker may be told of (who may be told what is
    the caller's policy); a candidate resembling the query only in other ways is no match.
    """
    seen: set[str] = set()
    matches: list[Match] = []
    reading = Reading.of(query.identifier) if query.identifier else None
    for report in candidates:
        if report["id"] in seen:
            continue
        seen.add(report["id"])
        match = best_match(query, report, reading, match_types)
        if match is not None and match.score >= POSSIBLE_MATCH_MIN_SCORE:
            matches.append(match)
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
    """``hit`` only on equality with an active report; recovered and cancelled never hit."""
    active = [m for m in matches if m.active]
    if any(m.match_type in HIT_MATCH_TYPES for m in active):
        return HIT
    return POSSIBLE_MATCH if active else NO_MATCH


def best_match(query: CheckQuery, report: Report, reading: Reading | None = None,
               match_types: Collection[str] = MATCH_TYPES) -> Match | None:
    """The strongest resemblance of a kind in ``match_types`` between the query and one report, if any."""
    found: list[Match] = []
    if query.identifier:
        reading = reading or Reading.of(query.identifier)
        for identifier in report.get("identifiers", ()):
            comparison = compare(reading, identifier["value"], identifier["type"])
            if comparison is not None:
                found.append(Match(report, identifier, comparison.score, comparison.match_type,
                                   comparison.explanation, comparison.edits))
    if query.description:
        found.extend(_description_match(query.description, report))
    found = [m for m in found if m.match_type in match_types]
    if not found:
        return None
    best = min(found, key=lambda m: (-m.score, MATCH_TYPES.index(m.match_type)))
    return _with_context(query, best)


def _description_match(description: str, report: Report) -> list[Match]:
    """What the report's description and fields confirm of the query's (``search.description``)."""
    comparison = compare_description(analyse(description), describe_report(report))
    if comparison is None:
        return []
    return [Match(report, None, comparison.score, "description", comparison.explanation)]


def _with_context(query: CheckQuery, match: Match) -> Match:
    """Nudge a near match by whether manufacturer and category agree with the query."""
    if match.match_type in HIT_MATCH_TYPES:
        return match
    score, notes = match.score, []
    for name, asked, registered in (
        ("manufacturer", query.manufacturer, match.report.get("manufacturer")),
        ("category", query.category, match.report.get("category")),
    ):
        if not asked or not registered:
            continue
        if _same_name(asked, registered):
            score += CONTEXT_AGREES_BONUS
        else:
            score -= CONTEXT_CONFLICTS_PENALTY
            notes.append(f"{name} differs (query {asked}, record {registered})")
    score = round(min(max(score, 0.0), MAX_ADJUSTED_SCORE), 4)
    explanation = "; ".join([match.explanation, *notes])
    return Match(match.report, match.identifier, score, match.match_type, explanation, match.edits)


def _same_name(asked: str, registered: str) -> bool:
    """Manufacturer names agree when one is a prefix of the other (CAT, Caterpillar)."""
    a, b = normalize(asked), normalize(registered)
    return bool(a and b) and (a.startswith(b) or b.startswith(a))


def _order(match: Match) -> tuple[bool, float, int, str, str, str]:
    """Active reports first, then score; ties broken by content so engines agree."""
    value = match.identifier["value"] if match.identifier else ""
    return (not match.active, -match.score, MATCH_TYPES.index(match.match_type),
            value, match.report.get("external_ref", ""), match.report["id"])

