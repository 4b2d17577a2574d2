"""English, Russian and Kazakh: which one a request is answered in, and match explanations in it.

The language is the one chosen with the switch on a web page (kept in the
session), else the best of ``Accept-Language``, else English; the web app
and the API use the same choice.  Catalogs are in ``registry/translations``:
``.po`` sources and the compiled ``.mo`` files beside them
(``scripts/translations.py`` extracts, updates and compiles), so ``pip
install`` needs no build step.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext, pgettext

from registry.explanations import Reason, explain, render
from search.matching import Match
from search.query import CheckQuery

LANGUAGES = {"en": "English", "ru": "Русский", "kk": "Қазақша"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_KEY = "language"  # the session's choice
TRANSLATIONS = Path(__file__).resolve().parent / "translations"


def select_locale() -> str:
    """The language chosen on a page, else the best of Accept-Language, else English."""
    if not has_request_context():
        return DEFAULT_LANGUAGE
    chosen = session.get(LANGUAGE_KEY)
    if chosen in LANGUAGES:
        return str(chosen)
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def language() -> str:
    """The language of the current request."""
    return str(get_locale() or DEFAULT_LANGUAGE)


def translated(reasons: list[Reason]) -> list[str]:
    """Each reason in the reader's language (a status inside one, too)."""
    return [reason.render(gettext, status_in_sentence) for reason in reasons]


def explanation_in_language(query: CheckQuery) -> Callable[[Match], str] | None:
    """How to word a match's explanation for this request: ``None`` in English (search's own
    sentence), else built from the match's reasons in the reader's language."""
    if language() == DEFAULT_LANGUAGE:
        return None
    return lambda match: render(explain(match, query), gettext, status_in_sentence)


def status_in_sentence(status: str) -> str:
    """A report status as a word inside a sentence ("report is recovered")."""
    return pgettext("status in a sentence", status)


def configure(app: Flask) -> None:
    """Translations for every request of ``app``, API and web."""
    app.config.update(BABEL_DEFAULT_LOCALE=DEFAULT_LANGUAGE, BABEL_DEFAULT_TIMEZONE="UTC",
                      BABEL_TRANSLATION_DIRECTORIES=str(TRANSLATIONS))
    Babel(app, locale_selector=select_locale)
