"""Explanations built from structure say exactly what ``search`` says, and mark what differs."""

from __future__ import annotations

import random

import pytest

from registry.demo import CORRUPTION_KINDS, corrupted_readings, generate_reports, tulkubas_case
from registry.explanations import explain, highlighted, render
from registry.services.results import english_explanation
from search.matching import rank
from search.query import CheckQuery

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
        category = ("excavator", "loader", None)[i % 3]
        found.append(CheckQuery(identifier=reading["reading"], manufacturer=maker, category=category))
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
