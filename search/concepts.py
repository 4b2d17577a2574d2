"""Words of any language to language-neutral concepts: makers, categories, colours, features.

Built once from ``search/data/vocabulary.toml``.  Every listed word or phrase
is keyed by its stems, per language (English entries by English stems,
Cyrillic entries by Russian *and* Kazakh stems, since Kazakh texts use
Russian words with Kazakh endings and the other way round); a text's phrase
matches when its words' stems do (``same_stem``), longest phrase first.  A
maker name not found that way is still recognised one typo away from a
listed spelling (two for names of nine letters or more), which catches the
misspellings no list foresees.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from search.analysis import ALL_STOP_WORDS, EN, KK, RU, fold, script_of, stem, tokens
from search.vocabulary_data import VOCABULARY

MAX_PHRASE_WORDS: Final = 5
LOOSE_LETTERS: Final = 2  # final letters in which two stems of one Russian or Kazakh word may differ
MIN_LOOSE_STEM: Final = 4  # shorter stems must match exactly
FUZZY_MAKER_MIN_LENGTH: Final = 5  # shorter names are one typo from too many words
LONG_NAME_LENGTH: Final = 9  # from here a maker name may carry two typos


@dataclass(frozen=True)
class Concept:
    id: str
    kind: str  # maker | category | colour | feature
    label: str
    related: frozenset[str]  # categories neither agreeing nor conflicting with this one
    implies: tuple[str, ...]  # features its words name too (a tipper has a dump body)
    term_id: str  # what is indexed: its own id, or the broader concept's it is a kind of (``same_as``)


CONCEPTS: Final = {
    entry["id"]: Concept(entry["id"], entry["kind"], entry["label"], frozenset(entry.get("related", ())),
                         tuple(entry.get("implies", ())), entry.get("same_as", entry["id"]))
    for entry in VOCABULARY["concept"]
}


def _phrase_words(phrase: str) -> list[str]:
    return [t.folded for t in tokens(phrase) if not t.is_code and t.folded not in ALL_STOP_WORDS]


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
                    for target in (EN,) if latin else (RU, KK):
                        if not latin and (target == language) != own_first:
                            continue
                        tables[target].setdefault(tuple(stem(w, target) for w in words), entry["id"])
    return tables


def _bucket(stem_: str, language: str) -> str:
    return stem_ if language == EN else stem_[:MIN_LOOSE_STEM]


Phrases = list[tuple[tuple[str, ...], str]]  # (stems, concept id)


def _by_first_word(tables: dict[str, dict[tuple[str, ...], str]]) -> dict[str, dict[str, Phrases]]:
    """Per language: the start of a phrase's first stem -> (stems, concept) of its phrases, longest first."""
    index: dict[str, dict[str, Phrases]] = {EN: {}, RU: {}, KK: {}}
    for language, table in tables.items():
        for key, concept in table.items():
            index[language].setdefault(_bucket(key[0], language), []).append((key, concept))
        for phrases in index[language].values():
            phrases.sort(key=lambda item: -len(item[0]))
    return index


def same_stem(a: str, b: str, language: str) -> bool:
    """Whether two stems are of one word.

    Snowball's Russian stems of one word's forms sometimes differ by a final
    letter or two (рукав -> рука, рукавов -> рукав; отвал -> отва, отвалом ->
    отвал), and so may the stripper's Kazakh ones: there, one may be the
    other plus up to ``LOOSE_LETTERS`` letters, if both keep ``MIN_LOOSE_STEM``.
    """
    if a == b:
        return True
    if language == EN or min(len(a), len(b)) < MIN_LOOSE_STEM or abs(len(a) - len(b)) > LOOSE_LETTERS:
        return False
    return a.startswith(b) or b.startswith(a)


TABLES: Final = _build_tables()
_PHRASES: Final = _by_first_word(TABLES)
_MAKER_SPELLINGS: Final = {
    fold(phrase): entry["id"]
    for entry in VOCABULARY["concept"] if entry["kind"] == "maker"
    for language in (EN, RU, KK) for phrase in entry.get(language, ())
    if len(_phrase_words(phrase)) == 1 and len(fold(phrase)) >= FUZZY_MAKER_MIN_LENGTH
}
_MAKER_CHOICES: Final = list(_MAKER_SPELLINGS)


def lookup(words: list[str], text_language: str) -> tuple[str, int] | None:
    """The concept the longest phrase at the start of ``words`` (folded) names, and how many words it took."""
    first = words[0]
    if script_of(first) == "latin":
        languages: tuple[str, ...] = (EN,)
    else:
        languages = (KK, RU) if text_language == KK else (RU, KK)
    same_script = []
    for word in words[:MAX_PHRASE_WORDS]:  # a phrase never mixes scripts
        if script_of(word) != script_of(first):
            break
        same_script.append(word)
    for language in languages:
        stems = [stem(w, language) for w in same_script]
        for key, concept in _PHRASES[language].get(_bucket(stems[0], language), ()):
            if len(key) <= len(stems) and all(same_stem(k, s, language) for k, s in zip(key, stems)):
                return concept, len(key)
    return None


@lru_cache(maxsize=50_000)
def misspelled_maker(word: str) -> str | None:
    """The maker a folded word is a typo of, if it is one."""
    if len(word) < FUZZY_MAKER_MIN_LENGTH:
        return None
    limit = 2 if len(word) >= LONG_NAME_LENGTH else 1
    found = process.extractOne(word, _MAKER_CHOICES, scorer=Levenshtein.distance, score_cutoff=limit)
    return _MAKER_SPELLINGS[found[0]] if found else None
