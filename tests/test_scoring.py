"""Tests for search.scoring.compare: match type, score and explanation of a reading."""

from __future__ import annotations

import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from registry.demo import corrupted_readings, generate_reports
from search.matching import MIN_SIMILARITY
from search.normalize import confusable, normalize, skeleton
from search.policy import MAX_EDITS
from search.scoring import align, compare, reaches_any, typos_at_least, within_reach
from search.vocabulary import MATCH_TYPES

PIN = "CAT0320DLEJK01234"
VIN = "1HGCM82633A004352"  # valid check digit (3)

# One character per skeleton class: no two of these are confusable, so every
# edit made with them is an unambiguous, arbitrary (non-look-alike) edit.
DISTINCT = "0123456789ACEFHJKMNPRTUVWXY"
assert not any(confusable(a, b) for a in DISTINCT for b in DISTINCT)


def substitute(value: str, position: int, char: str) -> str:
    """Replace the character at 0-based ``position``."""
    return value[:position] + char + value[position + 1 :]


def kind(query: str, record: str, record_type: str = "other") -> str | None:
    comparison = compare(query, record, record_type)
    return comparison.match_type if comparison else None


@st.composite
def distinct_records(draw, min_size: int = 8, max_size: int = 20):
    """A record of distinct, mutually non-confusable characters, plus one character it lacks."""
    size = draw(st.integers(min_size, max_size))
    chars = draw(st.permutations(DISTINCT))
    return "".join(chars[:size]), chars[size]


# --- exact and normalized -----------------------------------------------------


def test_identical_value_is_exact():
    comparison = compare(PIN, PIN)
    assert comparison.match_type == "exact"
    assert comparison.score == 1.0


def test_surrounding_whitespace_still_exact():
    assert kind(f"  {PIN}\n", PIN) == "exact"


@pytest.mark.parametrize("reading", ["cat0320dlejk01234", "CAT-0320D LEJK/01234", "CAT.0320D_LEJK.01234"])
def test_formatting_differences_are_normalized(reading):
    comparison = compare(reading, PIN)
    assert comparison.match_type == "normalized"
    assert comparison.score < 1.0


def test_cyrillic_lookalikes_are_normalized_and_explained():
    typed = "\u0421\u0410\u0422" + PIN[3:]  # С А Т in Cyrillic
    comparison = compare(typed, PIN)
    assert comparison.match_type == "normalized"
    assert "look-alike" in comparison.explanation
    assert "\u0421 for C" in comparison.explanation


@pytest.mark.parametrize("query", ["", "   ", "-/-"])
def test_query_without_letters_or_digits_matches_nothing(query):
    assert compare(query, PIN) is None


def test_unrelated_values_do_not_match():
    assert compare("KMTPC200X7Y4N8821", PIN) is None
    assert compare("HX330", PIN) is None


# --- confusable readings -------------------------------------------------------

# Characters in no confusable group around a single slot at 1-based position 8.
TEMPLATE_HEAD, TEMPLATE_TAIL = "ACE3FH4", "JK7MN9P"
SPEC_GROUPS = ("0OQD", "1IL", "5S", "8B", "2Z", "6G")  # O/0/Q/D, I/1/L, S/5, B/8, Z/2, G/6
CONFUSABLE_PAIRS = [(a, b) for group in SPEC_GROUPS for a in group for b in group if a != b]


@pytest.mark.parametrize("read, registered", CONFUSABLE_PAIRS)
def test_each_confusable_pair_is_a_confusable_match(read, registered):
    record = TEMPLATE_HEAD + registered + TEMPLATE_TAIL
    query = TEMPLATE_HEAD + read + TEMPLATE_TAIL
    comparison = compare(query, record)
    assert comparison.match_type == "confusable"
    assert f"query has {read} where the record has {registered} at position 8" in comparison.explanation


@pytest.mark.parametrize("read, registered", CONFUSABLE_PAIRS)
def test_confusable_reading_beats_arbitrary_substitution_at_same_position(read, registered):
    record = TEMPLATE_HEAD + registered + TEMPLATE_TAIL
    misread = compare(TEMPLATE_HEAD + read + TEMPLATE_TAIL, record)
    typo = compare(TEMPLATE_HEAD + "X" + TEMPLATE_TAIL, record)
    assert typo.match_type == "fuzzy"
    assert misread.score > typo.score


def test_four_lookalike_misreads_weigh_no_more_than_one_typo():
    """A confusable reading costs a quarter of a real typo."""
    misreads = compare("CATO32ODLEJKOI234", PIN)  # 0->O three times, 1->I once
    typo = compare("CAT0320DLEJK01284", PIN)
    assert misreads.match_type == "confusable"
    assert misreads.score > typo.score


def test_lookalike_on_top_of_a_typo_costs_less_than_a_second_typo():
    typo_and_misread = compare("CATO320DLEJK01284", PIN)  # 0->O, 3->8
    two_typos = compare("CATX320DLEJK01284", PIN)  # 0->X, 3->8
    assert typo_and_misread.match_type == two_typos.match_type == "fuzzy"
    assert typo_and_misread.score > two_typos.score
    assert "often misread" in typo_and_misread.explanation


def test_confusable_position_is_counted_in_the_normalized_record():
    """Separators in the registered value must not shift the reported position."""
    comparison = compare("cat-O320d", "CAT 0320 D")
    assert comparison.match_type == "confusable"
    assert "query has O where the record has 0 at position 4" in comparison.explanation


def test_several_confusables_are_still_confusable():
    comparison = compare("CATO32ODLEJKOI234", PIN)
    assert comparison.match_type == "confusable"
    assert comparison.explanation.count("often misread") == 4


def test_cyrillic_o_read_for_zero_is_confusable_and_mentions_the_keyboard():
    comparison = compare("CAT\u041e320DLEJK01234", PIN)  # Cyrillic О where the record has 0
    assert comparison.match_type == "confusable"
    assert "look-alike" in comparison.explanation


# --- fuzzy: one arbitrary edit ------------------------------------------------


@given(distinct_records(), st.data())
def test_one_substitution_is_fuzzy_and_named(record_and_spare, data):
    record, spare = record_and_spare
    k = data.draw(st.integers(0, len(record) - 1))
    comparison = compare(substitute(record, k, spare), record)
    assert comparison.match_type == "fuzzy"
    assert f"query has {spare} where the record has {record[k]} at position {k + 1}" in comparison.explanation


@given(distinct_records(), st.data())
def test_one_insertion_is_fuzzy_and_named(record_and_spare, data):
    record, spare = record_and_spare
    k = data.draw(st.integers(0, len(record)))
    query = record[:k] + spare + record[k:]
    comparison = compare(query, record)
    assert comparison.match_type == "fuzzy"
    where = "at the start" if k == 0 else f"after position {k}"
    assert f"query has an extra {spare} {where}" in comparison.explanation


@given(distinct_records(), st.data())
def test_one_deletion_is_fuzzy_and_named(record_and_spare, data):
    record, _ = record_and_spare
    k = data.draw(st.integers(0, len(record) - 1))
    comparison = compare(record[:k] + record[k + 1 :], record)
    if k == 0 and comparison.match_type == "partial":
        # Without its first character the query is also the record's tail; a
        # partial match may then score higher, and names the unread character.
        assert f"the first 1 ({record[0]}) were not read" in comparison.explanation
        return
    assert comparison.match_type == "fuzzy"
    assert f"query is missing {record[k]} at position {k + 1}" in comparison.explanation


@given(distinct_records(), st.data())
def test_adjacent_transposition_is_fuzzy_and_named(record_and_spare, data):
    record, _ = record_and_spare
    k = data.draw(st.integers(0, len(record) - 2))
    query = record[:k] + record[k + 1] + record[k] + record[k + 2 :]
    comparison = compare(query, record)
    assert comparison.match_type == "fuzzy"
    assert (
        f"query has {record[k + 1]}{record[k]} where the record has {record[k]}{record[k + 1]} "
        f"at positions {k + 1}-{k + 2}"
    ) in comparison.explanation


@given(distinct_records(), st.data())
def test_edit_positions_refer_to_the_normalized_record(record_and_spare, data):
    record, spare = record_and_spare
    k = data.draw(st.integers(0, len(record) - 1))
    formatted = "-".join(record[i : i + 4] for i in range(0, len(record), 4)).lower()
    comparison = compare(substitute(record, k, spare), formatted)
    assert f"at position {k + 1}" in comparison.explanation


def test_transposition_costs_less_than_a_substitution():
    swapped = compare("CAT0320DLEKJ01234", PIN)
    replaced = compare("CAT0320DLEXK01234", PIN)
    assert swapped.match_type == replaced.match_type == "fuzzy"
    assert swapped.score > replaced.score


# --- how many edits are tolerated ------------------------------------------------


@given(distinct_records(min_size=8), st.data())
def test_two_substitutions_on_values_of_eight_or_more_are_fuzzy(record_and_spare, data):
    record, spare = record_and_spare
    i, j = data.draw(st.lists(st.integers(0, len(record) - 1), min_size=2, max_size=2, unique=True))
    query = substitute(substitute(record, i, spare), j, spare)
    comparison = compare(query, record)
    assert comparison.match_type == "fuzzy"
    assert f"at position {i + 1}" in comparison.explanation
    assert f"at position {j + 1}" in comparison.explanation


def test_two_substitutions_on_a_17_character_pin():
    assert kind("CAT0X20DLEJK01294", PIN) == "fuzzy"


@given(distinct_records(min_size=8), st.data())
def test_three_arbitrary_substitutions_match_nothing(record_and_spare, data):
    record, spare = record_and_spare
    positions = data.draw(st.lists(st.integers(0, len(record) - 1), min_size=3, max_size=3, unique=True))
    query = record
    for p in positions:
        query = substitute(query, p, spare)
    assert compare(query, record) is None


def test_three_substitutions_on_a_17_character_pin_match_nothing():
    assert compare("CAT0X20DLEJY01294", PIN) is None  # 3->X, K->Y, 3->9


SHORT = "7K4XP9R"  # 7 characters: below SHORT_VALUE_LENGTH


@pytest.mark.parametrize(
    "query, expected",
    [
        ("7K4YP9R", "fuzzy"),  # one substitution
        ("7K4XP9", "fuzzy"),  # one deletion
        ("7K4XTP9R", "fuzzy"),  # one insertion
        ("7KX4P9R", "fuzzy"),  # one transposition
        ("7K4YP9T", None),  # two substitutions
        ("7K4XTP9T", None),  # insertion + substitution
        ("K4XP9", None),  # two deletions
    ],
)
def test_short_value_tolerates_only_one_edit(query, expected):
    assert kind(query, SHORT) == expected


def test_eight_characters_tolerate_two_edits():
    assert kind("7K4YP9TW", "7K4XP9RW") == "fuzzy"


def test_confusables_do_not_count_against_the_short_value_limit():
    assert kind("7K4YP9R", "7K4XP9R") == "fuzzy"
    assert kind("7K4YP5R", "7K4XPSR") == "fuzzy"  # one typo plus one look-alike (5/S)


def test_value_shorter_than_six_gets_no_fuzzy_match():
    """Below MIN_FUZZY_LENGTH retrieval stores only the exact key, so scoring must not fuzz either."""
    assert compare("7K4YP", "7K4XP") is None


# --- partial readings ----------------------------------------------------------


@pytest.mark.parametrize("length", [6, 10, 14])
def test_legible_tail_of_six_or_more_is_partial(length):
    comparison = compare(PIN[-length:], PIN)
    assert comparison.match_type == "partial"
    assert f"last {length} of 17" in comparison.explanation
    assert f"({PIN[:17 - length]})" in comparison.explanation


def test_pin_without_its_manufacturer_prefix_is_found():
    """An officer who cannot read the WMI ('CAT') must still get the report."""
    comparison = compare(PIN[3:], PIN, "pin")
    assert comparison is not None
    assert comparison.match_type in {"partial", "fuzzy"}
    assert comparison.score >= MIN_SIMILARITY
    assert "CAT" in comparison.explanation


@pytest.mark.parametrize("missing", [1, 2])
def test_pin_missing_one_or_two_leading_characters_is_found(missing):
    comparison = compare(PIN[missing:], PIN, "pin")
    assert comparison is not None and comparison.match_type in {"partial", "fuzzy"}
    assert comparison.score >= MIN_SIMILARITY


def test_longer_tail_scores_higher():
    assert compare(PIN[-12:], PIN).score > compare(PIN[-6:], PIN).score


def test_tail_read_with_lookalikes_is_partial_but_scores_lower():
    clean = compare("K01234", PIN)
    misread = compare("KO1234", PIN)
    assert misread.match_type == "partial"
    assert misread.score < clean.score
    assert "look-alike" in misread.explanation


def test_tail_of_five_characters_matches_nothing():
    assert compare(PIN[-5:], PIN) is None


def test_leading_part_is_not_a_partial_match():
    assert compare(PIN[:8], PIN) is None


# --- structure hints ------------------------------------------------------------


def test_vin_query_failing_its_check_digit_gets_a_hint():
    query = substitute(VIN, 14, "7")  # 3 read as 7 at position 15: breaks the check digit
    comparison = compare(query, VIN, "vin")
    assert comparison.match_type == "fuzzy"
    assert "check digit" in comparison.explanation
    assert "at position 15" in comparison.explanation


def test_check_digit_hint_only_for_vins():
    query = substitute(VIN, 14, "7")
    assert "check digit" not in compare(query, VIN, "serial").explanation


def test_vin_query_with_forbidden_letter_gets_a_hint():
    comparison = compare("1HGCM82633A0O4352", VIN, "vin")
    assert comparison.match_type == "confusable"
    assert "letter O" in comparison.explanation


# --- scores -----------------------------------------------------------------------


@given(distinct_records(min_size=6), st.data())
def test_scores_are_ordered_exact_normalized_confusable_fuzzy(record_and_spare, data):
    record, spare = record_and_spare
    assume("0" not in record and spare != "0")
    k = data.draw(st.integers(0, len(record) - 1))
    record = substitute(record, k, "0")
    exact = compare(record, record)
    normalized = compare("-".join(record), record)
    misread = compare(substitute(record, k, "O"), record)
    typo = compare(substitute(record, k, spare), record)
    assert [exact.match_type, normalized.match_type, misread.match_type, typo.match_type] == [
        "exact", "normalized", "confusable", "fuzzy",
    ]
    assert 1.0 >= exact.score > normalized.score > misread.score > typo.score > 0.0


NEAR_ALPHABET = "0O1IL5S8B2ZAX7- "  # look-alikes and separators
near_text = st.text(alphabet=NEAR_ALPHABET, max_size=20)


@st.composite
def near_length_pairs(draw, alphabet: str, max_size: int) -> tuple[str, str]:
    """Two values at most ``MAX_EDITS`` apart in length (what ``compare`` aligns): drawing them
    independently and filtering would discard most pairs, and Hypothesis fails a test that does."""
    query = draw(st.text(alphabet=alphabet, max_size=max_size))
    size = draw(st.integers(max(0, len(query) - MAX_EDITS), len(query) + MAX_EDITS))
    return query, draw(st.text(alphabet=alphabet, min_size=size, max_size=size))


@given(near_text, near_text)
def test_any_comparison_has_a_known_type_and_a_score_in_unit_interval(query, record):
    comparison = compare(query, record)
    if comparison is not None:
        assert comparison.match_type in MATCH_TYPES and comparison.match_type != "description"
        assert 0.0 <= comparison.score <= 1.0
        assert comparison.explanation


@given(distinct_records(), st.data())
def test_more_edits_never_score_higher(record_and_spare, data):
    record, spare = record_and_spare
    i, j = data.draw(st.lists(st.integers(0, len(record) - 1), min_size=2, max_size=2, unique=True))
    one = compare(substitute(record, i, spare), record)
    two = compare(substitute(substitute(record, i, spare), j, spare), record)
    assert one.score > two.score


@given(near_text, near_text)
def test_the_screen_never_rejects_what_compare_accepts(query, record):
    comparison = compare(query, record)
    if comparison is not None:
        assert within_reach(skeleton(normalize(query)), skeleton(normalize(record)))


@given(near_length_pairs(NEAR_ALPHABET, 20))
def test_typos_at_least_is_a_lower_bound_on_the_typos_of_the_alignment(pair):
    q, r = (normalize(v) for v in pair)
    assume(q and r and abs(len(q) - len(r)) <= MAX_EDITS)
    _, edits = align(q, r)
    typos = sum(1 for e in edits if not e.is_confusable)
    bound = typos_at_least(skeleton(q), skeleton(r), MAX_EDITS)
    assert bound <= typos  # with the cutoff, a bound over MAX_EDITS is MAX_EDITS + 1, still <= typos


# --- the restructured alignment and screen against the plain ones they replaced ----------
# ``align`` and ``reaches_any`` were rewritten for speed (skeleton characters instead of
# ``confusable`` calls, minima by comparison, one screening loop): answers must not change.


def reference_align(q: str, r: str) -> tuple[float, list[tuple[str, int, str, str]]]:
    """The banded weighted OSA table and its trace as first written: what ``align`` must return."""
    n, m = len(q), len(r)
    table = [[float("inf")] * (m + 1) for _ in range(n + 1)]
    for i in range(min(n, MAX_EDITS) + 1):
        table[i][0] = i * 1.0
    for j in range(min(m, MAX_EDITS) + 1):
        table[0][j] = j * 1.0

    def substitution(a: str, b: str) -> float:
        return 0.0 if a == b else (0.25 if confusable(a, b) else 1.0)

    def swappable(i: int, j: int) -> bool:
        return i > 1 and j > 1 and q[i - 1] == r[j - 2] and q[i - 2] == r[j - 1]

    for i in range(1, n + 1):
        for j in range(max(1, i - MAX_EDITS), min(m, i + MAX_EDITS) + 1):
            costs = [table[i - 1][j - 1] + substitution(q[i - 1], r[j - 1]), table[i - 1][j] + 1.0,
                     table[i][j - 1] + 1.0]
            if swappable(i, j) and q[i - 1] != r[j - 1]:
                costs.append(table[i - 2][j - 2] + 0.8)
            table[i][j] = min(costs)

    def same(a: float, b: float) -> bool:
        return abs(a - b) < 1e-9

    edits, i, j = [], n, m
    while i > 0 or j > 0:
        here = table[i][j]
        if i > 0 and j > 0 and same(here, table[i - 1][j - 1] + substitution(q[i - 1], r[j - 1])):
            if q[i - 1] != r[j - 1]:
                edits.append(("sub", j, q[i - 1], r[j - 1]))
            i, j = i - 1, j - 1
        elif i > 0 and j > 0 and swappable(i, j) and same(here, table[i - 2][j - 2] + 0.8):
            edits.append(("swap", j - 1, q[i - 2 : i], r[j - 2 : j]))
            i, j = i - 2, j - 2
        elif i > 0 and same(here, table[i - 1][j] + 1.0):
            edits.append(("extra", j, q[i - 1], ""))
            i -= 1
        else:
            edits.append(("missing", j, "", r[j - 1]))
            j -= 1
    return table[n][m], edits[::-1]


def reference_within_reach(query_skeleton: str, record_skeleton: str) -> bool:
    """The screen as first written: a shared tail, or lengths and typos within MAX_EDITS."""
    if len(query_skeleton) >= 6 and record_skeleton.endswith(query_skeleton):
        return True
    return abs(len(query_skeleton) - len(record_skeleton)) <= MAX_EDITS and \
        typos_at_least(query_skeleton, record_skeleton, MAX_EDITS) <= MAX_EDITS


# Look-alike groups (0/O/Q/D, 1/I/L, 5/S, 8/B, 2/Z, 6/G), plain characters and one with no
# Latin look-alike: many ties, swaps and confusable substitutions among few characters.
LOOKALIKE_ALPHABET = "0OQD1IL5S8B2Z6GAX7Ж"
DAMAGES = ("lookalike", "substitution", "swap", "missing", "extra")


@st.composite
def damaged_pairs(draw) -> tuple[str, str]:
    """A value and a reading of it with up to four damages of every kind a plate suffers."""
    record = draw(st.text(alphabet=LOOKALIKE_ALPHABET, max_size=18))
    reading = list(record)
    for damage in draw(st.lists(st.sampled_from(DAMAGES), max_size=4)):
        at = draw(st.integers(0, max(0, len(reading) - 1)))
        if damage == "extra" or not reading:
            reading.insert(at, draw(st.sampled_from(LOOKALIKE_ALPHABET)))
        elif damage == "missing":
            del reading[at]
        elif damage == "swap" and at + 1 < len(reading):
            reading[at], reading[at + 1] = reading[at + 1], reading[at]
        elif damage == "lookalike":
            group = next((g for g in ("0OQD", "1IL", "5S", "8B", "2Z", "6G") if reading[at] in g), reading[at])
            reading[at] = draw(st.sampled_from(group))
        else:
            reading[at] = draw(st.sampled_from(LOOKALIKE_ALPHABET))
    return "".join(reading), record


def as_tuples(edits) -> list[tuple[str, int, str, str]]:
    return [(e.kind, e.position, e.query_text, e.record_text) for e in edits]


@given(damaged_pairs())
def test_alignment_is_the_reference_alignment_on_damaged_readings(pair):
    query, record = pair
    assume(abs(len(query) - len(record)) <= MAX_EDITS)  # what compare() aligns: beyond, no path fits the band
    cost, edits = align(query, record)
    expected_cost, expected_edits = reference_align(query, record)
    assert cost == expected_cost  # bit for bit: the same sums in the same order
    assert as_tuples(edits) == expected_edits


@given(near_length_pairs(LOOKALIKE_ALPHABET, 14))
def test_alignment_is_the_reference_alignment_on_any_strings(pair):
    """Unrelated values and empty ones."""
    query, record = pair
    cost, edits = align(query, record)
    expected_cost, expected_edits = reference_align(query, record)
    assert cost == expected_cost
    assert as_tuples(edits) == expected_edits


@given(damaged_pairs(), st.lists(st.text(alphabet=LOOKALIKE_ALPHABET, max_size=18), max_size=3))
def test_screen_is_the_reference_screen(pair, others):
    query, record = (skeleton(v) for v in pair)
    records = [record, *map(skeleton, others)]
    assert within_reach(query, record) == reference_within_reach(query, record)
    assert reaches_any(query, records) == any(reference_within_reach(query, s) for s in records)
    assert reaches_any(query, records[1:]) == any(reference_within_reach(query, s) for s in records[1:])


def test_alignment_and_screen_are_the_reference_ones_on_demo_readings():
    """Readings damaged the ten ways of ``registry.demo`` against their own value and their
    neighbours in a generated registry: realistic lengths, prefixes and Cyrillic look-alikes."""
    reports = list(generate_reports(200, 5))
    values = [normalize(i["value"]) for r in reports for i in r["identifiers"]]
    readings = [normalize(q["reading"]) for q in corrupted_readings(reports, 200, random.Random(5))]
    compared = 0
    for reading in readings:
        for value in values:
            in_reach = reaches_any(skeleton(reading), [skeleton(value)])
            assert in_reach == reference_within_reach(skeleton(reading), skeleton(value))
            if in_reach:
                cost, edits = align(reading, value)
                assert (cost, as_tuples(edits)) == reference_align(reading, value)
                compared += 1
    assert compared >= 200  # every reading reaches at least its own value
