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
from babel.messages.mofile import write_mo
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
        if path.with_suffix(".mo").read_bytes() != compiled(catalog):
            problems.append(f"{language}: {path.with_suffix('.mo').name} is not compiled from {path.name}")
    return problems


if __name__ == "__main__":
    if "--check" in sys.argv:
        found = check()
        print("\n".join(found) or "translations complete")
        sys.exit(1 if found else 0)
    update()
