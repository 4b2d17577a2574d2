"""Explanations built from structure say exactly what ``search`` says, and mark what differs."""

from __future__ import annotations

import random

import pytest
from babel.support import Translations

from registry.demo import CORRUPTION_KINDS, corrupted_readings, generate_reports, tulkubas_case
from registry.explanations import CONTEXT_DIFFERS, GROUND, explain, highlighted, render
from registry.languages import TRANSLATIONS
from registry.services.results import english_explanation
from search import grading
from search.matching import rank
from search.query import CheckQuery
from tests.test_grading import PIN, report

SEED = 5
POOL = 400


@pytest.fixture(scope="module")
def reports() -> list[dict]:
    generated = [{**r, "id": f"r{i}"} for i, r in enumerate(generate_reports(POOL, SEED))]
    # Some inactive reports, so the "information only" reason is covered too.
    return [{**r, "status": "recovered"} if i % 7 == 0 else r for i, r in enumerate(generated)]


def queries(reports: list[dict]) -> list[CheckQuery]:
    rng = random.Random(SEED)
    readings = corrupted_readings([{**r, "status": "stolen"} for r in reports], 30 * len(CORRUPTION_KINDS), rng)
    found = []
    for i, reading in enumerate(readings):
        maker = ("Komatsu", "CAT", None)[i % 3]
        model = ("PC300", None, "966H")[i % 3]
        category = ("excavator", "loader", None)[i % 3]
        source = ("typed", "copied", "ocr")[i // 3 % 3]
        found.append(CheckQuery(identifier=reading["reading"], manufacturer=maker, model=model, category=category,
                                reading_source=source))
    found += [CheckQuery(description=d) for d in ("yellow excavator breaker", "generator on a trailer")]
    found.append(CheckQuery(identifier="1HGCM8263IA0O4Q52", description="wheel loader"))
    return found


def test_rendered_without_translation_the_reasons_are_the_explanation_of_search(reports):
    compared = 0
    for query in queries(reports):
        for match in rank(query, reports).matches:
            assert render(explain(match, query)) == english_explanation(match), (query, match.match_type)
            compared += 1
    assert compared > 200


# A check that grades its top match on each ground (``search.grading.GROUNDS``): the reading,
# the registered values (a dense series of one model) and what else the query says.
GROUND_CASES = {
    grading.LOOKALIKES_ONLY: ("CAT0336DLTJF0O123", [PIN], {}),
    grading.TYPING_SLIP: ("CAT0336DTLJF00123", [PIN], {}),
    grading.RUNNING_NUMBER_DIFFERS: ("CAT0336DLTJF00124", [PIN], {}),
    grading.TYPO: ("CAT0336DLTJX00123", [PIN], {}),
    grading.COPIED_TYPO: ("CAT0336DLTJF00124", [PIN], {"reading_source": "copied"}),
    grading.CROWDED: ("CAT0336DLTJF00124", [PIN, "CAT0336DLTJF00125", "CAT0336DLTJF00129"], {}),
    grading.TAIL_SHARED: ("TJF00123", [PIN, "KMTPC3004TJF00123"], {}),
    grading.TAIL_CONTEXT_DIFFERS: (PIN[-7:], [PIN], {"manufacturer": "Komatsu"}),
    grading.MAKER_CODE_MISSING: (PIN[2:], [PIN], {}),
    grading.TAIL_SELECTIVE: (PIN[-9:], [PIN], {}),
    grading.TAIL_SELECTIVE_WITH_MODEL: (PIN[-6:], [PIN], {"model": "336D"}),
    grading.TAIL_NOT_SELECTIVE: (PIN[-6:], [PIN], {}),
    grading.DESCRIPTION_ONLY: (None, [PIN], {"description": "yellow caterpillar excavator hammer"}),
}
EXPECTED_ENGLISH = {  # how each ground reads in the cases above
    grading.LOOKALIKES_ONLY: "only look-alike characters differ: two real serials never differ only that way",
    grading.TYPING_SLIP: "characters outside the running number typed in the wrong order: a typing slip",
    grading.RUNNING_NUMBER_DIFFERS: "a difference in the running number (00123) is as likely a neighbouring machine "
                                    "as a misreading",
    grading.TYPO: "a wrong, missing or extra character is as likely another machine as a misreading",
    grading.COPIED_TYPO: "copied from a file, where typos are rare",
    grading.CROWDED: "3 registered reports have a value like this reading",
    grading.TAIL_SHARED: "2 registered reports have values ending this way",
    grading.TAIL_CONTEXT_DIFFERS: "a tail is selective only within its maker's series, and the context differs",
    grading.MAKER_CODE_MISSING: "only the start (CA) not read, as a worn maker code would be; the rest matches",
    grading.TAIL_SELECTIVE: "the legible part holds the whole running number (00123) and LTJF before it: selective "
                            "in its series",
    grading.TAIL_SELECTIVE_WITH_MODEL: "the legible part holds the whole running number (00123) and F before it, and "
                                       "the model agrees: selective in its series",
    grading.TAIL_NOT_SELECTIVE: "the legible part does not reach far enough past the running number (00123): other "
                                "machines of the series end the same way",
    grading.DESCRIPTION_ONLY: "a description alone cannot tell one machine of a model from another",
}


def graded_top(ground: str):
    reading, values, asked = GROUND_CASES[ground]
    registered = [{**report(f"r{i}", value), "description": "Yellow Caterpillar 336D excavator with a hammer"}
                  for i, value in enumerate(values)]
    query = CheckQuery(identifier=reading, **asked)
    return rank(query, registered).matches[0], query


def test_every_grading_ground_has_a_case_here_and_a_template_to_translate():
    assert set(GROUND_CASES) == set(EXPECTED_ENGLISH) == set(grading.GROUNDS) == set(GROUND)


@pytest.mark.parametrize("ground", grading.GROUNDS)
def test_each_grading_ground_renders_as_search_explains_it(ground):
    top, query = graded_top(ground)
    assert ground in [g.template for g in top.grounds]
    reasons = explain(top, query)
    assert render(reasons) == english_explanation(top)
    assert EXPECTED_ENGLISH[ground] in [reason.render() for reason in reasons]


@pytest.mark.parametrize("language", ["ru", "kk"])
@pytest.mark.parametrize("ground", grading.GROUNDS)
def test_each_grading_ground_is_translated_with_its_values(ground, language):
    top, query = graded_top(ground)
    [reason] = [r for r in explain(top, query) if r.template == ground]
    worded = reason.render(Translations.load(str(TRANSLATIONS), [language]).gettext)
    assert worded != reason.render() and "%(" not in worded
    assert all(str(value) in worded for value in reason.values.values())


def test_every_context_that_differs_is_a_reason_of_its_own():
    query = CheckQuery(identifier="CAT0336DLTJF00124", manufacturer="Komatsu", model="PC300", category="loader")
    [match] = rank(query, [report("r1", PIN)]).matches
    reasons = explain(match, query)
    assert render(reasons) == english_explanation(match)
    assert [r.render() for r in reasons if r.template in CONTEXT_DIFFERS.values()] == [
        "manufacturer differs (query Komatsu, record Caterpillar)",
        "model differs (query PC300, record 336D2 L)",
        "category differs (query loader, record excavator)",
    ]


def test_each_kind_of_difference_is_marked_in_the_registered_value():
    excavator = next(r for r in tulkubas_case() if r["category"] == "excavator") | {"id": "x"}
    cases = {
        "KMTPC300C55A17O44": ("differs", "0"),  # O read for 0
        "KMTPC300C55A17X44": ("differs", "0"),  # a wrong character
        "PC300C55A17044": ("unread", "KMT"),  # the maker's code worn off
    }
    for reading, (mark, marked) in cases.items():
        [match] = rank(CheckQuery(identifier=reading), [excavator]).matches
        segments = highlighted(match, reading)
        assert "".join(s.text for s in segments) == "KMTPC300C55A17044"
        assert [s.text for s in segments if s.mark] == [marked] and {s.mark for s in segments} == {None, mark}


def test_marks_keep_the_separators_of_the_registered_value():
    generator = next(r for r in tulkubas_case() if r["category"] == "attachment") | {"id": "b"}
    [match] = rank(CheckQuery(identifier="8460114207"), [generator]).matches
    assert [s.text for s in highlighted(match, "8460114207")] == ["8460 1142 07"]
    [match] = rank(CheckQuery(identifier="8460114208"), [generator]).matches
    assert [(s.text, s.mark) for s in highlighted(match, "8460114208")] == [("8460 1142 0", None), ("7", "differs")]
