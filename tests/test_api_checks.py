"""/v1/checks, health, readiness and the API documents, over real HTTP."""

from __future__ import annotations

import pytest

from tests.conftest import issue_key, report_data, stored_check

PIN = "CAT0336DLTJF00123"


@pytest.fixture
def registered(server):
    stolen = server.post("/v1/reports", json=report_data()).json()
    recovered = server.post("/v1/reports", json=report_data(
        "KZ-TRK-2024-000777", status="recovered", category="truck", manufacturer="KAMAZ",
        identifiers=[{"type": "vin", "value": "XTC652005L1234567"}],
        description="Orange KAMAZ dump truck",
    )).json()
    return {"stolen": stolen, "recovered": recovered}


def check(server, **body) -> dict:
    response = server.post("/v1/checks", json=body)
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.parametrize(
    ("reading", "verdict", "match_type", "tier"),
    [
        (PIN, "hit", "exact", "alarm"),
        ("cat-0336 dltjf 00123", "hit", "normalized", "alarm"),
        ("САТ0336DLTJF00123", "hit", "normalized", "alarm"),  # Cyrillic С, А, Т
        ("CAT0336DLTJFOO123", "possible_match", "confusable", "alarm"),
        ("CAT0336DLTJF00128", "similar_serials", "fuzzy", "similar"),  # as likely machine 00128 of the series
        ("CAT0336DLTJF0123", "similar_serials", "fuzzy", "similar"),
        ("0336DLTJF00123", "possible_match", "partial", "alarm"),  # no maker code, the rest exact
        ("JF00123", "possible_match", "partial", "alarm"),  # the running number and two characters before it
        ("F00123", "similar_serials", "partial", "similar"),  # one character before it: not selective
        ("ZZZ9999999", "no_match", None, None),
    ],
)
def test_verdicts_for_what_officers_read(server, registered, reading, verdict, match_type, tier):
    result = check(server, identifier=reading)
    assert result["verdict"] == verdict
    assert result["check_id"] and result["checked_at"].endswith("Z")
    if match_type is None:
        assert result["matches"] == []
        return
    top = result["matches"][0]
    assert top["report_id"] == registered["stolen"]["id"]
    assert top["external_ref"] == "KZ-TRK-2025-000001"
    assert top["match_type"] == match_type and top["tier"] == tier
    assert top["identifier"] == {"type": "pin", "value": PIN}
    assert 0 < top["score"] <= 1
    assert top["explanation"]
    assert top["reporting_agency"]["contact"]


def test_explanation_names_the_misread_position(server, registered):
    top = check(server, identifier="CAT0336DLTJFO0123")["matches"][0]
    assert "query has O where the record has 0 at position 13" in top["explanation"]


def test_recovered_report_is_information_never_a_hit(server, registered):
    result = check(server, identifier="XTC652005L1234567")
    assert result["verdict"] == "no_match"
    [match] = result["matches"]
    assert match["active"] is False and match["status"] == "recovered"
    assert "information only" in match["explanation"]


def test_description_alone_lists_similar_reports_never_an_alarm(server, registered):
    result = check(server, description="yellow excavator with hydraulic breaker")
    assert result["verdict"] == "similar_serials"
    assert result["matches"][0]["match_type"] == "description" and result["matches"][0]["tier"] == "similar"
    assert result["matches"][0]["report_id"] == registered["stolen"]["id"]


def test_conflicting_manufacturer_lowers_a_near_match(server, registered):
    plain = check(server, identifier="CAT0336DLTJF00128")["matches"][0]["score"]
    agreeing = check(server, identifier="CAT0336DLTJF00128", manufacturer="CAT")["matches"][0]["score"]
    conflicting = check(server, identifier="CAT0336DLTJF00128", manufacturer="Komatsu")["matches"][0]
    assert agreeing > plain > conflicting["score"]
    assert "manufacturer differs" in conflicting["explanation"]


@pytest.mark.parametrize(("reading_source", "verdict", "tier"), [
    (None, "possible_match", "alarm"),  # a single check is typed unless it says otherwise
    ("typed", "possible_match", "alarm"),
    ("copied", "similar_serials", "similar"),
    ("ocr", "similar_serials", "similar"),
])
def test_a_swap_is_a_typing_slip_only_in_a_typed_reading(server, registered, reading_source, verdict, tier):
    body = {"identifier": "CAT0336DTLJF00123"}  # LT typed as TL, outside the running number
    if reading_source:
        body["reading_source"] = reading_source
    result = check(server, **body)
    assert (result["verdict"], result["matches"][0]["tier"]) == (verdict, tier)
    assert result["matches"][0]["report_id"] == registered["stolen"]["id"]


def test_an_agreeing_model_makes_a_short_tail_selective(server, registered):
    assert check(server, identifier="F00123")["verdict"] == "similar_serials"
    result = check(server, identifier="F00123", model="336D")
    assert result["verdict"] == "possible_match"
    assert "the model agrees" in result["matches"][0]["explanation"]
    assert "model differs" in check(server, identifier="F00123", model="PC300")["matches"][0]["explanation"]


@pytest.mark.parametrize(
    "body",
    [{}, {"manufacturer": "CAT"}, {"identifier": ""}, {"identifier": " -/. "}, {"identifier": "A" * 65},
     {"identifier": PIN, "category": "spaceship"}, {"identifier": 12345}, {"identifier": PIN, "x": 1},
     {"identifier": PIN, "reading_source": "guessed"}],
)
def test_bad_checks_are_422_problems(server, registered, body):
    response = server.post("/v1/checks", json=body)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"]


def test_check_is_recorded(server, registered, services):
    result = check(server, identifier=PIN)
    record = stored_check(services.engine, result["check_id"])
    assert record["verdict"] == "hit"
    assert record["query"] == {"identifier": PIN, "reading_source": "typed"}
    assert record["matched_report_ids"][0] == registered["stolen"]["id"]


def test_health_and_readiness(server, backend):
    assert server.get("/healthz").json() == {"status": "ok"}
    assert server.get("/readyz").json() == {"status": "ready", "storage": backend}


def test_readiness_fails_with_503_when_the_database_is_gone(tmp_path):
    from registry import create_app
    from tests.conftest import LiveServer

    db = tmp_path / "gone.db"
    app = create_app({"DB": str(db)})
    key = issue_key(app)  # a valid key: what fails must be the database, not the key
    app.extensions["irontrace"].engine.close()
    db.unlink()
    db.mkdir()  # a directory where the file was: unopenable
    with LiveServer(app, key) as live:
        response = live.get("/readyz")
        assert response.status_code == 503
        assert response.headers["Retry-After"]
        assert response.headers["Content-Type"].startswith("application/problem+json")
        check_response = live.post("/v1/checks", json={"identifier": PIN})
        assert check_response.status_code == 503


def test_openapi_document_describes_the_api(server):
    spec = server.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert {"/v1/reports", "/v1/reports/{report_id}", "/v1/checks", "/healthz", "/readyz"} <= set(spec["paths"])
    assert "Report" in spec["components"]["schemas"]
    docs = server.get("/docs")
    assert docs.status_code == 200 and "swagger" in docs.text.lower()


def test_unknown_path_and_method_are_problems(server):
    missing = server.get("/v2/nothing")
    assert missing.status_code == 404
    assert missing.headers["Content-Type"].startswith("application/problem+json")
    wrong = server.http.delete(server.url + "/v1/checks")
    assert wrong.status_code == 405
    assert wrong.headers["Content-Type"].startswith("application/problem+json")


def test_oversized_body_is_413(server):
    response = server.post("/v1/checks", data=b"x" * (2 * 1024 * 1024), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.headers["Content-Type"].startswith("application/problem+json")
