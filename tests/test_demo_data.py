"""Sample data: deterministic, realistic, unique where the registry needs it, corruptible on demand."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter, defaultdict
from itertools import combinations

import pytest

from registry.demo import damage
from registry.demo import reports as sd
from search.analysis import language_of
from search.attributes import COLOUR, MAKER, analyse, describe_report
from search.identifiers import is_valid_vin, pin_problems
from search.normalize import CONFUSABLE_GROUPS

SEED = 7
REGISTRY_SIZE = 20_000

_FROM_CYRILLIC = str.maketrans({cyr: lat for lat, cyr in sd.CYRILLIC_LOOKALIKES.items()})
_SKELETON = str.maketrans({c: group[0] for group in CONFUSABLE_GROUPS for c in group})


def fold(value: str) -> str:
    """Upper case, Cyrillic look-alikes back to Latin, letters and digits only."""
    return "".join(c for c in value.upper().translate(_FROM_CYRILLIC) if c.isalnum())


def skeleton(value: str) -> str:
    return fold(value).translate(_SKELETON)


@pytest.fixture(scope="module")
def registry() -> list[dict]:
    return list(sd.generate_reports(REGISTRY_SIZE, seed=SEED))


@pytest.fixture(scope="module")
def identifiers(registry) -> list[dict]:
    return [identifier for report in registry for identifier in report["identifiers"]]


# --------------------------------------------------------------------------- determinism


def test_same_seed_same_reports():
    assert list(sd.generate_reports(300, seed=5)) == list(sd.generate_reports(300, seed=5))


def test_other_seed_other_reports():
    assert list(sd.generate_reports(50, seed=5)) != list(sd.generate_reports(50, seed=6))


def test_shorter_run_is_a_prefix():
    assert list(sd.generate_reports(100, seed=5)) == list(sd.generate_reports(300, seed=5))[:100]


def test_demo_reports_start_with_the_tulkubas_case():
    demo = sd.demo_reports(40)
    assert demo == sd.demo_reports(40)
    assert demo[:6] == sd.tulkubas_case()
    assert len(demo) == 6 + 40


def test_unregistered_serials_are_deterministic():
    assert sd.unregistered_serials(500, seed=3) == sd.unregistered_serials(500, seed=3)


# --------------------------------------------------------------------------- report shape


STATUSES = {"stolen", "missing", "recovered", "cancelled"}
CATEGORIES = {"excavator", "haul_truck", "truck", "loader", "dozer", "grader", "drill_rig",
              "crusher", "generator", "compressor", "attachment", "other"}
ID_TYPES = {"pin", "vin", "serial", "engine", "component", "telematics", "other"}


def test_reports_have_required_keys_and_valid_values(registry):
    today = dt.date.today()
    for report in registry:
        assert report["external_ref"]
        assert report["status"] in STATUSES
        assert report["category"] in CATEGORIES
        assert report["reporting_agency"]["name"]
        assert report["incident"]["country"] in sd.COUNTRY_WEIGHTS
        assert 1 <= len(report["identifiers"]) <= 3
        for identifier in report["identifiers"]:
            assert identifier["type"] in ID_TYPES
            assert identifier["value"] and len(identifier["value"]) <= 64
            assert identifier["location"]
        assert isinstance(report["year"], int)
        day = dt.date.fromisoformat(report["incident"]["date"])
        assert report["year"] <= day.year and day <= today
        if "value" in report:
            assert report["value"]["currency"] == sd.CURRENCIES[report["incident"]["country"]][0]
            assert report["value"]["amount"] > 0
        assert report["reporting_agency"]["country"] == report["incident"]["country"]


def test_optional_keys_are_sometimes_missing(registry):
    for key in ("model", "color", "distinguishing_marks", "value"):
        present = sum(key in report for report in registry) / len(registry)
        assert 0.4 < present < 0.99, key


def test_status_mix(registry):
    counts = Counter(report["status"] for report in registry)
    for status, weight in sd.STATUS_WEIGHTS.items():
        assert counts[status] / len(registry) == pytest.approx(weight / 100, abs=0.015), status


def test_identifier_mix(registry):
    main = Counter(report["identifiers"][0]["type"] for report in registry)
    assert main["pin"] / len(registry) == pytest.approx(0.40, abs=0.03)
    assert main["vin"] / len(registry) == pytest.approx(0.25, abs=0.03)
    assert main["serial"] / len(registry) == pytest.approx(0.35, abs=0.03)


def test_mostly_kazakhstan(registry):
    countries = Counter(report["incident"]["country"] for report in registry)
    assert countries.most_common(1)[0][0] == "KZ"
    assert set(countries) == set(sd.COUNTRY_WEIGHTS)


def test_descriptions_mention_the_machine(registry):
    """In whatever language it is written, a description names the report's maker, colour and category."""
    for report in registry[:500]:
        said = analyse(report["description"]).terms
        stated = describe_report({k: v for k, v in report.items() if k not in ("description", "distinguishing_marks")})
        for kind in (MAKER, COLOUR):
            assert stated.stated_of(kind) <= said, (kind, report["description"])


def test_descriptions_are_written_in_the_languages_of_the_country(registry):
    languages = defaultdict(Counter)
    for report in registry:
        languages[report["incident"]["country"]][language_of(report["description"])] += 1
    assert set(languages["KZ"]) == {"ru", "kk", "en"}
    assert languages["RU"].most_common(1)[0][0] == "ru"
    assert set(languages["AU"]) == {"en"}


def test_languages_leave_every_other_field_as_before():
    """Languages come from a stream of their own: drawing other languages changes no other field."""
    def without_text(language_seed):
        generator = sd._Generator(5)
        if language_seed is not None:
            generator.language_rng = random.Random(language_seed)
        reports = [generator.report() for _ in range(300)]
        return [{k: v for k, v in r.items() if k not in ("description", "distinguishing_marks")} for r in reports]

    assert without_text(None) == without_text("another")


def test_reports_pass_the_api_schema(registry):
    from registry.validation import ReportInputSchema

    schema = ReportInputSchema()
    for report in sd.tulkubas_case() + registry[:2000]:
        assert schema.validate(report) == {}, report["external_ref"]


# --------------------------------------------------------------------------- uniqueness


def test_external_refs_unique_per_agency(registry):
    refs = [(report["reporting_agency"]["name"], report["external_ref"]) for report in registry]
    assert len(set(refs)) == len(refs)


def test_identifier_values_unique_after_normalizing(registry):
    values = [fold(i["value"]) for r in sd.tulkubas_case() + registry for i in r["identifiers"]]
    assert len(set(values)) == len(values)


def test_identifier_values_unique_even_after_folding_confusables(identifiers):
    skeletons = [skeleton(identifier["value"]) for identifier in identifiers]
    assert len(set(skeletons)) == len(skeletons)


def test_identifier_families_cannot_collide():
    """No two families can produce the same value, even with O/0, I/1, S/5, B/8, Z/2, G/6 folded."""
    by_length = defaultdict(list)
    for family in sd._FAMILIES:
        folded = tuple(frozenset(c.translate(_SKELETON) for c in chars) for chars in family.pattern())
        by_length[len(folded)].append((family.key, folded))
    for families in by_length.values():
        for (key_a, a), (key_b, b) in combinations(families, 2):
            assert not all(x & y for x, y in zip(a, b)), (key_a, key_b)


# --------------------------------------------------------------------------- identifier realism


def test_vins_validate(identifiers):
    vins = [fold(i["value"]) for i in identifiers if i["type"] == "vin"]
    assert len(vins) > 1000
    assert all(is_valid_vin(vin) for vin in vins)


def test_pins_are_iso_10261(identifiers):
    pins = [fold(i["value"]) for i in identifiers if i["type"] == "pin"]
    assert len(pins) > 1000
    for pin in pins:
        assert len(pin) == 17 and not set(pin) & set("IOQ"), pin
        assert pin_problems(pin) == [], pin
        assert pin[:3] in sd.PIN_MAKERS


def test_pins_of_a_model_share_long_prefixes(identifiers):
    pins = [fold(i["value"]) for i in identifiers if i["type"] == "pin"]
    prefixes = Counter(pin[:12] for pin in pins)
    assert len(prefixes) < len(pins) / 20
    assert prefixes.most_common(1)[0][1] > 100


def test_some_values_are_formatted_or_cyrillic(identifiers):
    values = [i["value"] for i in identifiers]
    cyrillic = sum(bool(re.search("[А-Яа-я]", v)) for v in values) / len(values)
    separated = sum(bool(re.search(r"[^0-9A-Za-zА-Яа-я]", v)) for v in values) / len(values)
    lower = sum(bool(re.search("[a-z]", v)) for v in values) / len(values)
    assert 0.005 < cyrillic < 0.04
    assert 0.1 < separated < 0.6
    assert 0.005 < lower < 0.1
    assert any(re.fullmatch(r"TK[LM]-\d{6}", v) for v in values)


def test_truck_reports_have_vins_and_machines_pins(registry):
    for report in registry:
        main = report["identifiers"][0]["type"]
        if report["category"] == "truck":
            assert main == "vin"
        if main == "serial" and report["category"] in sd.SERIAL_ONLY_CATEGORIES:
            assert len(report["identifiers"]) == 1


# --------------------------------------------------------------------------- the Tulkubas case


def test_tulkubas_case():
    case = sd.tulkubas_case()
    assert len(case) >= 5
    assert {r["category"] for r in case} >= {"truck", "excavator", "loader", "drill_rig", "attachment", "generator"}
    assert len({r["external_ref"].rsplit("/", 1)[0] for r in case}) == 1
    assert all(r["reporting_agency"]["name"] == "Police Department of Turkestan Region" for r in case)
    assert all(r["incident"]["country"] == "KZ" and r["value"]["currency"] == "KZT" for r in case)
    total = sum(r["value"]["amount"] for r in case)
    assert total == pytest.approx(400_000_000, rel=0.05)
    assert all("Tulkubas" in r["incident"]["place"] + r["incident"]["circumstances"] for r in case)
    assert all("November 2025" in r["incident"]["circumstances"] for r in case)
    for identifier in (i for r in case for i in r["identifiers"]):
        value = fold(identifier["value"])
        if identifier["type"] == "vin":
            assert is_valid_vin(value)
        if identifier["type"] == "pin":
            assert pin_problems(value) == []


def test_tulkubas_identifiers_are_never_generated():
    case_values = {fold(i["value"]) for r in sd.tulkubas_case() for i in r["identifiers"]}
    assert not case_values & set(sd.unregistered_serials(3000, seed=SEED))


def test_reserved_numbers_are_skipped_and_nothing_else():
    """Drain both halves of a family that holds a Tulkubas identifier."""
    family = min((f for f in sd._FAMILIES if f.reserved), key=lambda f: f.capacity)
    drawn = {}
    for stream in ("registered", "unregistered"):
        source = sd._SerialSource(1, stream)
        numbers = []
        while (number := source.draw(family)) is not None:
            numbers.append(number)
        drawn[stream] = set(numbers)
        assert len(numbers) == len(drawn[stream])
    assert not drawn["registered"] & drawn["unregistered"]
    assert drawn["registered"] | drawn["unregistered"] == set(range(family.capacity)) - family.reserved


# --------------------------------------------------------------------------- unregistered serials


def test_unregistered_serials_are_disjoint_from_registry(identifiers):
    registered = {fold(i["value"]) for i in identifiers}
    registered |= {fold(i["value"]) for r in sd.generate_reports(5000, seed=SEED + 1) for i in r["identifiers"]}
    for seed in (SEED, SEED + 1, 99):
        unregistered = sd.unregistered_serials(5000, seed=seed)
        assert len(set(unregistered)) == len(unregistered)
        assert not registered & set(unregistered)


def test_unregistered_serials_look_like_registered_ones(identifiers):
    unregistered = sd.unregistered_serials(5000, seed=SEED)
    assert all(v == fold(v) for v in unregistered)
    vins = [v for v in unregistered if re.fullmatch(r"(XTC|LZZ|LZG|LFW|WMA|YV2|YS2|WDB|1M1|1FU|JAL|Y3M).{14}", v)]
    pins = [v for v in unregistered if len(v) == 17 and v[:3] in sd.PIN_MAKERS]
    assert len(vins) > 500 and all(is_valid_vin(v) for v in vins)
    assert len(pins) > 1000 and all(pin_problems(v) == [] for v in pins)
    registered_prefixes = {fold(i["value"])[:12] for i in identifiers if i["type"] == "pin"}
    assert sum(p[:12] in registered_prefixes for p in pins) > 0.9 * len(pins)


def test_family_shuffle_is_a_permutation():
    family = next(f for f in sd._FAMILIES if f.digits == 5)
    numbers = {family.number(i) for i in range(family.capacity)}
    assert numbers == set(range(family.capacity))


# --------------------------------------------------------------------------- corruption


@pytest.fixture(scope="module")
def clean_values(identifiers) -> list[str]:
    return sorted({fold(i["value"]) for i in identifiers[:3000]})


@pytest.mark.parametrize("kind", damage.CORRUPTION_KINDS)
def test_every_corruption_changes_the_value(kind, clean_values):
    rng = random.Random(kind)
    applied = 0
    for value in clean_values:
        try:
            corrupted = damage.corrupt(value, kind, rng)
        except ValueError:
            continue
        applied += 1
        assert corrupted != value
        check_corruption(kind, value, corrupted)
    assert applied > len(clean_values) / 10, kind


def check_corruption(kind: str, value: str, corrupted: str) -> None:
    if kind == "formatting":
        assert fold(corrupted) == value
    elif kind == "cyrillic":
        assert fold(corrupted) == value and re.search("[А-Яа-я]", corrupted)
    elif kind == "confusable":
        assert skeleton(corrupted) == skeleton(value)
        assert 1 <= sum(a != b for a, b in zip(value, corrupted)) <= 2
    elif kind == "substitution":
        assert len(corrupted) == len(value) and sum(a != b for a, b in zip(value, corrupted)) == 1
    elif kind == "two_substitutions":
        assert len(corrupted) == len(value) and sum(a != b for a, b in zip(value, corrupted)) == 2
    elif kind == "insertion":
        assert len(corrupted) == len(value) + 1
    elif kind == "deletion":
        assert len(corrupted) == len(value) - 1
    elif kind == "transposition":
        diff = [i for i, (a, b) in enumerate(zip(value, corrupted)) if a != b]
        assert len(diff) == 2 and diff[1] == diff[0] + 1 and sorted(value) == sorted(corrupted)
    elif kind == "tail":
        assert value.endswith(corrupted) and 6 <= len(corrupted) <= 10
    elif kind == "missing_prefix":
        assert len(value) == 17 and corrupted == value[3:]


@pytest.mark.parametrize("value, kind", [
    ("123456789", "cyrillic"),
    ("347", "confusable"),
    ("HX4571", "tail"),
    ("TKL004512", "missing_prefix"),
    ("1111", "transposition"),
    ("CAT0320", "no_such_kind"),
])
def test_corruption_that_cannot_apply_raises(value, kind):
    with pytest.raises(ValueError):
        damage.corrupt(value, kind, random.Random(0))


def test_corruption_works_on_registered_forms():
    rng = random.Random(1)
    for kind in damage.CORRUPTION_KINDS:
        if kind != "missing_prefix":
            assert damage.corrupt("C15-2WS01234", kind, rng) != "C15-2WS01234", kind
    assert damage.corrupt("CAT-0320D-C-HEX01234", "missing_prefix", rng) == "0320D-C-HEX01234"
