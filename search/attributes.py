"""What a description says, as language-neutral attributes and terms.

``analyse`` turns free text (a query, a report's description and marks) into
makers, models, categories, colours, years, features and the remaining
words' stems.  ``describe_report`` adds what the report states in its own
fields (manufacturer, model, category, color, year): those are the
machine's attributes, while what its text mentions (the Komatsu a breaker
was mounted on) only counts as mentioned.

Every attribute is also a *term*, a plain string such as ``mk:komatsu``,
``md:PC300``, ``cat:excavator``, ``col:yellow``, ``yr:2017``, ``ft:hammer`` or
``w:<stem>``: engines index a report's terms as keywords and look up a
query's, so what a query finds does not depend on the engine.

Models are folded as identifiers are (``search.normalize``): ``РС300`` typed
on a Russian keyboard is ``PC300``, and ``PC300`` finds ``PC300-8``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from search.analysis import ALL_STOP_WORDS, EN, MIN_WORD_LENGTH, Token, language_of, script_of, tokens, word_stem
from search.concepts import CONCEPTS, lookup, misspelled_maker
from search.normalize import normalize, skeleton

MAKER, MODEL, CATEGORY, COLOUR, YEAR, FEATURE, WORD = "mk", "md", "cat", "col", "yr", "ft", "w"
ATTRIBUTE_KINDS: Final = frozenset({MAKER, MODEL, CATEGORY, COLOUR, YEAR})  # what a machine is, not what it has
_KIND_PREFIX: Final = {"maker": MAKER, "category": CATEGORY, "colour": COLOUR, "feature": FEATURE}

CLAUSE_BREAK: Final = re.compile(r"[,;\n]|\.(?:\s|$)")  # not the full stop of 5.2 or 3.5m
MIN_MODEL_LENGTH: Final = 3  # "5m" and "6x" are not models
MAX_JOINED_PREFIX: Final = 3  # "R 9250", "PR 764", "РС 300": letters written apart from the number
MIN_BARE_MODEL_DIGITS: Final = 5
MAX_MODEL_LETTERS: Final = 4  # letters in a row within a model (PC, LCH, LGCY); "400-liter" is a quantity
LETTER_RUNS: Final = re.compile(r"[^\W\d_]+")
FIRST_YEAR, LAST_YEAR = 1950, 2035


def term(kind: str, value: object) -> str:
    return f"{kind}:{value}"


@lru_cache(maxsize=200_000)
def kind_of(term_: str) -> str:
    return term_.partition(":")[0]


def _by_kind(terms: frozenset[str]) -> dict[str, frozenset[str]]:
    grouped: dict[str, set[str]] = {}
    for t in terms:
        grouped.setdefault(kind_of(t), set()).add(t)
    return {kind: frozenset(ts) for kind, ts in grouped.items()}


@dataclass(frozen=True)
class TextAnalysis:
    """The attributes a text names, each as a term, with how to show it (as the text wrote it).

    ``word_languages``: the language each plain word (``w:`` term) was stemmed in.
    """

    terms: frozenset[str]
    labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    word_languages: Mapping[str, str] = field(default_factory=dict, compare=False)
    language: str = EN  # the text's (search.analysis.language_of)
    by_kind: Mapping[str, frozenset[str]] = field(default_factory=dict, compare=False)

    def of_kind(self, kind: str) -> frozenset[str]:
        return self.by_kind.get(kind, frozenset())


@lru_cache(maxsize=100_000)
def analyse(text: str) -> TextAnalysis:
    """The terms of a free text, in whatever mix of English, Russian and Kazakh it is written.

    Clauses (between commas, semicolons, line breaks and full stops) are
    analysed apart and cached: agencies' descriptions repeat their phrases
    (в исправном состоянии, fitted with a rock bucket), so most clauses of a
    candidate's text were seen before.  No phrase spans two clauses.
    """
    language = language_of(text)
    found: dict[str, str] = {}
    languages: dict[str, str] = {}
    for clause in CLAUSE_BREAK.split(text):
        clause_found, clause_languages = _clause(clause, language)
        for key, label in clause_found:
            found.setdefault(key, label)
        languages.update(clause_languages)
    terms = frozenset(found)
    return TextAnalysis(terms, found, languages, language, _by_kind(terms))


@lru_cache(maxsize=200_000)
def _clause(text: str, language: str) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """The (term, label) pairs of one clause in reading order, and each plain word's language."""
    found: dict[str, str] = {}
    languages: dict[str, str] = {}
    stream = _without_stop_words(tokens(text))
    i, after_maker = 0, False
    while i < len(stream):
        token = stream[i]
        if token.is_code:
            _code(token, found, after_maker)
            i, after_maker = i + 1, False
            continue
        after_maker = False
        words = [t.folded for t in _words_from(stream, i)]
        hit = lookup(words, language)
        if hit is not None:
            concept_id, length = hit
            concept = CONCEPTS[concept_id]
            for named in (concept, *(CONCEPTS[c] for c in concept.implies)):
                found.setdefault(term(_KIND_PREFIX[named.kind], named.term_id), named.label)
            i, after_maker = i + length, concept.kind == "maker"
            continue
        following = stream[i + 1] if i + 1 < len(stream) else None
        if following is not None and following.is_code and following.folded[0].isdigit() \
                and len(token.folded) <= MAX_JOINED_PREFIX:
            _model(token.folded + following.folded, found)  # R 9250, РС 300
            i += 2
            continue
        maker = misspelled_maker(token.folded)
        if len(token.folded) < MIN_WORD_LENGTH:
            pass  # a stray letter: kept only to join a number (R 9250)
        elif maker is not None:
            found.setdefault(term(MAKER, maker), CONCEPTS[maker].label)
        else:
            word = term(WORD, word_stem(token.folded, language))
            found.setdefault(word, token.folded)
            languages.setdefault(word, EN if script_of(token.folded) == "latin" else language)
        i += 1
    return tuple(found.items()), tuple(languages.items())


def _without_stop_words(found: list[Token]) -> list[Token]:
    """The tokens that are not stop words, each marked when one stood right before it."""
    kept, gap = [], False
    for token in found:
        if not token.is_code and token.folded in ALL_STOP_WORDS:
            gap = True
            continue
        kept.append(Token(token.folded, token.is_code, gap))
        gap = False
    return kept


def _words_from(stream: list[Token], start: int) -> list[Token]:
    """The run of words (no codes, no stop word between them) starting at ``start``: what a phrase may span."""
    run = [stream[start]]
    for token in stream[start + 1:]:
        if token.is_code or token.after_stop:
            break
        run.append(token)
    return run


def _code(token: Token, found: dict[str, str], after_maker: bool) -> None:
    """A token with a digit: a year, a model (whole, and each part with letters), or a plain number.

    A bare number is a model when it has ``MIN_BARE_MODEL_DIGITS`` digits (КамАЗ 65115) or comes
    right after a maker (МАЗ 6501); shorter ones elsewhere are quantities (1000 liters, 4 300 hours).
    """
    digits = token.folded.replace("-", "").replace(".", "").replace("/", "")
    if digits.isdigit() and len(digits) == 4 and FIRST_YEAR <= int(digits) <= LAST_YEAR:
        found.setdefault(term(YEAR, int(digits)), digits)
        return
    if digits.isdigit() and len(digits) < MIN_BARE_MODEL_DIGITS and not after_maker:
        return
    if any(len(run) > MAX_MODEL_LETTERS for run in LETTER_RUNS.findall(token.folded)):
        return  # 400-liter, 2-axle
    _model(token.folded, found)
    parts = [p for p in token.folded.replace("/", "-").replace(".", "-").split("-") if p]
    if len(parts) > 1:
        for part in parts:
            if any(c.isalpha() for c in part):
                _model(part, found)


def _model(text: str, found: dict[str, str]) -> None:
    normalized = normalize(text)
    if len(normalized) < MIN_MODEL_LENGTH or not any(c.isdigit() for c in normalized):
        return
    found.setdefault(term(MODEL, skeleton(normalized)), normalized)


@dataclass(frozen=True)
class ReportDescription:
    """What a report says about the machine: its stated attributes and everything its text mentions."""

    stated: frozenset[str]  # from the report's own fields
    mentioned: TextAnalysis  # from its description, marks and model text
    stated_labels: Mapping[str, str] = field(default_factory=dict, compare=False)
    country: str | None = None  # of the incident
    terms: frozenset[str] = field(init=False, compare=False)  # stated and mentioned
    stated_by_kind: Mapping[str, frozenset[str]] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", self.stated | self.mentioned.terms)
        object.__setattr__(self, "stated_by_kind", _by_kind(self.stated))

    def stated_of(self, kind: str) -> frozenset[str]:
        return self.stated_by_kind.get(kind, frozenset())

    def label(self, term_: str) -> str:
        return self.stated_labels.get(term_) or self.mentioned.labels.get(term_) or _label(term_)


def describe_report(report: Mapping[str, Any]) -> ReportDescription:
    """The stated attributes and mentioned terms of a report (its structured fields and free text)."""
    return _describe(
        report.get("manufacturer") or "", report.get("model") or "", report.get("category") or "",
        report.get("color") or "", report.get("year"), report.get("description") or "",
        report.get("distinguishing_marks") or "", (report.get("incident") or {}).get("country"),
    )


@lru_cache(maxsize=100_000)
def _describe(manufacturer: str, model: str, category: str, color: str, year: int | None,
              description: str, marks: str, country: str | None) -> ReportDescription:
    labels: dict[str, str] = {}
    if manufacturer:
        makers = analyse(manufacturer).of_kind(MAKER) or {term(MAKER, normalize(manufacturer).lower())}
        labels.update(dict.fromkeys(makers, manufacturer))
    if model:
        keys = set(analyse(model).of_kind(MODEL))
        whole = normalize(model)
        if len(whole) >= MIN_MODEL_LENGTH:
            keys.add(term(MODEL, skeleton(whole)))
        labels.update(dict.fromkeys(keys, model))
    if category:
        labels[term(CATEGORY, category)] = _label(term(CATEGORY, category))
    if color:
        labels.update({t: _label(t) for t in analyse(color).of_kind(COLOUR)})
    if isinstance(year, int):
        labels[term(YEAR, year)] = str(year)
    mentioned = analyse(" \n ".join(p for p in (description, marks, model) if p))
    return ReportDescription(frozenset(labels), mentioned, labels, country)


def _label(term_: str) -> str:
    kind, value = term_.split(":", 1)
    concept = CONCEPTS.get(value)
    return concept.label if concept is not None and kind != WORD else value
