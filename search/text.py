"""What engines index of a report's text, and how they look descriptions up.

Description checks.  Both engines index ``description_terms(report)`` as
keywords (``search.attributes``: makers, models, categories, colours, years,
features and word stems, in any language) and find candidates for a query
with ``plan_description_lookup``; ``search.description`` then scores each
candidate with the same code.  Terms are computed here, in Python, because
the Elasticsearch distribution used has no language analyzers and SQLite's
FTS5 has no Russian or Kazakh stemming: both engines store plain terms.

Listing filter ``q`` (``GET /v1/reports?q=``).  Both engines index
``indexed_words(report_text(report))`` and require every word of
``text_terms(q)``.

Changing anything that decides terms (this module, ``search.attributes``,
``search.analysis``, ``search.kazakh``, ``search.concepts`` or
``search/data/vocabulary.toml``) changes what is indexed: raise
``ANALYSIS_CODE_VERSION`` if the vocabulary file did not change with it.  The
SQLite engine recomputes every report's terms when it opens a file indexed
under another ``ANALYSIS_VERSION``; on Elasticsearch run ``irontrace es
reindex`` (the index records the version it was built with, and the service
warns at start-up while it differs).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from search.attributes import (
    ATTRIBUTE_KINDS,
    CATEGORY,
    COLOUR,
    FEATURE,
    MAKER,
    MODEL,
    WORD,
    YEAR,
    analyse,
    describe_report,
    kind_of,
)
from search.description import weight
from search.policy import DESCRIPTION_ANCHOR_POSTINGS, TEXT_CANDIDATE_LIMIT
from search.vocabulary_data import VOCABULARY_DIGEST

T = TypeVar("T")
ANALYSIS_CODE_VERSION: Final = 2
ANALYSIS_VERSION: Final = f"{ANALYSIS_CODE_VERSION}-{VOCABULARY_DIGEST}"

MIN_TERM_LENGTH: Final = 2
STOP_WORDS: Final = frozenset((
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "have", "in", "is", "it", "its",
    "of", "on", "or", "the", "this", "to", "was", "were", "with",
))
WORD_PATTERN: Final = re.compile(r"\w+")
# Which of a query's common terms a conjunction starts from: likely rarest first.
_SELECTIVE_FIRST: Final = (MODEL, YEAR, MAKER, FEATURE, WORD, CATEGORY, COLOUR)


def description_terms(report: Mapping[str, Any]) -> list[str]:
    """The terms a report is indexed under for description checks, sorted."""
    return sorted(describe_report(report).terms)


def query_description_terms(description: str) -> dict[str, int]:
    """The terms of a description check, each with the weight it ranks candidates by."""
    return {t: weight(t) for t in sorted(analyse(description).terms)}


@dataclass(frozen=True)
class DescriptionLookup:
    """How an engine finds the candidates of one description check.

    * ``anchors``: every report holding one of these is a candidate, ranked
      by the summed ``weights`` of the query terms it holds (then oldest
      first), the best ``TEXT_CANDIDATE_LIMIT`` kept;
    * ``required``: the oldest reports holding all of these fill the
      candidates up to ``TEXT_CANDIDATE_LIMIT`` (``description_candidates``;
      empty: none).
    """

    weights: dict[str, int]
    anchors: tuple[str, ...]
    required: tuple[str, ...]


def plan_description_lookup(weights: Mapping[str, int], postings: Mapping[str, int]) -> DescriptionLookup:
    """Split a query's terms by how many reports hold each (``postings``, counted up to
    ``DESCRIPTION_ANCHOR_POSTINGS + 1``): the rarest are anchors while they index few enough
    reports together; the common attributes left must all be held."""
    present = sorted((t for t in weights if postings.get(t, 0) > 0), key=lambda t: (postings[t], t))
    anchors: list[str] = []
    total = 0
    for term_ in present:
        if total + postings[term_] > DESCRIPTION_ANCHOR_POSTINGS:
            break
        anchors.append(term_)
        total += postings[term_]
    common = present[len(anchors):]
    required = [t for t in common if kind_of(t) in ATTRIBUTE_KINDS] or common
    required.sort(key=lambda t: (_SELECTIVE_FIRST.index(kind_of(t)), t))
    return DescriptionLookup({t: weights[t] for t in present}, tuple(anchors), tuple(required))


def description_candidates(anchored: list[T], holding_all: list[T]) -> list[T]:
    """A description check's candidates: the anchored ones, then as many of those holding every common
    attribute as fit within ``TEXT_CANDIDATE_LIMIT`` (the scorer reads every candidate's text)."""
    room = TEXT_CANDIDATE_LIMIT - len(anchored)
    return anchored + [c for c in holding_all if c not in anchored][:max(room, 0)]


def report_text(report: Mapping[str, Any]) -> str:
    """The free text of a report that the listing filter ``q`` looks at."""
    parts = [
        report.get("description"),
        report.get("distinguishing_marks"),
        report.get("manufacturer"),
        report.get("model"),
        report.get("color"),
        report.get("category", "").replace("_", " "),
    ]
    return " ".join(p for p in parts if p)


def text_terms(text: str) -> set[str]:
    """Lower-cased words worth matching: no stop words, no single letters."""
    return {w for w in WORD_PATTERN.findall(text.casefold()) if len(w) >= MIN_TERM_LENGTH and w not in STOP_WORDS}


def indexed_words(text: str) -> str:
    """``text`` cut into the words ``text_terms`` sees, space-separated, for a full-text index.

    An engine's own tokenizer alone might keep ``3.5m`` or ``don't`` whole or
    not casefold ``ß``, so words the filter counts as shared could fail to match.
    """
    return " ".join(WORD_PATTERN.findall(text.casefold()))
