"""Descriptions in Russian, Kazakh and English: analysis, ranking, both engines, the labelled set.

The labelled set is the small brother of ``bench/descriptions_bench.py``: a
generated registry whose descriptions are in ru, kk and en, and queries
paraphrasing active reports in the same or another language
(``registry.demo.reports.description_queries``).  It runs on both engines, which
must give the same answers.
"""

from __future__ import annotations

import random
import sqlite3

import pytest

from registry import create_app
from registry.access import FULL_DETAILS, Actor
from registry.api.extension import EXTENSION_KEY
from registry.demo.reports import demo_reports, description_queries, labelled_registry
from registry.services.results import match_view
from registry.storage import open_engine
from registry.storage.elasticsearch.cluster import versioned_index
from registry.storage.elasticsearch.mappings import REPORTS_MAPPINGS
from registry.storage.elasticsearch.reports import ref_id, report_fields
from registry.storage.sqlite import open_sqlite
from registry.storage.sqlite.descriptions import ANALYSIS_META
from search.attributes import analyse, describe_report
from search.description import compare_description
from search.kazakh import stem as kazakh_stem
from search.matching import rank
from search.query import CheckQuery
from search.text import ANALYSIS_VERSION
from tests.conftest import (
    BACKENDS,
    backend_settings,
    candidates,
    close_storage,
    drop_indices,
    es_cluster,
    report_data,
    settings_for,
    sqlite_path,
    upsert,
)

TULKUBAS_EXCAVATOR = "KZ-TRK-2026-008741/2"
RUSSIAN_QUERY = "жёлтый экскаватор Komatsu PC300 с гидромолотом"
LABELLED_REPORTS = 1500
LABELLED_QUERIES = 80
SEED = 19


def terms(text: str) -> set[str]:
    return set(analyse(text).terms)


# -- analysis --------------------------------------------------------------------------------------


@pytest.mark.parametrize("forms", [
    ("экскаватор", "экскаватора", "экскаватором", "экскаваторы"),
    ("гидромолот", "гидромолотом", "гидромолота"),
    ("жёлтый", "желтого", "жёлтая"),
    ("экскаватор", "экскаваторды", "экскаваторы", "экскаваторға"),  # Kazakh endings on a loanword
    ("шөміш", "шөмішпен", "шөміші"),
    ("шанақ", "шанағы", "шанақпен"),  # қ voiced to ғ before a vowel
    ("excavator", "excavators"),
    ("hammer", "hammers", "breaker"),
])
def test_word_forms_share_their_terms(forms):
    assert len({frozenset(terms(f)) for f in forms}) == 1, {f: terms(f) for f in forms}
    assert terms(forms[0])


@pytest.mark.parametrize("russian,kazakh,english", [
    ("жёлтый экскаватор", "сары экскаватор", "yellow excavator"),
    ("гусеничный бульдозер", "шынжыр табанды бульдозер", "crawler dozer"),
    ("ковш с зубьями", "тістері бар шөміш", "bucket with teeth"),
    ("треснутое лобовое стекло", "алдыңғы әйнегі жарылған", "cracked windscreen"),
])
def test_a_description_means_the_same_in_each_language(russian, kazakh, english):
    assert terms(russian) == terms(kazakh) == terms(english)


@pytest.mark.parametrize("spelling", ["Komatsu", "Комацу", "Коматсу", "Komatzu", "Komatsuu"])
def test_makers_are_known_in_cyrillic_and_misspelt(spelling):
    assert "mk:komatsu" in terms(spelling)


@pytest.mark.parametrize("spelling,maker", [("Катерпиллера", "caterpillar"), ("БелАЗа", "belaz"),
                                            ("КамАЗом", "kamaz"), ("Шакман", "shacman"), ("Catepillar", "caterpillar")])
def test_inflected_and_misspelt_makers(spelling, maker):
    assert f"mk:{maker}" in terms(spelling)


def test_models_are_folded_like_identifiers():
    cyrillic = "РС300"  # Cyrillic Р and С, typed on a Russian keyboard
    assert terms(cyrillic) == terms("PC300") == {"md:PC300"}
    assert "md:PC300" in describe_report({"model": "PC300-8"}).terms
    assert "md:R9250" in terms("Liebherr R 9250")  # letters written apart from the number


def test_quantities_and_years_are_not_models():
    assert terms("a 1,000-liter fuel tank, 400-liter tank") == {"ft:fuel_tank"}
    assert terms("2017 года") == {"yr:2017"}
    assert "md:6520" in terms("КамАЗ 6520")  # a bare number after a maker is its model


def test_kazakh_stems_are_stable():
    assert kazakh_stem("күрегі") == kazakh_stem("күрек")
    assert kazakh_stem("тіркемесімен") == kazakh_stem("тіркеме")
    assert kazakh_stem("жебемен") == kazakh_stem("жебе")


# -- ranking ---------------------------------------------------------------------------------------


def machine(ref: str, **fields) -> dict:
    base = {"id": ref, "external_ref": ref, "status": "stolen", "category": "excavator", "manufacturer": "Komatsu",
            "model": "PC300-8", "color": "yellow", "description": "Crawler excavator with a rock bucket.",
            "incident": {"country": "ZA"}, "reporting_agency": {"name": "Police"}}
    return {**base, **fields}


def scored(query: str, *reports: dict) -> list[tuple[str, float]]:
    return [(m.report["external_ref"], m.score) for m in rank(CheckQuery(description=query), reports).matches]


def test_a_full_match_outranks_a_partial_one_without_a_tie():
    full = machine("FULL", description="Yellow Komatsu PC300-8 crawler excavator with hammer piping.")
    partial = machine("PARTIAL", description="Yellow Komatsu PC300-8 crawler excavator.")
    ranked = scored("yellow Komatsu PC300 crawler excavator hammer piping", partial, full)
    assert [ref for ref, _ in ranked] == ["FULL", "PARTIAL"]
    assert ranked[0][1] > ranked[1][1]


def test_agreeing_maker_and_model_outrank_a_shared_colour():
    same_machine = machine("SAME", color="orange", description="Crawler excavator.")
    same_colour = machine("COLOUR", manufacturer="Hitachi", model="ZX330-5G", description="Crawler excavator.")
    assert [ref for ref, _ in scored("yellow Komatsu PC300 excavator", same_colour, same_machine)][0] == "SAME"


def test_a_conflicting_maker_demotes():
    komatsu = machine("KOMATSU", model="PC400-8")
    hitachi = machine("HITACHI", manufacturer="Hitachi", model="ZX470LCH-5G")
    ranked = dict(scored("yellow Komatsu excavator with a rock bucket", komatsu, hitachi))
    assert ranked["KOMATSU"] > ranked.get("HITACHI", 0)
    comparison = compare_description(analyse("yellow Hitachi excavator rock bucket"), describe_report(komatsu))
    assert "the query says Hitachi, the report says Komatsu (maker)" in comparison.explanation


def test_scores_spread_and_explain_what_matched_and_what_differed():
    report = machine("R", description="Yellow Komatsu PC300-8 crawler excavator with hammer piping.")
    scores = [dict(scored(q, report)).get("R", 0.0) for q in (
        "yellow Komatsu PC300 excavator hammer", "yellow Komatsu excavator", "orange Komatsu excavator",
        "Komatsu loader")]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)
    explanation = rank(CheckQuery(description="жёлтый Komatsu PC300 с гидромолотом"), [report]).matches[0].explanation
    assert explanation.startswith("description matched: yellow, Komatsu, PC300, hydraulic hammer")
    assert "the report says" in explanation and "crawler tracks" in explanation
    assert "the query doesn't say" in explanation


def test_a_description_never_hits_nor_raises_an_alarm():
    report = machine("R", description="Yellow Komatsu PC300-8 crawler excavator with hammer piping.")
    outcome = rank(CheckQuery(description=report["description"]), [report])
    assert outcome.verdict == "similar_serials" and outcome.matches[0].match_type == "description"
    assert outcome.matches[0].tier == "similar"


def test_words_in_a_language_the_report_lacks_count_neither_way():
    russian = machine("RU", description="Гусеничный экскаватор, полусферический отвал, оснащён скальным ковшом.")
    comparison = compare_description(analyse("excavator with a rock bucket, brand-new paint"), describe_report(russian))
    assert "brand" not in comparison.explanation  # an English word a Russian text cannot hold


# -- the demo registry, over HTTP on both engines --------------------------------------------------


def test_the_tulkubas_excavator_is_found_from_a_russian_query(server, services):
    summary = services.imports.import_rows(Actor.operator(), enumerate(demo_reports(), start=1))
    assert not summary.rejected

    answer = server.post("/v1/checks", json={"description": RUSSIAN_QUERY})

    assert answer.status_code == 200, answer.text
    result = answer.json()
    first, second = result["matches"][:2]
    assert first["external_ref"] == TULKUBAS_EXCAVATOR
    assert first["score"] > second["score"]
    assert first["match_type"] == "description" and result["verdict"] == "similar_serials"
    assert "Komatsu, PC300, excavator, hydraulic hammer" in first["explanation"]


# -- the labelled set ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def labelled():
    registry = labelled_registry(LABELLED_REPORTS, SEED)
    return registry, description_queries(registry, LABELLED_QUERIES, random.Random(SEED))


@pytest.fixture(scope="module")
def labelled_answers(labelled, tmp_path_factory, request):
    """Each engine loaded with the labelled registry and asked every query, once per module."""
    registry, queries = labelled
    answers = {}
    for backend in BACKENDS:
        app = create_app(backend_settings(backend, tmp_path_factory.mktemp(f"labelled-{backend}"), request))
        services = app.extensions[EXTENSION_KEY]
        try:
            imported = services.imports.import_rows(Actor.operator(), enumerate(registry.reports, start=1))
            assert imported.created == LABELLED_REPORTS
            answers[backend] = [
                [match_view(m, FULL_DETAILS) for m in services.checks.check(
                    Actor.operator(), CheckQuery(description=q["text"])).outcome.matches]
                for q in queries
            ]
        finally:
            close_storage(app)
    return answers


@pytest.mark.parametrize("backend", BACKENDS)
def test_labelled_paraphrases_find_their_report(labelled, labelled_answers, backend):
    _, queries = labelled
    same = cross = same_first = cross_top5 = 0
    for query, matches in zip(queries, labelled_answers[backend]):
        refs = [(m["external_ref"], m["reporting_agency"]["name"]) for m in matches]
        wanted = (query["external_ref"], query["agency"])
        if query["same_language"]:
            same += 1
            same_first += bool(refs) and refs[0] == wanted
        else:
            cross += 1
            cross_top5 += wanted in refs[:5]
    assert same_first / same >= 0.9, f"{same_first} of {same}"
    assert cross_top5 / cross >= 0.8, f"{cross_top5} of {cross}"


def test_labelled_answers_are_the_same_on_both_engines(labelled_answers):
    def summary(matches):
        return [(m["external_ref"], m["score"], m["match_type"]) for m in matches]

    sqlite, elasticsearch = ([summary(ms) for ms in labelled_answers[b]] for b in BACKENDS)
    assert sqlite == elasticsearch


# -- indices built by older code --------------------------------------------------------------------


def stored(ref: str) -> dict:
    return dict(report_data(ref), id=f"id-{ref}", version=1, created_at="2025-11-20T00:00:00Z",
                updated_at="2025-11-20T00:00:00Z")


def test_a_sqlite_file_indexed_by_other_analysis_is_rebuilt_at_open(tmp_path):
    engine = open_sqlite(str(tmp_path / "old.db"))
    upsert(engine, [stored("OLD-1")])
    path = sqlite_path(engine)
    engine.close()
    with sqlite3.connect(path) as db:  # as a file written before description terms existed
        db.execute("DELETE FROM description_terms")
        db.execute("DELETE FROM meta WHERE name = ?", (ANALYSIS_META,))

    reopened = open_sqlite(path)

    found = candidates(reopened, None, "жёлтый гусеничный экскаватор Катерпиллер")
    assert [r["external_ref"] for r in found] == ["OLD-1"]
    reopened.close()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT value FROM meta WHERE name = ?", (ANALYSIS_META,)).fetchone() == (ANALYSIS_VERSION,)


def test_an_elasticsearch_index_with_the_old_mapping_keeps_working_and_reindex_fills_it(es_url, caplog):
    engine = open_engine(settings_for(es_url))
    cluster = es_cluster(engine)
    old_mapping = {k: v for k, v in REPORTS_MAPPINGS.items() if k != "_meta"}
    old_mapping["properties"] = {k: v for k, v in REPORTS_MAPPINGS["properties"].items()
                                 if k != "description_terms"}
    cluster.client.indices.create(index=versioned_index(cluster.reports_alias, 1), mappings=old_mapping,
                                  aliases={cluster.reports_alias: {}})
    old = stored("OLD-ES")
    old_fields = {k: v for k, v in report_fields(old, 1).items() if k != "description_terms"}
    cluster.client.index(index=cluster.reports_alias, id=ref_id(old), document=old_fields, refresh=True)
    query = "жёлтый экскаватор Катерпиллер с гидромолотом"
    try:
        cluster.init_indices()
        assert "es reindex" in caplog.text
        assert candidates(engine, None, query) == []  # indexed by the old code: no terms yet
        upsert(engine, [stored("NEW-ES")])  # the strict mapping got the new field: writes keep working
        engine.admin.reindex()
        assert [r["external_ref"] for r in candidates(engine, None, query)] == ["OLD-ES", "NEW-ES"]
    finally:
        drop_indices(engine)
