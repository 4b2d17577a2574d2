"""Tests for search.grading: each kind of difference is graded an alarm or a similar serial.

Every test ranks a reading against registered reports with ``search.matching.rank`` (the
code every engine runs) and pins the tier of the match, the verdict and, where context
matters, how the score moves.  The registered serials are a dense series: neighbours of
the running number are registered too, as in a real register of numbered machines.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from search.grading import SCORE_BANDS, running_number
from search.matching import MIN_SIMILARITY, best_match, rank
from search.query import CheckQuery
from search.vocabulary import ALARM, SIMILAR

PIN = "CAT0336DLTJF00123"  # maker CAT, model 0336D, check L, prefix TJF, running number 00123
VIN = "XTC651152N1123456"  # KAMAZ: running number (plant 1 + serial) 1123456
SERIAL = "HB31-004512"  # an attachment serial: head HB31, running number 3100 4512 run together


def report(report_id: str, value: str, *, status: str = "stolen", identifier_type: str = "pin",
           manufacturer: str = "Caterpillar", model: str = "336D2 L", category: str = "excavator") -> dict:
    return {"id": report_id, "external_ref": f"CASE-{report_id}", "status": status, "category": category,
            "manufacturer": manufacturer, "model": model,
            "identifiers": [{"type": identifier_type, "value": value}]}


def check(reading: str, candidates: list[dict], **query):
    return rank(CheckQuery(identifier=reading, **query), candidates)


def graded(reading: str, value: str = PIN, identifier_type: str = "pin", **query):
    """Tier, verdict and the top match of ``reading`` against one registered value."""
    outcome = check(reading, [report("r1", value, identifier_type=identifier_type)], **query)
    assert outcome.matches, f"{reading} matched nothing"
    top = outcome.matches[0]
    return top.tier, outcome.verdict, top


# --- the running number -------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("CAT0336DLTJF00123", (12, 17)),
    ("XTC651152N1123456", (10, 17)),
    ("HB31004512", (2, 10)),  # fixed digits next to the running number count with it: the cautious reading
    ("12345678", (0, 8)),
    ("AB123C", (2, 5)),  # letters after the last digits are not part of it
    ("ABCDEF", (6, 6)),
])
def test_running_number_is_the_last_run_of_digits(value, expected):
    assert running_number(value) == expected


# --- strong evidence: alarms ----------------------------------------------------------


@pytest.mark.parametrize("reading", ["cat-0336d ltjf/00123", "САТ0336DLTJF00123"])  # case, separators, Cyrillic
def test_formatting_case_and_lookalike_letters_are_a_hit(reading):
    tier, verdict, top = graded(reading)
    assert (tier, verdict, top.match_type) == (ALARM, "hit", "normalized")


@pytest.mark.parametrize(("digit", "letter"), [("0", "O"), ("1", "I"), ("5", "S"), ("8", "B"), ("2", "Z"), ("6", "G")])
def test_a_letter_read_for_a_digit_is_an_alarm(digit, letter):
    registered = PIN[:-1] + digit
    tier, verdict, top = graded(registered[:-1] + letter, registered)
    assert (tier, verdict, top.match_type) == (ALARM, "possible_match", "confusable")
    assert "only look-alike characters differ" in top.explanation


@pytest.mark.parametrize(("letter", "digit"), [("S", "5"), ("B", "8"), ("Z", "2"), ("G", "6")])
def test_a_digit_read_for_a_letter_is_an_alarm(letter, digit):
    registered = "CAT0336DLT" + letter + "F00123"
    tier, verdict, _ = graded("CAT0336DLT" + digit + "F00123", registered)
    assert (tier, verdict) == (ALARM, "possible_match")


def test_lookalikes_alone_stay_an_alarm_whatever_the_context():
    """Two real serials never differ only by look-alikes, so a wrong maker is the officer's slip."""
    tier, verdict, top = graded("CAT0336DLTJFOO123", manufacturer="Komatsu", reading_source="copied")
    assert (tier, verdict) == (ALARM, "possible_match")
    assert "manufacturer differs" in top.explanation


@pytest.mark.parametrize("missing", [1, 2, 3])
def test_a_missing_manufacturer_code_with_the_rest_exact_is_an_alarm(missing):
    tier, verdict, top = graded(PIN[missing:])
    assert (tier, verdict) == (ALARM, "possible_match")
    assert f"only the start ({PIN[:missing]}) not read, as a worn maker code would be" in top.explanation


@pytest.mark.parametrize(("reading", "tier"), [
    ("KL-370525", ALARM),  # T not read: K and L before the running number
    ("L-370525", SIMILAR),  # TK not read: one letter before it, as other series' serials end
])
def test_a_short_serial_without_its_first_characters_must_still_be_selective(reading, tier):
    assert graded(reading, "TKL-370525", "serial")[0] == tier


def test_a_vin_without_its_wmi_is_an_alarm():
    tier, verdict, _ = graded(VIN[3:], VIN, "vin")
    assert (tier, verdict) == (ALARM, "possible_match")


@pytest.mark.parametrize("length", [7, 9, 12])
def test_a_tail_holding_the_running_number_and_two_characters_before_it_is_an_alarm(length):
    tier, verdict, top = graded(PIN[-length:])
    assert (tier, verdict, top.match_type) == (ALARM, "possible_match", "partial")
    assert "selective" in top.explanation


def test_a_selective_tail_read_with_lookalikes_is_an_alarm():
    tier, verdict, _ = graded("JFOOI23")
    assert (tier, verdict) == (ALARM, "possible_match")


def test_an_agreeing_model_narrows_a_tail_to_its_series():
    """One character before the running number, plus the model: as selective as two characters."""
    assert graded(PIN[-6:])[0] == SIMILAR
    tier, verdict, top = graded(PIN[-6:], model="336D")
    assert (tier, verdict) == (ALARM, "possible_match")
    assert "the model agrees" in top.explanation


def test_a_typed_swap_outside_the_running_number_is_a_typing_slip():
    tier, verdict, top = graded("CAT0336DTLJF00123")  # LT typed as TL
    assert (tier, verdict, top.match_type) == (ALARM, "possible_match", "fuzzy")
    assert "typing slip" in top.explanation


# --- weak evidence: similar serials ------------------------------------------------------


@pytest.mark.parametrize(("reading", "kind"), [
    ("CAT0336DLTJF00124", "substitution in the running number"),
    ("CAT0336DLTJX00123", "substitution in the prefix"),
    ("CAT0336DLTJF00724", "two substitutions"),
    ("CAT0336DLTJF001723", "insertion"),
    ("CAT0336DLTJF0023", "deletion"),
    ("CAT0336DLTJF01023", "swapped digits of the running number"),
])
def test_typos_are_similar_serials(reading, kind):
    tier, verdict, top = graded(reading)
    assert (tier, verdict, top.match_type) == (SIMILAR, "similar_serials", "fuzzy"), kind
    assert "as likely" in top.explanation


def test_a_difference_in_the_running_number_says_so():
    _, _, top = graded("CAT0336DLTJF00124")
    assert "a difference in the running number (00123)" in top.explanation


@pytest.mark.parametrize("source", ["copied", "ocr"])
def test_a_swap_is_a_slip_only_when_typed(source):
    tier, verdict, _ = graded("CAT0336DTLJF00123", reading_source=source)
    assert (tier, verdict) == (SIMILAR, "similar_serials")


def test_a_swap_with_a_conflicting_model_is_a_similar_serial():
    tier, _, top = graded("CAT0336DTLJF00123", model="PC300")
    assert tier == SIMILAR and "model differs" in top.explanation


@pytest.mark.parametrize(("value", "identifier_type", "tail"), [
    (PIN, "pin", "F00123"),  # one character before the running number
    (VIN, "vin", "N1123456"),
    (VIN, "vin", "1123456"),  # the running number alone
    (VIN, "vin", "123456"),  # part of it
])
def test_a_tail_that_does_not_reach_past_the_running_number_is_a_similar_serial(value, identifier_type, tail):
    tier, verdict, top = graded(tail, value, identifier_type)
    assert (tier, verdict) == (SIMILAR, "similar_serials")
    assert "other machines of the series end the same way" in top.explanation


def test_a_digits_only_tail_is_never_selective():
    tier, _, _ = graded(SERIAL[-8:].replace("-", ""), SERIAL, "serial")
    assert tier == SIMILAR


def test_a_tail_two_registered_values_end_with_is_a_similar_serial():
    candidates = [report("r1", PIN), report("r2", "KMTPC3004TJF00123", manufacturer="Komatsu", model="PC300-8")]
    outcome = check("TJF00123", candidates)
    assert outcome.verdict == "similar_serials"
    assert {m.tier for m in outcome.matches} == {SIMILAR}
    assert "2 registered reports have values ending this way" in outcome.matches[0].explanation


def test_a_selective_tail_with_a_conflicting_manufacturer_is_a_similar_serial():
    tier, verdict, top = graded(PIN[-7:], manufacturer="Komatsu")
    assert (tier, verdict) == (SIMILAR, "similar_serials")
    assert "manufacturer differs" in top.explanation


def test_a_description_is_never_an_alarm():
    registered = {**report("r1", PIN), "description": "Yellow Caterpillar 336D excavator with a hammer"}
    outcome = rank(CheckQuery(description="yellow caterpillar excavator hammer"), [registered])
    assert outcome.verdict == "similar_serials"
    assert outcome.matches[0].tier == SIMILAR and "description alone" in outcome.matches[0].explanation


# --- context and neighbourhood move scores -----------------------------------------------


def test_a_copied_typo_weighs_less_than_an_ocr_one_and_that_less_than_a_typed_one():
    scores = [graded("CAT0336DLTJF00124", reading_source=source)[2].score for source in ("typed", "ocr", "copied")]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == 3


def test_a_copied_typo_says_typos_are_rare_in_files():
    assert "typos are rare" in graded("CAT0336DLTJF00124", reading_source="copied")[2].explanation


def test_registered_neighbours_lower_a_similar_serials_score_but_not_its_rank():
    alone = check("CAT0336DLTJF00124", [report("r1", PIN)]).matches[0]
    crowd = [report("r1", PIN), report("r2", "CAT0336DLTJF00125"), report("r3", "CAT0336DLTJF00129")]
    crowded = check("CAT0336DLTJF00124", crowd)
    assert crowded.verdict == "similar_serials"
    [same] = [m for m in crowded.matches if m.report["id"] == "r1"]
    assert same.score < alone.score and same.tier == alone.tier == SIMILAR
    assert "3 registered reports have a value like this reading" in same.explanation


def test_neighbours_do_not_weaken_an_alarm():
    crowd = [report("r1", PIN), report("r2", "CAT0336DLTJF00125"), report("r3", "CAT0336DLTJF00129")]
    outcome = check("CAT0336DLTJF0O123", crowd)
    assert outcome.verdict == "possible_match"
    assert outcome.matches[0].report["id"] == "r1" and outcome.matches[0].tier == ALARM
    assert outcome.matches[0].score == check("CAT0336DLTJF0O123", crowd[:1]).matches[0].score
    assert [m.tier for m in outcome.matches[1:]] == [SIMILAR, SIMILAR]


def test_an_inactive_alarm_beside_an_active_similar_serial_is_no_alarm():
    candidates = [report("old", PIN, status="recovered"), report("new", "CAT0336DLTJF00128")]
    outcome = check("CAT0336DLTJFOO123", candidates)
    assert outcome.verdict == "similar_serials"
    assert [(m.report["id"], m.tier) for m in outcome.matches] == [("new", SIMILAR), ("old", ALARM)]


def test_only_inactive_reports_is_no_match_whatever_their_tier():
    outcome = check("CAT0336DLTJF00124", [report("old", PIN, status="cancelled")])
    assert outcome.verdict == "no_match" and outcome.matches[0].tier == SIMILAR


# --- scores reflect the tiers ------------------------------------------------------------

ALPHABET = "0123456789ABCDEFGHJKLMNPRSTUVWXYZOI"
readings_of_pin = st.lists(st.tuples(st.integers(0, len(PIN)), st.sampled_from(["sub", "del", "ins", "swap", "cut"]),
                                     st.sampled_from(ALPHABET)), max_size=2)


def damaged(edits) -> str:
    value = PIN
    for position, kind, char in edits:
        position = min(position, len(value) - 1)
        if kind == "sub":
            value = value[:position] + char + value[position + 1:]
        elif kind == "del":
            value = value[:position] + value[position + 1:]
        elif kind == "ins":
            value = value[:position] + char + value[position:]
        elif kind == "swap" and position + 1 < len(value):
            value = value[:position] + value[position + 1] + value[position] + value[position + 2:]
        elif kind == "cut":
            value = value[position:]
    return value


context = st.fixed_dictionaries({
    "manufacturer": st.sampled_from([None, "CAT", "Komatsu"]),
    "model": st.sampled_from([None, "336D", "PC300"]),
    "category": st.sampled_from([None, "excavator", "loader"]),
    "reading_source": st.sampled_from(["typed", "copied", "ocr"]),
})


def test_the_tiers_score_bands_do_not_overlap():
    assert SCORE_BANDS[ALARM][0] > SCORE_BANDS[SIMILAR][1] >= SCORE_BANDS[SIMILAR][0] >= MIN_SIMILARITY


@settings(deadline=None)  # several checks per example: a busy machine must not fail it on time
@given(st.lists(st.tuples(readings_of_pin, context), min_size=1, max_size=6))
def test_every_alarm_scores_above_every_similar_serial(checks):
    alarms, similar = [], []
    for edits, query in checks:
        reading = damaged(edits)
        match = best_match(CheckQuery(identifier=reading, **query), report("r1", PIN)) if reading else None
        if match is None or match.match_type in ("exact", "normalized"):
            continue
        (alarms if match.tier == ALARM else similar).append(match.score)
        low, high = SCORE_BANDS[match.tier]
        assert low <= match.score <= high
        assert match.score >= MIN_SIMILARITY
    if alarms and similar:
        assert min(alarms) > max(similar)
