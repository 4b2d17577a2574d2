"""A small Kazakh suffix stripper: the stem that description search compares.

No maintained Kazakh stemmer is on PyPI (``kazstem`` is an alpha, GPL,
finite-state analyser whose lexicon is not shipped in the wheel; ``qaznltk``
has no stemmer), so this is written here.  It is deliberately crude: it only
has to give the *same* stem to the forms an officer and an agency write for
one word, not a linguist's lemma.

Kazakh is agglutinative and its endings follow vowel harmony, so a word is
stem + (plural) + (possessive) + (case) + (particle).  The stripper removes,
from the end, the longest ending of the table below, again and again (at
most ``MAX_PASSES``), as long as what remains keeps ``MIN_STEM`` letters and
a vowel.  Loanwords take Kazakh endings too (экскаваторды, гидромолотпен),
and come out as the bare loanword.  A final ғ, г or б, which a final қ, к or п
becomes before a vowel (шанақ, шанағы; бак, багы; күрек, күрегі), is made
voiceless again, so both forms share a stem; ы or і after one is taken for the
possessive, not for the rarer adjective ending -ғы/-гі.  Bare а and е are
never stripped: too many stems end in them (балға, жебе, қара).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Final

MIN_STEM: Final = 3
MAX_PASSES: Final = 4
VOWELS: Final = frozenset("аәеёиоөуұүыіэюя")
KAZAKH_LETTERS: Final = frozenset("әғқңөұүһі")  # letters Russian lacks: their presence marks Kazakh text

# Endings by role, each in every harmony variant.  Order does not matter: the longest match wins.
_ENDINGS: Final = (
    # case: genitive, accusative, dative, locative, ablative, instrumental
    "ның", "нің", "дың", "дің", "тың", "тің",
    "ны", "ні", "ды", "ді", "ты", "ті",
    "ға", "ге", "қа", "ке", "на", "не",
    "да", "де", "та", "те", "нда", "нде",
    "дан", "ден", "тан", "тен", "нан", "нен", "ндан", "нден",
    "мен", "бен", "пен", "менен", "бенен", "пенен",
    # plural
    "лар", "лер", "дар", "дер", "тар", "тер",
    # possessive
    "ым", "ім", "ың", "ің", "ымыз", "іміз", "ыңыз", "іңіз", "сы", "сі", "ы", "і",
    # adjectives: having, without, of, located at
    "лы", "лі", "сыз", "сіз", "лық", "лік", "дық", "дік", "тық", "тік",
    "дағы", "дегі", "тағы", "тегі", "ндағы", "ндегі",
    # participles and verbal nouns (боялған, жабдықталған, жарылған)
    "ған", "ген", "қан", "кен", "атын", "етін", "йтын", "йтін", "ып", "іп",
)
_BY_LENGTH: Final = tuple(sorted(set(_ENDINGS), key=len, reverse=True))
_VOICELESS: Final = {"ғ": "қ", "г": "к", "б": "п"}


@lru_cache(maxsize=100_000)
def stem(word: str) -> str:
    """The stem of a lower-case Kazakh word (any other word comes back unchanged but for its endings)."""
    stripped = _strip(word)
    return stripped[:-1] + _VOICELESS[stripped[-1]] if stripped and stripped[-1] in _VOICELESS else stripped


def _strip(word: str) -> str:
    for _ in range(MAX_PASSES):
        long_ending = any(word.endswith(e) for e in _BY_LENGTH if len(e) > 2)
        if not long_ending and len(word) > MIN_STEM and word[-1] in "ыі" and word[-2] in _VOICELESS:
            word = word[:-2] + _VOICELESS[word[-2]]  # шанағы -> шанақ, күрегі -> күрек: possessive
            continue
        for ending in _BY_LENGTH:
            if word.endswith(ending):
                rest = word[: -len(ending)]
                if len(rest) >= MIN_STEM and any(c in VOWELS for c in rest):
                    word = rest
                    break
        else:
            return word
    return word
