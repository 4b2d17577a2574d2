"""How closely a report's description answers a free-text query, and why.

The query's attributes are weighed (``WEIGHTS``): a model says most, then a
maker, a category or a feature, then a colour, a year or a plain word.
*Coverage* is the weight of what the report confirms over the weight of all
the query says; a report stating a different maker, model, category, colour
or year than the query is multiplied down (``CONFLICT_FACTORS``: a different
maker halves it, a different colour costs little, repaints being common).
What the report's own fields state that the query does not confirm lowers
the similarity by less than the smallest step of coverage, so it only orders
reports that confirm the same things, and a report confirming all the query
says always ranks above one confirming part of it.  A report from a country
where the query's language is written (``regions`` in the vocabulary: a query
in Russian is most likely typed in Kazakhstan or its neighbours) loses less
than that than one from elsewhere: among reports that answer a query equally,
the regional one comes first.  The similarity (0..1)
times ``DESCRIPTION_SCORE_MAX`` is the match score: a description never
outranks a reading equal or confusable with a registered identifier, and
never makes a ``hit``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from search.attributes import (
    ATTRIBUTE_KINDS,
    CATEGORY,
    COLOUR,
    FEATURE,
    MAKER,
    MODEL,
    WORD,
    YEAR,
    ReportDescription,
    TextAnalysis,
    kind_of,
)
from search.concepts import CONCEPTS
from search.vocabulary_data import VOCABULARY

WEIGHTS: Final = {MODEL: 4, MAKER: 3, CATEGORY: 2, FEATURE: 2, COLOUR: 1, YEAR: 1, WORD: 1}
CONFLICT_FACTORS: Final = {MAKER: 0.5, CATEGORY: 0.6, MODEL: 0.75, COLOUR: 0.85, YEAR: 0.9}
RELATED_CATEGORY_SHARE: Final = 0.5  # a haul truck asked for as a truck: half agreement, no conflict
UNCONFIRMED_SHARE: Final = 0.5  # of one coverage step: the most unconfirmed report content can cost
REGIONAL_SHARE: Final = 0.25  # of one coverage step: a report from elsewhere than the query's language is written
MENTIONED_COLOUR_SHARE: Final = 0.5  # a colour the report's text gives a part (a red hood), not the machine
# The two shares add up to less than one step of coverage: neither ever lifts a partial match over a full one.
DESCRIPTION_SCORE_MAX: Final = 0.8
YEAR_TOLERANCE: Final = 1  # a year off by one is neither confirmed nor contradicted
MAX_LISTED: Final = 6  # report content not asked about, listed in an explanation
REGIONS: Final = {language: frozenset(countries) for language, countries in VOCABULARY["regions"].items()}
_ORDER: Final = (COLOUR, MAKER, MODEL, CATEGORY, YEAR, FEATURE, WORD)
# What a machine *is*: when the report states these, what its text mentions does not count (the
# Komatsu a breaker was mounted on does not make the breaker a Komatsu).  Colours and models in the
# text count (a hood repainted red, a fleet number written like a model).
IDENTITY: Final = frozenset({MAKER, CATEGORY, YEAR})
_NAMES: Final = {MAKER: "maker", MODEL: "model", CATEGORY: "category", COLOUR: "colour", YEAR: "year"}


@dataclass(frozen=True)
class DescriptionComparison:
    similarity: float  # 0..1
    score: float
    explanation: str


def weight(term_: str) -> int:
    return WEIGHTS[kind_of(term_)]


def compare_description(query: TextAnalysis, report: ReportDescription) -> DescriptionComparison | None:
    """Similarity, score and explanation; None when the report confirms nothing the query says."""
    asked = [t for t in _in_reading_order(query.terms) if _comparable(t, query, report)]
    if not asked:
        return None
    known = report.terms
    credit: dict[str, float] = {}
    for term_ in asked:
        share = _share(term_, query, report, known)
        if share:
            credit[term_] = share * weight(term_)
    if not credit:
        return None
    total = sum(weight(t) for t in asked)
    coverage = sum(credit.values()) / total
    conflicts = _conflicts(query, report, known)
    factor = 1.0
    for kind, _, _ in conflicts:
        factor *= CONFLICT_FACTORS[kind]
    stated = _stated_attributes(report)
    confirmed = set(credit) | (stated & {t for t in report.stated_of(MODEL) if credit.keys() & report.stated_of(MODEL)})
    unstated = [t for t in stated if t not in confirmed]
    penalty = UNCONFIRMED_SHARE / (total + 1) * sum(map(weight, unstated)) / (sum(map(weight, stated)) or 1)
    unconfirmed = [t for t in sorted(stated | report.mentioned.of_kind(FEATURE), key=_reading_order)
                   if t not in confirmed]
    regions = REGIONS.get(query.language, frozenset())
    regional = report.country in regions
    if regions and not regional:
        penalty += REGIONAL_SHARE / (total + 1)
    similarity = max(0.0, coverage * factor - penalty)
    explanation = _explain(asked, credit, conflicts, unconfirmed, query, report)
    if regional:
        explanation += f"; reported in {report.country}, where the query's language is written"
    return DescriptionComparison(round(similarity, 4), round(DESCRIPTION_SCORE_MAX * similarity, 4), explanation)


def _comparable(term_: str, query: TextAnalysis, report: ReportDescription) -> bool:
    """False for a plain word in a language the report's text has no plain words in: it could not
    be there, so it neither counts for the report nor against it."""
    if kind_of(term_) != WORD:
        return True
    return query.word_languages.get(term_) in set(report.mentioned.word_languages.values())


def _share(term_: str, query: TextAnalysis, report: ReportDescription, known: frozenset[str]) -> float:
    """How much of one query term the report confirms (0, a half, or all of it)."""
    kind = kind_of(term_)
    stated = report.stated_of(kind) if kind in IDENTITY else frozenset()
    if term_ in (stated or known):
        if kind == COLOUR and report.stated_of(COLOUR) and term_ not in report.stated:
            return MENTIONED_COLOUR_SHARE
        return 1.0  # an attribute the report states counts as stated, not as its text mentions it
    if kind == CATEGORY:
        related = CONCEPTS[term_.split(":", 1)[1]].related
        if any(f"{CATEGORY}:{r}" in report.stated for r in related):
            return RELATED_CATEGORY_SHARE
    return 0.0


def _conflicts(query: TextAnalysis, report: ReportDescription, known: frozenset[str]) -> list[tuple[str, str, str]]:
    """(kind, what the query says, what the report states) for each attribute they disagree on."""
    found = []
    for kind in sorted(ATTRIBUTE_KINDS, key=_ORDER.index):
        asked, stated = query.of_kind(kind), report.stated_of(kind)
        if not asked or not stated:
            continue
        if kind == YEAR:
            years = [int(t.split(":")[1]) for t in stated]
            if all(abs(int(a.split(":")[1]) - y) > YEAR_TOLERANCE for a in asked for y in years):
                found.append((kind, _labels(asked, query), _labels(stated, report)))
            continue
        if not any(_share(a, query, report, known) for a in asked):
            found.append((kind, _labels(asked, query), _labels(stated, report)))
    return found


def _stated_attributes(report: ReportDescription) -> frozenset[str]:
    """What a report's own fields say the machine is; a model is one attribute however many keys
    it has (``PC300-8``: ``PC3008`` and ``PC300``), and counts as confirmed by any of them."""
    models = sorted(report.stated_of(MODEL))
    return report.stated - frozenset(models[1:])


def _explain(asked: list[str], credit: dict[str, float], conflicts: list[tuple[str, str, str]],
             unconfirmed: list[str], query: TextAnalysis, report: ReportDescription) -> str:
    matched = [_label(t, query) for t in asked if t in credit]
    missing = [_label(t, query) for t in asked if t not in credit]
    parts = [f"description matched: {', '.join(matched)}"]
    for kind, said, stated in conflicts:
        parts.append(f"the query says {said}, the report says {stated} ({_NAMES[kind]})")
    if missing:
        parts.append(f"not in the report: {', '.join(missing)}")
    said_only = [report.label(t) for t in unconfirmed if kind_of(t) != YEAR]
    said_only = list(dict.fromkeys(said_only))[:MAX_LISTED]
    if said_only:
        parts.append(f"the report says {', '.join(said_only)}, the query doesn't say")
    return "; ".join(parts)


def _label(term_: str, query: TextAnalysis) -> str:
    return query.labels.get(term_) or term_.split(":", 1)[1]


def _labels(terms: frozenset[str], source: TextAnalysis | ReportDescription) -> str:
    label = source.label if isinstance(source, ReportDescription) else (lambda t: _label(t, source))
    return " or ".join(sorted({label(t) for t in terms}))


def _reading_order(term_: str) -> tuple[int, str]:
    return _ORDER.index(kind_of(term_)), term_


@lru_cache(maxsize=10_000)
def _in_reading_order(terms: frozenset[str]) -> tuple[str, ...]:
    """A query's terms as explanations list them (sorted once per query, not once per candidate)."""
    return tuple(sorted(terms, key=_reading_order))
