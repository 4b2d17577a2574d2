"""The ``irontrace`` command, run as a real process against a real SQLite file."""

from __future__ import annotations

import json
import uuid

import pytest
import requests
from elasticsearch import Elasticsearch

from registry.config import load_settings
from registry.services import open_services
from tests.conftest import report_data
from tests.processes import Gunicorn, irontrace


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"IRONTRACE_DB": str(tmp_path / "cli.db")}


def write_ndjson(path, rows) -> None:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows))


def test_import_reports_created_updated_unchanged_and_rejected_rows(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    good = report_data("IMP-1")
    write_ndjson(source, [
        good,
        report_data("IMP-2", status="sold"),
        "{broken json",
        report_data("IMP-3", identifiers=[{"type": "serial", "value": "HX4571"}]),
    ])
    first = irontrace("import", str(source), env=env)
    assert first.returncode == 0, first.stderr
    assert "created 2, updated 0, unchanged 0, rejected 2" in first.stdout
    assert "row 2 (IMP-2): status:" in first.stdout
    assert "row 3: _row: Line is not valid JSON" in first.stdout

    write_ndjson(source, [good, report_data("IMP-3", status="recovered",
                                            identifiers=[{"type": "serial", "value": "HX4571"}])])
    second = irontrace("import", str(source), env=env)
    assert "created 0, updated 1, unchanged 1, rejected 0" in second.stdout


def test_import_csv_and_json_array(tmp_path, env):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_text(
        "external_ref,status,category,manufacturer,pin,engine,incident.country,reporting_agency.name,year\n"
        "CSV-1,stolen,dozer,Komatsu,KMTD155AX8B12345,SAA6D140 | 2045511,KZ,Police of Almaty,2018\n"
        "CSV-2,stolen,dozer,Komatsu,,,KZ,Police of Almaty,not-a-year\n",
        encoding="utf-8",
    )
    result = irontrace("import", str(csv_file), env=env)
    assert "created 1, updated 0, unchanged 0, rejected 1" in result.stdout
    assert "row 3 (CSV-2)" in result.stdout

    array = tmp_path / "reports.json"
    array.write_text(json.dumps([report_data("ARR-1")]))
    assert "created 1" in irontrace("import", str(array), env=env).stdout

    hit = irontrace("check", "saa 6d140", env=env)  # the first of two engine numbers
    assert hit.stdout.startswith("verdict: HIT")
    assert "CSV-1" in hit.stdout


def test_a_csv_row_with_an_unreadable_identifiers_cell_is_rejected_alone(tmp_path, env):
    csv_file = tmp_path / "reports.csv"
    csv_file.write_text(
        "external_ref,status,category,identifiers,incident.country,reporting_agency.name\n"
        'J-1,stolen,dozer,"[{""type"": ""serial"", ""value"": ""HX4571""}]",KZ,Police of Almaty\n'
        "J-2,stolen,dozer,[not json,KZ,Police of Almaty\n"
        'J-3,stolen,dozer,"[{""type"": ""serial"", ""value"": ""HX4572""}]",KZ,Police of Almaty\n',
        encoding="utf-8",
    )
    result = irontrace("import", str(csv_file), env=env)
    assert "created 2, updated 0, unchanged 0, rejected 1" in result.stdout, result.stdout + result.stderr
    assert "row 3: _row: The identifiers column is not a JSON list" in result.stdout


def test_import_of_only_bad_rows_fails_and_writes_reasons(tmp_path, env):
    source = tmp_path / "bad.ndjson"
    write_ndjson(source, [report_data("B1", category="boat"), report_data("B2", incident={"country": "ZZ"})])
    errors = tmp_path / "errors.ndjson"
    result = irontrace("import", str(source), "--errors", str(errors), env=env)
    assert result.returncode == 1
    rejected = [json.loads(line) for line in errors.read_text().splitlines()]
    assert [r["external_ref"] for r in rejected] == ["B1", "B2"]
    assert rejected[1]["errors"][0]["field"] == "incident.country"


def test_export_then_import_round_trips(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data(f"RT-{n}", identifiers=[{"type": "vin", "value": f"XTC65200{n}L1234567"}])
                          for n in range(5)])
    irontrace("import", str(source), env=env)
    exported = irontrace("export", env=env)
    assert exported.returncode == 0 and "exported 5 reports" in exported.stderr
    reports = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [r["external_ref"] for r in reports] == [f"RT-{n}" for n in range(5)]

    for file_format in ("ndjson", "csv"):
        dump = tmp_path / f"dump.{file_format}"
        irontrace("export", "--format", file_format, "-o", str(dump), env=env)
        again = irontrace("import", str(dump), env=env)
        assert "created 0, updated 0, unchanged 5, rejected 0" in again.stdout, (file_format, again.stdout)


def test_check_prints_verdict_and_explanations(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data()])
    irontrace("import", str(source), env=env)
    near = irontrace("check", "CAT0336DLTJF0O123", env=env)
    assert near.stdout.startswith("verdict: POSSIBLE_MATCH")
    assert "query has O where the record has 0 at position 14" in near.stdout
    as_json = json.loads(irontrace("check", "nothing-like-it-99", "--json", env=env).stdout)
    assert as_json["verdict"] == "no_match" and as_json["matches"] == []


@pytest.fixture
def es_env(es_url):
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    yield {"IRONTRACE_ES_URL": es_url, "IRONTRACE_ES_INDEX_PREFIX": prefix, "IRONTRACE_ES_REFRESH_INTERVAL": "100ms"}
    with Elasticsearch(es_url) as es:
        names = list(es.indices.get(index=f"{prefix}-*"))
        if names:
            es.indices.delete(index=",".join(names))


def test_elasticsearch_commands_init_import_and_reindex(tmp_path, es_env):
    env = es_env
    first = irontrace("es", "init", env=env)
    assert first.returncode == 0 and first.stdout.startswith("created ")
    assert irontrace("es", "init", env=env).stdout.strip() == "indices already in place"

    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data(f"ES-{n}", identifiers=[{"type": "serial", "value": f"ESR{n:06d}"}])
                          for n in range(3)])
    assert "created 3" in irontrace("import", str(source), env=env).stdout
    reindexed = irontrace("es", "reindex", env=env)
    assert reindexed.returncode == 0, reindexed.stderr
    assert "copied 3 reports" in reindexed.stdout and "-reports-v2" in reindexed.stdout
    assert irontrace("check", "esr 000002", env=env).stdout.startswith("verdict: HIT")


def test_elasticsearch_commands_need_elasticsearch(env):
    result = irontrace("es", "init", env=env)
    assert result.returncode == 1
    assert "IRONTRACE_ES_URL" in result.stderr


def test_keys_create_list_and_revoke_work_against_a_running_server(env):
    created = irontrace("keys", "create", "--role", "agency", "--agency", "Police of Almaty",
                        "--expires", "2099-01-01", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("itk_") and " " not in key
    key_id, secret = key.split("_", 2)[1:]
    listed = irontrace("keys", "list", env=env).stdout
    assert key_id in listed and "Police of Almaty" in listed and "2099-01-01T00:00:00.000Z" in listed
    assert secret not in listed

    with Gunicorn(env, workers=2) as server:
        check = {"identifier": "CAT0336DLTJF00123"}
        headers = {"Authorization": f"Bearer {key}"}
        assert requests.post(server.url + "/v1/checks", json=check, headers=headers, timeout=30).status_code == 200
        assert requests.post(server.url + "/v1/checks", json=check, timeout=30).status_code == 401
        revoked = irontrace("keys", "revoke", key_id, env=env)
        assert revoked.returncode == 0 and f"revoked {key_id}" in revoked.stdout
        assert requests.post(server.url + "/v1/checks", json=check, headers=headers, timeout=30).status_code == 401
    assert "revoked" in irontrace("keys", "list", env=env).stdout


@pytest.mark.parametrize(("args", "reason"), [
    (("--role", "agency"), "needs --agency"),
    (("--role", "border", "--expires", "2001-01-01"), "not in the future"),
    (("--role", "janitor"), "Invalid value for '--role'"),
])
def test_keys_create_refuses_bad_requests(env, args, reason):
    refused = irontrace("keys", "create", *args, env=env)
    assert refused.returncode != 0
    assert reason in refused.stderr
    assert "itk_" not in refused.stdout


def test_demo_prints_a_working_key_and_account_per_role(env):
    demo = irontrace("demo", "--count", "10", env=env)
    assert demo.returncode == 0, demo.stderr
    lines = [line.split() for line in demo.stdout.splitlines() if line.startswith("  ")]
    keys = {words[0]: words[1] for words in lines if words[1].startswith("itk_")}
    accounts = {words[0]: (words[2], words[4]) for words in lines if words[1] == "username"}
    assert set(keys) == set(accounts) == {"admin", "agency", "border", "dealer", "auditor"}
    services = open_services({**load_settings(), "DB": env["IRONTRACE_DB"]}, with_sources=False)
    try:
        for role, (username, password) in accounts.items():
            actor, _ = services.users.sign_in(username, password, None)
            assert (actor.principal, actor.role) == (f"user:demo-{role}", role)
    finally:
        services.close()
    again = irontrace("demo", "--count", "10", env=env)  # idempotent: the accounts get new passwords
    assert again.returncode == 0 and "username demo-border" in again.stdout
    verified = irontrace("audit", "verify", env=env)
    assert verified.returncode == 0 and "intact" in verified.stdout
