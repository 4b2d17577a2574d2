"""Tests for search.matching: verdicts, ordering and context nudges."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.matching import MAX_MATCHES, best_match, rank, verdict_for
from search.query import CheckQuery
from search.scoring import NORMALIZED_SCORE

PIN = "CAT0320DLEJK01234"


def make_report(
    report_id: str,
    value: str | None = PIN,
    *,
    status: str = "stolen",
    identifier_type: str = "pin",
    manufacturer: str | None = "Caterpillar",
    category: str = "excavator",
    description: str = "",
    external_ref: str | None = None,
    identifiers: list[dict] | None = None,
) -> dict:
    if identifiers is None:
        identifiers = [{"type": identifier_type, "value": value}] if value is not None else []
    return {
        "id": report_id,
        "external_ref": external_ref or f"CASE-{report_id}",
        "status": status,
        "category": category,
        "manufacturer": manufacturer,
        "identifiers": identifiers,
        "description": description,
    }


def ids(outcome) -> list[str]:
    return [m.report["id"] for m in outcome.matches]


# --- verdicts ----------------------------------------------------------------------


@pytest.mark.parametrize("status", ["stolen", "missing"])
@pytest.mark.parametrize("reading", [PIN, "cat-0320d lejk/01234"])
def test_equal_identifier_of_active_report_is_a_hit(status, reading):
    outcome = rank(CheckQuery(identifier=reading), [make_report("r1", status=status)])
    assert outcome.verdict == "hit"
    (match,) = outcome.matches
    assert match.active
    assert match.match_type in {"exact", "normalized"}
    assert match.identifier == {"type": "pin", "value": PIN}


@pytest.mark.parametrize("status", ["recovered", "cancelled"])
def test_inactive_report_never_hits_but_is_listed(status):
    outcome = rank(CheckQuery(identifier=PIN), [make_report("r1", status=status)])
    assert outcome.verdict == "no_match"
    (match,) = outcome.matches
    assert match.match_type == "exact"
    assert not match.active


@pytest.mark.parametrize("status", ["recovered", "cancelled"])
def test_inactive_equal_report_does_not_turn_an_active_near_match_into_a_hit(status):
    candidates = [
        make_report("old", status=status),
        make_report("new", "CAT0320DLEJK01284"),  # one substitution: fuzzy
    ]
    outcome = rank(CheckQuery(identifier=PIN), candidates)
    assert outcome.verdict == "similar_serials"
    # active reports come first even when an inactive one scores higher
    assert ids(outcome) == ["new", "old"]
    assert outcome.matches[0].score < outcome.matches[1].score


def test_active_equal_report_is_a_hit_next_to_inactive_ones():
    candidates = [make_report("old", status="recovered"), make_report("new", "CAT 0320D LEJK 01234")]
    outcome = rank(CheckQuery(identifier=PIN), candidates)
    assert outcome.verdict == "hit"
    assert ids(outcome)[0] == "new"


@pytest.mark.parametrize("reading", ["CATO320DLEJK01234", PIN[-8:]])
def test_strong_near_match_of_active_report_is_only_possible(reading):
    outcome = rank(CheckQuery(identifier=reading), [make_report("r1")])
    assert outcome.verdict == "possible_match"
    assert outcome.matches[0].match_type in {"confusable", "partial"}


def test_weak_near_match_of_active_report_is_a_similar_serial():
    outcome = rank(CheckQuery(identifier="CAT0320DLEJK01284"), [make_report("r1")])
    assert outcome.verdict == "similar_serials"
    assert outcome.matches[0].match_type == "fuzzy"


def test_nothing_found_is_no_match():
    outcome = rank(CheckQuery(identifier="KMTPC200X7Y4N8821"), [make_report("r1")])
    assert outcome.verdict == "no_match"
    assert outcome.matches == []
    assert verdict_for([]) == "no_match"


def test_report_without_identifiers_does_not_match_an_identifier_query():
    assert best_match(CheckQuery(identifier=PIN), make_report("r1", None)) is None


# --- description queries --------------------------------------------------------------


EXCAVATOR = make_report(
    "r1",
    None,
    description="Yellow Caterpillar 320D excavator with a hydraulic hammer, cab window cracked",
)


def test_description_only_query_lists_similar_reports():
    outcome = rank(CheckQuery(description="yellow excavator hydraulic hammer"), [EXCAVATOR])
    assert outcome.verdict == "similar_serials"
    (match,) = outcome.matches
    assert match.match_type == "description"
    assert match.identifier is None
    assert "hammer" in match.explanation


def test_description_never_hits_even_when_every_word_matches():
    query = CheckQuery(
        description="Yellow Caterpillar 320D excavator with a hydraulic hammer, cab window cracked",
        manufacturer="Caterpillar",
        category="excavator",
    )
    outcome = rank(query, [EXCAVATOR])
    assert outcome.verdict == "similar_serials"
    assert outcome.matches[0].score < NORMALIZED_SCORE


def test_description_of_recovered_report_is_no_match():
    recovered = dict(EXCAVATOR, status="recovered")
    outcome = rank(CheckQuery(description="yellow excavator hydraulic hammer"), [recovered])
    assert outcome.verdict == "no_match"
    assert [m.active for m in outcome.matches] == [False]


def test_weak_description_overlap_is_dropped():
    """One shared word out of five is below the possible-match threshold."""
    outcome = rank(CheckQuery(description="blue komatsu dozer hammer ripper"), [EXCAVATOR])
    assert outcome.matches == []
    assert outcome.verdict == "no_match"


def test_identifier_match_is_preferred_over_description_match():
    report = make_report("r1", description="yellow excavator")
    match = best_match(CheckQuery(identifier=PIN, description="yellow excavator"), report)
    assert match.match_type == "exact"


# --- ordering -------------------------------------------------------------------------


LADDER = [  # best first: equal, then alarms, then similar serials
    make_report("exact", PIN),
    make_report("normalized", "cat 0320d lejk 01234"),
    make_report("confusable", "CATO320DLEJK01234"),
    make_report("partial", "XYZWCAT0320DLEJK01234"),  # the reading is its selective tail: an alarm
    make_report("fuzzy", "CAT0320DLEJK01284"),  # one typo in the running number: a similar serial
]


def test_matches_are_ordered_best_first():
    shuffled = LADDER[:]
    random.Random(7).shuffle(shuffled)
    outcome = rank(CheckQuery(identifier=PIN), shuffled)
    assert ids(outcome) == ["exact", "normalized", "confusable", "partial", "fuzzy"]
    assert [m.match_type for m in outcome.matches] == ids(outcome)
    assert [m.tier for m in outcome.matches] == ["alarm"] * 4 + ["similar"]
    scores = [m.score for m in outcome.matches]
    assert scores == sorted(scores, reverse=True)


def test_report_is_matched_on_its_closest_identifier():
    report = make_report(
        "r1",
        identifiers=[
            {"type": "serial", "value": "CAT0320DLEJK01284"},
            {"type": "pin", "value": "CAT-0320D-LEJK-01234"},
            {"type": "engine", "value": "XYZ12345"},
        ],
    )
    match = best_match(CheckQuery(identifier=PIN), report)
    assert match.match_type == "normalized"
    assert match.identifier["type"] == "pin"


def test_duplicate_candidates_are_scored_once():
    outcome = rank(CheckQuery(identifier=PIN), [make_report("r1"), make_report("r1"), make_report("r2")])
    assert sorted(ids(outcome)) == ["r1", "r2"]


def test_at_most_max_matches_are_returned():
    candidates = [make_report(f"r{i:02d}") for i in range(MAX_MATCHES + 5)]
    outcome = rank(CheckQuery(identifier=PIN), candidates)
    assert len(outcome.matches) == MAX_MATCHES
    assert outcome.verdict == "hit"


TIED = [
    make_report("b", PIN, external_ref="CASE-1"),
    make_report("a", PIN, external_ref="CASE-1"),
    make_report("c", PIN, external_ref="CASE-0"),
    make_report("d", "CAT0320DLEJK01284", external_ref="CASE-9"),
    make_report("e", "CAT0320DLEJK01284", external_ref="CASE-2"),
    make_report("f", PIN, status="recovered", external_ref="CASE-0"),
]


@given(st.permutations(TIED))
def test_ties_are_broken_the_same_way_whatever_the_input_order(candidates):
    outcome = rank(CheckQuery(identifier=PIN), candidates)
    assert ids(outcome) == ids(rank(CheckQuery(identifier=PIN), TIED))


def test_tie_break_order_is_by_content():
    """Equal score and type: the case reference, then the id decide (same in every engine)."""
    outcome = rank(CheckQuery(identifier=PIN), TIED)
    assert ids(outcome) == ["c", "a", "b", "e", "d", "f"]


# --- context: manufacturer and category ----------------------------------------------------


FUZZY_READING = "CAT0320DLEJK01284"


def test_conflicting_manufacturer_lowers_a_fuzzy_score():
    report = make_report("r1")
    plain = best_match(CheckQuery(identifier=FUZZY_READING), report)
    conflicting = best_match(CheckQuery(identifier=FUZZY_READING, manufacturer="Komatsu"), report)
    assert plain.match_type == conflicting.match_type == "fuzzy"
    assert conflicting.score < plain.score
    assert "manufacturer differs" in conflicting.explanation


def test_agreeing_manufacturer_abbreviation_raises_a_fuzzy_score():
    report = make_report("r1")
    plain = best_match(CheckQuery(identifier=FUZZY_READING), report)
    agreeing = best_match(CheckQuery(identifier=FUZZY_READING, manufacturer="CAT"), report)
    assert agreeing.score > plain.score
    assert "differs" not in agreeing.explanation


def test_conflicting_manufacturer_reorders_near_matches():
    candidates = [
        make_report("komatsu", "CAT0320DLEJK01284", manufacturer="Komatsu"),
        make_report("cat", "CAT0320DLEJK01284", manufacturer="Caterpillar"),
    ]
    outcome = rank(CheckQuery(identifier=PIN, manufacturer="Caterpillar"), candidates)
    assert ids(outcome) == ["cat", "komatsu"]


def test_conflicting_category_lowers_a_score():
    report = make_report("r1")
    plain = best_match(CheckQuery(identifier=FUZZY_READING), report)
    conflicting = best_match(CheckQuery(identifier=FUZZY_READING, category="haul_truck"), report)
    assert conflicting.score < plain.score
    assert "category differs" in conflicting.explanation


def test_missing_manufacturer_on_either_side_changes_nothing():
    plain = best_match(CheckQuery(identifier=FUZZY_READING), make_report("r1"))
    unknown = best_match(CheckQuery(identifier=FUZZY_READING, manufacturer="Komatsu"),
                         make_report("r1", manufacturer=None))
    assert unknown.score == plain.score


def test_conflicting_manufacturer_does_not_demote_a_hit():
    """Equality of the identifier decides; a wrong manufacturer is the officer's mistake."""
    outcome = rank(CheckQuery(identifier=PIN, manufacturer="Komatsu"), [make_report("r1")])
    assert outcome.verdict == "hit"
    assert outcome.matches[0].score == 1.0


def test_agreeing_context_never_lifts_a_near_match_to_a_hit_score():
    query = CheckQuery(identifier="CATO320DLEJK01234", manufacturer="Caterpillar", category="excavator")
    match = best_match(query, make_report("r1"))
    assert match.match_type == "confusable"
    assert match.score < NORMALIZED_SCORE
