"""Golden set: corrupted readings of a generated registry, checked on both engines.

Every reading is a registered identifier damaged the way plates are misread
(``registry.demo.corrupt``), typed by an officer.  The set asserts what the
design promises for each kind of damage (a hit, an alarm, or a similar
serial: ``search.grading``), that serials never reported never raise an
alarm, and that the embedded default and Elasticsearch give the same verdict
and the same top match for every reading.
"""

from __future__ import annotations

import random
from collections import Counter

import pytest

from registry import create_app
from registry.access import FULL_DETAILS, Actor
from registry.api.extension import EXTENSION_KEY
from registry.demo import CORRUPTION_KINDS, corrupted_readings, generate_reports, unregistered_serials
from registry.services.results import match_view
from search.grading import running_number
from search.normalize import normalize, skeleton
from search.policy import SELECTIVE_TAIL_FIXED_CHARACTERS
from search.query import CheckQuery
from tests.conftest import BACKENDS, backend_settings, close_storage

REGISTRY_SIZE = 3000
QUERIES_PER_KIND = 25
STRANGERS = 60
SEED = 11
# Kinds after which the reading still equals the record once normalized.
EQUAL_AFTER_NORMALIZATION = {"formatting", "cyrillic"}
# Kinds that are always strong evidence, and kinds that are typos (weak unless one of the exceptions below).
ALWAYS_ALARM = {"confusable", "missing_prefix"}
TYPOS = {"substitution", "two_substitutions", "insertion", "deletion", "transposition"}
MIN_TOP1_SHARE = 0.9
BULK_BATCH_SIZE = 100  # checks answered together, as a bulk check does


def golden_queries(reports: list[dict]) -> list[dict]:
    readings = corrupted_readings(reports, QUERIES_PER_KIND * len(CORRUPTION_KINDS), random.Random(SEED))
    never_reported = [{"kind": "never_reported", "reading": s, "external_ref": None}
                      for s in unregistered_serials(STRANGERS, SEED)]
    return readings + never_reported


@pytest.fixture(scope="module")
def registry_reports() -> list[dict]:
    return list(generate_reports(REGISTRY_SIZE, SEED))


@pytest.fixture(scope="module")
def queries(registry_reports) -> list[dict]:
    return golden_queries(registry_reports)


class GoldenRuns:
    """Each engine loaded with the registry and asked every golden reading, once per module."""

    def __init__(self, tmp_path_factory, reports: list[dict], queries: list[dict]) -> None:
        self._tmp = tmp_path_factory
        self._reports = reports
        self._queries = queries
        self._answers: dict[str, list[dict]] = {}

    def answers(self, backend: str, request: pytest.FixtureRequest) -> list[dict]:
        if backend not in self._answers:
            self._answers[backend] = self._run(backend, request)
        return self._answers[backend]

    def _run(self, backend: str, request: pytest.FixtureRequest) -> list[dict]:
        app = create_app(backend_settings(backend, self._tmp.mktemp(f"golden-{backend}"), request))
        services = app.extensions[EXTENSION_KEY]
        try:
            summary = services.imports.import_rows(Actor.operator(), enumerate(self._reports, start=1))
            assert summary.created == REGISTRY_SIZE and not summary.rejected
            results = []
            for q in self._queries:
                outcome = services.checks.check(Actor.operator(), CheckQuery(identifier=q["reading"])).outcome
                results.append({"verdict": outcome.verdict,
                                "matches": [match_view(m, FULL_DETAILS) for m in outcome.matches]})
            queries = [CheckQuery(identifier=q["reading"]) for q in self._queries]
            batched = [decision.outcome for start in range(0, len(queries), BULK_BATCH_SIZE)
                       for decision in services.checks.decide(Actor.operator(), queries[start:start + BULK_BATCH_SIZE])]
            for result, outcome in zip(results, batched, strict=True):
                result["batched"] = {"verdict": outcome.verdict,
                                     "matches": [match_view(m, FULL_DETAILS) for m in outcome.matches]}
            return results
        finally:
            close_storage(app)


@pytest.fixture(scope="module")
def golden_runs(tmp_path_factory, registry_reports, queries) -> GoldenRuns:
    return GoldenRuns(tmp_path_factory, registry_reports, queries)


@pytest.fixture(params=BACKENDS)
def answers(request, golden_runs) -> list[dict]:
    return golden_runs.answers(request.param, request)


def test_golden_set_has_every_kind(queries):
    assert len(queries) >= 200 + STRANGERS
    kinds = Counter(q["kind"] for q in queries)
    assert kinds == {**dict.fromkeys(CORRUPTION_KINDS, QUERIES_PER_KIND), "never_reported": STRANGERS}


def test_every_corrupted_reading_finds_its_report(queries, answers):
    """Retrieval promise: whatever the damage, the true report is among the matches."""
    missed = [q for q, a in zip(queries, answers)
              if q["external_ref"] and q["external_ref"] not in {m["external_ref"] for m in a["matches"]}]
    assert missed == []


def test_true_report_ranks_first_for_nearly_every_reading(queries, answers):
    first, total = Counter(), Counter()
    for q, a in zip(queries, answers):
        if q["external_ref"]:
            total[q["kind"]] += 1
            first[q["kind"]] += bool(a["matches"]) and a["matches"][0]["external_ref"] == q["external_ref"]
    shares = {kind: first[kind] / total[kind] for kind in total}
    assert min(shares.values()) >= MIN_TOP1_SHARE, shares


def strong_evidence(kind: str, reading: str, registered: str) -> bool:
    """What the grading promises for a reading of ``registered`` damaged by ``kind``: an alarm for
    look-alikes, a missing maker code, a selective tail (the running number and two characters
    before it), a typed swap outside the running number; a similar serial for any other typo."""
    q, r = normalize(reading), normalize(registered)
    start, end = running_number(r)
    if kind in ALWAYS_ALARM:
        return True
    if skeleton(q) == skeleton(r):  # a substitution that happened to be a look-alike
        return True
    if len(q) < len(r) and skeleton(r).endswith(skeleton(q)):  # a tail, or a deletion of the first character
        return len(q) - (len(r) - start) >= SELECTIVE_TAIL_FIXED_CHARACTERS
    if kind == "transposition":
        swapped = next(i for i, (a, b) in enumerate(zip(q, r)) if a != b)
        return not (start <= swapped and swapped + 1 < end)
    assert kind in TYPOS, kind
    return False


def test_verdicts_follow_the_kind_of_damage(queries, answers):
    graded = Counter()
    for q, a in zip(queries, answers):
        if not q["external_ref"]:
            continue
        top = a["matches"][0]
        if q["kind"] in EQUAL_AFTER_NORMALIZATION:
            assert a["verdict"] == "hit" and top["match_type"] == "normalized", q
        elif top["external_ref"] == q["external_ref"]:
            alarm = strong_evidence(q["kind"], q["reading"], top["identifier"]["value"])
            expected = ("possible_match", "alarm") if alarm else ("similar_serials", "similar")
            assert (a["verdict"], top["tier"]) == expected and top["match_type"] != "exact", (q, top)
            graded[q["kind"], top["tier"]] += 1
    # every typo kind is mostly similar serials, and the strong kinds always alarms
    assert graded["insertion", "alarm"] == 0, graded
    assert all(graded[kind, "similar"] == 0 for kind in ALWAYS_ALARM), graded
    assert all(graded[kind, "similar"] > graded[kind, "alarm"] for kind in TYPOS - {"transposition"}), graded


def test_serials_never_reported_never_raise_an_alarm(queries, answers):
    verdicts = Counter(a["verdict"] for q, a in zip(queries, answers) if not q["external_ref"])
    assert verdicts["hit"] == verdicts["possible_match"] == 0, verdicts
    assert verdicts["no_match"] >= STRANGERS // 2, verdicts


def test_both_engines_agree_on_verdict_and_top_match(request, golden_runs, queries):
    """Same registry, same readings: the same verdict and the same best match on every engine."""
    runs = {backend: golden_runs.answers(backend, request) for backend in BACKENDS}

    def summary(answer: dict) -> tuple:
        top = answer["matches"][0] if answer["matches"] else {}
        return answer["verdict"], top.get("external_ref"), top.get("match_type"), top.get("tier"), top.get("score")

    disagreements = [
        (q["reading"], {b: summary(runs[b][n]) for b in BACKENDS})
        for n, q in enumerate(queries)
        if len({summary(runs[b][n]) for b in BACKENDS}) > 1
    ]
    assert disagreements == []


def test_a_batch_of_checks_answers_each_as_its_single_check(answers):
    """Bulk checks look candidates up a batch at a time; no answer may change for it."""
    assert [a["batched"] for a in answers] == [{"verdict": a["verdict"], "matches": a["matches"]} for a in answers]
