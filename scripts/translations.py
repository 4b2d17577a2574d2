"""Extract, update and compile the app's translations (Russian and Kazakh; English is the source).

    python scripts/translations.py            # extract messages, update ru and kk .po, compile .mo
    python scripts/translations.py --check    # fail if a message lacks a translation or a .mo is stale

Messages come from the code and templates (``pybabel extract`` with
``babel.cfg``) and from ``registry.explanations.MESSAGES`` (match
explanations, whose templates are built from ``search``'s constants, which
extraction cannot read), plus each report status as a word in a sentence.
The compiled ``.mo`` files are committed, so ``pip install`` needs no step.
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from registry.explanations import MESSAGES  # noqa: E402
from registry.languages import DEFAULT_LANGUAGE, LANGUAGES, TRANSLATIONS  # noqa: E402
from registry.vocabulary import STATUSES  # noqa: E402

STATUS_CONTEXT = "status in a sentence"  # registry.languages.status_in_sentence
KEYWORDS = ("-k", "_l", "-k", "N_", "-k", "pgettext:1c,2")


def template() -> Catalog:
    """Every message of the app, from extraction and from the explanation templates."""
    with tempfile.TemporaryDirectory() as scratch:
        pot = Path(scratch) / "messages.pot"
        subprocess.run([str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg", *KEYWORDS,
                        "--no-location", "--sort-output", "-o", str(pot), "."], cwd=ROOT, check=True)
        catalog = read_po(pot.open("rb"))
    for message in MESSAGES:
        catalog.add(message)
    for status in STATUSES:
        catalog.add(status, context=STATUS_CONTEXT)
    return catalog


def catalog_path(language: str) -> Path:
    return TRANSLATIONS / language / "LC_MESSAGES" / "messages.po"


def compiled(catalog: Catalog) -> bytes:
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def translations_of(catalog: Catalog) -> dict[tuple[object, str | None], object]:
    """What a catalog translates, and how (the header and untranslated or fuzzy messages left out):
    compared instead of the compiled bytes, which change from one Babel release to the next."""
    def text(value: object) -> object:
        return tuple(value) if isinstance(value, list | tuple) else value

    def context(value: str | bytes | None) -> str | None:
        return value.decode() if isinstance(value, bytes) else value  # some Babel releases read bytes

    return {(text(message.id), context(message.context)): text(message.string) for message in catalog
            if message.id and message.string and not message.fuzzy}


def update() -> None:
    source = template()
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        path = catalog_path(language)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_po(path.open("rb"), locale=language) if path.exists() else Catalog(locale=language)
        catalog.update(source, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with path.open("wb") as out:
            write_po(out, catalog, width=120, omit_header=False, sort_output=True)
        path.with_suffix(".mo").write_bytes(compiled(catalog))


def check() -> list[str]:
    """What is missing or stale: untranslated messages, messages no catalog has, .mo older than its .po."""
    problems = []
    source = template()
    for language in LANGUAGES:
        if language == DEFAULT_LANGUAGE:
            continue
        path = catalog_path(language)
        catalog = read_po(path.open("rb"), locale=language)
        for message in source:
            if not message.id:
                continue
            found = catalog.get(message.id, message.context)
            if found is None or not found.string or found.fuzzy:
                problems.append(f"{language}: no translation of {message.id!r}")
        with path.with_suffix(".mo").open("rb") as mo:
            stale = translations_of(read_mo(mo)) != translations_of(catalog)
        if stale:
            problems.append(f"{language}: {path.with_suffix('.mo').name} is not compiled from {path.name}")
    return problems


if __name__ == "__main__":
    if "--check" in sys.argv:
        found = check()
        print("\n".join(found) or "translations complete")
        sys.exit(1 if found else 0)
    update()
