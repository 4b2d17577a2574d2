"""Words of a free-text description, in the form description search compares them.

A text is cut into *words* (letters only) and *codes* (anything with a digit:
model names, years, fleet numbers).  Each word gets a stem for its language:
Snowball for English and Russian (``snowballstemmer``, pure Python), the
suffix stripper of ``search.kazakh`` for Kazakh.  A Cyrillic word's language
is that of its text: Kazakh when the text holds a letter Russian lacks
(ә ғ қ ң ө ұ ү һ і), else Russian; a Latin word is English.  Stop words come
from ``search/data/vocabulary.toml``.

Pure and cached: the same word is stemmed once per process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Final, NamedTuple

import snowballstemmer

from search import kazakh
from search.vocabulary_data import VOCABULARY

EN, RU, KK = "en", "ru", "kk"
CODE: Final = re.compile(r"[^\W_]+(?:[-./][^\W_]+)*")  # a word, or parts joined by - . / (PC300-8, 3.5m)
PART: Final = re.compile(r"[^\W_]+")
CYRILLIC: Final = re.compile(r"[\u0400-\u04ff]")
MIN_WORD_LENGTH: Final = 2

_STEMMERS = {EN: snowballstemmer.stemmer("english"), RU: snowballstemmer.stemmer("russian")}


def fold(text: str) -> str:
    """Case, compatibility forms and ё: what never distinguishes two words."""
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


STOP_WORDS: Final = {
    lang: frozenset(fold(w) for w in words.split()) for lang, words in VOCABULARY["stop_words"].items()
}
ALL_STOP_WORDS: Final = frozenset().union(*STOP_WORDS.values())


def language_of(text: str) -> str:
    """``kk`` if the text has a letter only Kazakh uses, ``ru`` if it is otherwise Cyrillic, else ``en``."""
    folded = fold(text)
    if not kazakh.KAZAKH_LETTERS.isdisjoint(folded):
        return KK
    return RU if CYRILLIC.search(folded) else EN


@lru_cache(maxsize=200_000)
def script_of(word: str) -> str:
    """``cyrillic`` or ``latin`` (anything not Cyrillic counts as Latin)."""
    return "cyrillic" if CYRILLIC.search(word) else "latin"


@lru_cache(maxsize=200_000)
def stem(word: str, language: str) -> str:
    """The stem of a folded word in ``language`` (en, ru or kk)."""
    if language == KK:
        return kazakh.stem(word)
    return str(_STEMMERS[language].stemWord(word))


def word_stem(word: str, text_language: str) -> str:
    """The one stem a word is indexed under: English for Latin words, the text's language for Cyrillic."""
    if script_of(word) == "latin":
        return stem(word, EN)
    return stem(word, KK if text_language == KK else RU)


class Token(NamedTuple):
    """A word (letters only) or a code (has a digit), folded."""

    folded: str
    is_code: bool
    after_stop: bool = False  # a stop word came right before it: no phrase spans the gap


def tokens(text: str) -> list[Token]:
    """Words and codes in reading order; a code's letter-only parts (semi-trailer) are words."""
    found: list[Token] = []
    for match in CODE.finditer(fold(text)):
        folded = match.group()
        if folded.isalpha():
            found.append(Token(folded, False))
        elif any(c.isdigit() for c in folded):
            found.append(Token(folded, True))
        else:
            found.extend(Token(part.group(), False) for part in PART.finditer(folded))
    return found
