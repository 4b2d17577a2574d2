"""Golden set: corrupted readings of a generated registry, checked end to end.

Every reading is a registered identifier damaged the way plates are misread
(``registry.sample_data.corrupt``).  The set asserts what the design
promises for each kind of damage, and that serials never reported do not hit.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from registry.sample_data import CORRUPTION_KINDS, corrupt, generate_reports, unregistered_serials
from registry.services import match_view
from search.matching import CheckQuery

REGISTRY_SIZE = 3000
QUERIES_PER_KIND = 25
STRANGERS = 60
SEED = 11
# Kinds after which the reading still equals the record once normalized.
EQUAL_AFTER_NORMALIZATION = {"formatting", "cyrillic"}
MIN_TOP1_SHARE = {kind: 0.9 for kind in CORRUPTION_KINDS}


def golden_queries(reports: list[dict]) -> list[dict]:
    rng = random.Random(SEED)
    active = [r for r in reports if r["status"] in ("stolen", "missing")]
    queries = []
    for kind in CORRUPTION_KINDS:
        made = 0
        while made < QUERIES_PER_KIND:
            report = rng.choice(active)
            identifier = rng.choice(report["identifiers"])
            try:
                reading = corrupt(identifier["value"], kind, rng)
            except ValueError:
                continue
            queries.append({"kind": kind, "reading": reading, "ref": report["external_ref"]})
            made += 1
    return queries


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    from registry import create_app
    from registry.context import EXTENSION_KEY

    app = create_app({"DB": str(tmp_path_factory.mktemp("golden") / "golden.db")})
    services = app.extensions[EXTENSION_KEY]
    reports = list(generate_reports(REGISTRY_SIZE, SEED))
    summary = services.reports.import_rows(enumerate(reports, start=1))
    assert summary.created == REGISTRY_SIZE and not summary.rejected
    yield services, golden_queries(reports)
    services.storage.close()


def answer(services, reading: str) -> dict:
    record, outcome = services.checks.check(CheckQuery(identifier=reading))
    return {"verdict": outcome.verdict, "matches": [match_view(m) for m in outcome.matches]}


def test_golden_set_has_every_kind(golden):
    _, queries = golden
    assert len(queries) >= 200
    assert Counter(q["kind"] for q in queries) == {k: QUERIES_PER_KIND for k in CORRUPTION_KINDS}


def test_every_corrupted_reading_finds_its_report(golden):
    """Retrieval promise: whatever the damage, the true report is among the matches."""
    services, queries = golden
    missed = [q for q in queries
              if q["ref"] not in {m["external_ref"] for m in answer(services, q["reading"])["matches"]}]
    assert missed == []


def test_true_report_ranks_first_for_nearly_every_reading(golden):
    services, queries = golden
    first = Counter()
    for q in queries:
        matches = answer(services, q["reading"])["matches"]
        first[q["kind"]] += bool(matches) and matches[0]["external_ref"] == q["ref"]
    shares = {kind: first[kind] / QUERIES_PER_KIND for kind in CORRUPTION_KINDS}
    assert all(shares[k] >= MIN_TOP1_SHARE[k] for k in CORRUPTION_KINDS), shares


def test_verdicts_follow_the_kind_of_damage(golden):
    services, queries = golden
    for q in queries:
        result = answer(services, q["reading"])
        top = result["matches"][0]
        if q["kind"] in EQUAL_AFTER_NORMALIZATION:
            assert result["verdict"] == "hit" and top["match_type"] == "normalized", q
        else:
            assert top["match_type"] != "exact", q
            if top["external_ref"] == q["ref"]:
                assert result["verdict"] == "possible_match", q


def test_serials_never_reported_never_hit(golden):
    services, _ = golden
    verdicts = Counter(answer(services, s)["verdict"] for s in unregistered_serials(STRANGERS, SEED))
    assert verdicts["hit"] == 0
    assert verdicts["no_match"] >= STRANGERS // 2, verdicts
