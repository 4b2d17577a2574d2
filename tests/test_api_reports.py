"""/v1/reports over real HTTP: create, read, update with If-Match, list."""

from __future__ import annotations

import pytest

from tests.conftest import RECOVERY, report_data

PROBLEM = "application/problem+json"


def create(server, **overrides):
    response = server.post("/v1/reports", json=report_data(**overrides))
    assert response.status_code == 201, response.text
    return response


def test_create_returns_location_etag_and_server_fields(server):
    response = create(server)
    body = response.json()
    assert response.headers["Location"] == f"/v1/reports/{body['id']}"
    assert response.headers["ETag"] == '"1"'
    assert body["version"] == 1 and body["created_at"] == body["updated_at"]
    fetched = server.get(response.headers["Location"])
    assert fetched.status_code == 200
    assert fetched.json() == body
    assert fetched.headers["ETag"] == '"1"'


def test_normalizes_codes_and_keeps_identifiers_as_registered(server):
    body = create(server, incident={"country": "kz", "date": "2025-11-20"}).json()
    assert body["incident"]["country"] == "KZ"
    assert body["identifiers"][0]["value"] == "CAT0336DLTJF00123"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"status": "lost"}, "status"),
        ({"category": "spaceship"}, "category"),
        ({"identifiers": [{"type": "plate", "value": "X1"}]}, "identifiers.0.type"),
        ({"identifiers": [{"type": "pin", "value": "--//--"}]}, "identifiers.0.value"),
        ({"identifiers": [{"type": "pin", "value": "A" * 65}]}, "identifiers.0.value"),
        ({"identifiers": [], "description": None}, "identifiers"),
        ({"identifiers": [{"type": "serial", "value": "AB-1234"}, {"type": "serial", "value": "ab1234"}]},
         "identifiers"),
        ({"incident": {"country": "XX"}}, "incident.country"),
        ({"incident": {"country": "KZ", "date": "2025-13-01"}}, "incident.date"),
        ({"incident": {"country": "KZ", "date": "2999-01-01"}}, "incident.date"),
        ({"value": {"amount": -5, "currency": "KZT"}}, "value.amount"),
        ({"value": {"amount": 5, "currency": "TENGE"}}, "value.currency"),
        ({"year": 1200}, "year"),
        ({"reporting_agency": {"country": "KZ"}}, "reporting_agency.name"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_invalid_reports_get_field_level_problems_and_store_nothing(server, overrides, field):
    data = report_data(**overrides)
    data = {k: v for k, v in data.items() if v is not None}
    response = server.post("/v1/reports", json=data)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["status"] == 422 and problem["title"]
    assert field in {e["field"] for e in problem["errors"]}, problem
    assert server.get("/v1/reports").json()["items"] == []


def test_malformed_json_is_a_400_problem(server):
    response = server.post("/v1/reports", data="{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith(PROBLEM)
    assert "JSON" in response.json()["detail"]


def test_duplicate_case_number_of_same_agency_is_a_conflict(server):
    first = create(server).json()
    again = server.post("/v1/reports", json=report_data())
    assert again.status_code == 409
    assert again.json()["existing_id"] == first["id"]
    # The same case number from another agency is a different report.
    other = report_data(reporting_agency={"name": "Police of Almaty", "country": "KZ"})
    assert server.post("/v1/reports", json=other).status_code == 201


def test_unknown_report_is_404_problem(server):
    response = server.get("/v1/reports/does-not-exist")
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith(PROBLEM)


def test_patch_with_current_etag_updates_and_bumps_version(server):
    created = create(server)
    location = created.headers["Location"]
    response = server.patch(
        location,
        json={"status": "recovered", "incident": {"place": "found at Zhibek Zholy crossing"}, "recovery": RECOVERY},
        headers={"If-Match": created.headers["ETag"]},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == 2 and response.headers["ETag"] == '"2"'
    assert body["status"] == "recovered"
    assert body["incident"] == {
        "date": "2025-11-20", "country": "KZ", "region": "Turkestan", "place": "found at Zhibek Zholy crossing"
    }
    assert body["created_at"] == created.json()["created_at"]
    assert body["updated_at"] >= created.json()["updated_at"]


def test_patch_null_removes_an_optional_field(server):
    created = create(server)
    response = server.patch(created.headers["Location"], json={"color": None}, headers={"If-Match": '"1"'})
    assert response.status_code == 200
    assert "color" not in response.json()


def test_stale_if_match_is_412_and_changes_nothing(server):
    created = create(server)
    location = created.headers["Location"]
    assert server.patch(location, json={"color": "red"}, headers={"If-Match": '"1"'}).status_code == 200
    stale = server.patch(location, json={"color": "blue"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 2
    assert server.get(location).json()["color"] == "red"


def test_patch_without_if_match_is_428(server):
    created = create(server)
    response = server.patch(created.headers["Location"], json={"color": "red"})
    assert response.status_code == 428


def test_invalid_patch_is_422_and_keeps_the_stored_version(server):
    created = create(server)
    location = created.headers["Location"]
    response = server.patch(location, json={"status": "sold", "identifiers": None}, headers={"If-Match": '"1"'})
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert "status" in fields
    assert server.get(location).json() == created.json()


def test_patch_body_must_be_an_object(server):
    created = create(server)
    response = server.patch(created.headers["Location"], json=["status"], headers={"If-Match": '"1"'})
    assert response.status_code == 400


def test_list_filters(server):
    create(server, external_ref="R1")
    create(server, external_ref="R2", status="recovered", category="loader", manufacturer="Komatsu",
           identifiers=[{"type": "pin", "value": "KMTWA470H0A12345"}],
           description="Wheel loader, blue bucket", incident={"country": "UZ"})
    create(server, external_ref="R3", category="drill_rig", manufacturer="Epiroc",
           identifiers=[{"type": "serial", "value": "TAI 08 1234"}],
           description="Surface drill rig with a red mast", incident={"country": "KZ"})

    def refs(query: str) -> list[str]:
        response = server.get("/v1/reports" + query)
        assert response.status_code == 200, response.text
        return [r["external_ref"] for r in response.json()["items"]]

    assert refs("") == ["R3", "R2", "R1"]
    assert refs("?status=recovered") == ["R2"]
    assert refs("?category=drill_rig") == ["R3"]
    assert refs("?manufacturer=komatsu") == ["R2"]
    assert refs("?country=uz") == ["R2"]
    assert refs("?q=red+mast") == ["R3"]
    assert refs("?q=bucket&status=stolen") == []
    assert refs("?status=stolen&country=KZ") == ["R3", "R1"]


def test_cursor_pagination_visits_every_report_once(server):
    for n in range(7):
        create(server, external_ref=f"P{n}", identifiers=[{"type": "serial", "value": f"SER-{n:05d}"}])
    seen, cursor = [], None
    while True:
        query = "?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = server.get("/v1/reports" + query).json()
        seen += [r["external_ref"] for r in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"P{n}" for n in reversed(range(7))]


@pytest.mark.parametrize("query", ["?cursor=%%%", "?cursor=bm90LWEtY3Vyc29y", "?cursor=Ingi", "?cursor=dHJ1ZQ",
                                   "?limit=0", "?limit=100000", "?status=sold", "?country=XX"])
def test_bad_list_parameters_are_4xx(server, query):
    create(server)
    response = server.get("/v1/reports" + query)
    assert response.status_code in (400, 422), response.text
    assert response.headers["Content-Type"].startswith(PROBLEM)
