"""Words of any language to language-neutral concepts: makers, categories, colours, features.

Built once from ``search/data/vocabulary.toml``.  Every listed word or phrase
is keyed by its stems, per language (English entries by English stems,
Cyrillic entries by Russian *and* Kazakh stems, since Kazakh texts use
Russian words with Kazakh endings and the other way round); a text's phrase
matches when its words' stems do, longest phrase first.  A maker name not
found that way is still recognised one typo away from a listed spelling (two
for names of nine letters or more), which catches the misspellings no list
foresees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from search.analysis import EN, KK, RU, fold, is_stop_word, script_of, stem, tokens
from search.vocabulary_data import VOCABULARY

FUZZY_MAKER_MIN_LENGTH: Final = 5  # shorter names are one typo from too many words
LONG_NAME_LENGTH: Final = 9  # from here a maker name may carry two typos


@dataclass(frozen=True)
class Concept:
    id: str
    kind: str  # maker | category | colour | feature
    label: str
    related: frozenset[str]


CONCEPTS: Final = {
    entry["id"]: Concept(entry["id"], entry["kind"], entry["label"], frozenset(entry.get("related", ())))
    for entry in VOCABULARY["concept"]
}


def _phrase_words(phrase: str) -> list[str]:
    return [t.folded for t in tokens(phrase) if not t.is_code and not is_stop_word(t.folded)]


def _build_tables() -> dict[str, dict[tuple[str, ...], str]]:
    """Per stemming language: tuple of stems -> concept id.  A language's own entries win a clash."""
    tables: dict[str, dict[tuple[str, ...], str]] = {EN: {}, RU: {}, KK: {}}
    for own_first in (True, False):
        for entry in VOCABULARY["concept"]:
            for language in (EN, RU, KK):
                for phrase in entry.get(language, ()):
                    words = _phrase_words(phrase)
                    if not words:
                        continue
                    latin = all(script_of(w) == "latin" for w in words)
                    targets = (EN,) if latin else (RU, KK)
                    for target in targets:
                        if (target == language) != own_first and not latin:
                            continue
                        key = tuple(stem(w, target) for w in words)
                        tables[target].setdefault(key, entry["id"])
    return tables


TABLES: Final = _build_tables()
_MAKER_SPELLINGS: Final = {
    fold(phrase): entry["id"]
    for entry in VOCABULARY["concept"] if entry["kind"] == "maker"
    for language in (EN, RU, KK) for phrase in entry.get(language, ())
    if len(_phrase_words(phrase)) == 1 and len(fold(phrase)) >= FUZZY_MAKER_MIN_LENGTH
}
_MAKER_CHOICES: Final = list(_MAKER_SPELLINGS)


_LONGEST: Final = {  # per language: first stem of a phrase -> its most words
    language: {key[0]: max(len(k) for k in table if k[0] == key[0]) for key in table}
    for language, table in TABLES.items()
}


def lookup(words: list[str], text_language: str) -> tuple[str, int] | None:
    """The concept the longest phrase at the start of ``words`` (folded) names, and how many words it took."""
    first = words[0]
    if script_of(first) == "latin":
        languages: tuple[str, ...] = (EN,)
    else:
        languages = (KK, RU) if text_language == KK else (RU, KK)
    for language in languages:
        longest = _LONGEST[language].get(stem(first, language))
        if longest is None:
            continue
        for length in range(min(longest, len(words)), 0, -1):
            phrase = words[:length]
            if any(script_of(w) != script_of(first) for w in phrase):
                continue  # a phrase never mixes scripts
            concept = TABLES[language].get(tuple(stem(w, language) for w in phrase))
            if concept is not None:
                return concept, length
    return None


@lru_cache(maxsize=50_000)
def misspelled_maker(word: str) -> str | None:
    """The maker a folded word is a typo of, if it is one."""
    if len(word) < FUZZY_MAKER_MIN_LENGTH:
        return None
    limit = 2 if len(word) >= LONG_NAME_LENGTH else 1
    found = process.extractOne(word, _MAKER_CHOICES, scorer=Levenshtein.distance, score_cutoff=limit)
    return _MAKER_SPELLINGS[found[0]] if found else None
