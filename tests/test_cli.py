"""The ``irontrace`` command, run as a real process against a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import openpyxl
import pytest
import requests
from click.testing import CliRunner
from elasticsearch import Elasticsearch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from registry.cli import exit_codes
from registry.cli import main as cli_main
from registry.cli.common import merge_reports_segments
from registry.config import load_settings
from registry.services import open_services
from tests.conftest import report_data
from tests.processes import BIN, Gunicorn, irontrace


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
    assert "merged the reports index into 1 segment a shard" in reindexed.stdout  # as after an import
    assert irontrace("check", "esr 000002", env=env).stdout.startswith("verdict: HIT")


def reports_segments(es_env) -> int:
    with Elasticsearch(es_env["IRONTRACE_ES_URL"]) as es:
        shards = es.indices.segments(index=f"{es_env['IRONTRACE_ES_INDEX_PREFIX']}-reports")["indices"]
    return sum(len(copy["segments"]) for index in shards.values() for copies in index["shards"].values()
               for copy in copies)


def test_an_import_on_elasticsearch_ends_by_merging_the_segments_it_left(tmp_path, es_env):
    """Every check looks its keys up in every segment; an import leaves one or more per batch written."""
    unmerged = {**es_env, "IRONTRACE_ES_MERGED_SEGMENTS": "0"}
    for batch in range(3):
        source = tmp_path / f"batch-{batch}.ndjson"
        write_ndjson(source, [report_data(f"SEG-{batch}-{n}",
                                          identifiers=[{"type": "serial", "value": f"SEG{batch}{n:05d}"}])
                              for n in range(2)])
        imported = irontrace("import", str(source), env=unmerged)
        assert "created 2" in imported.stdout and "merged" not in imported.stdout
    assert reports_segments(es_env) >= 3

    source = tmp_path / "last.ndjson"
    write_ndjson(source, [report_data("SEG-LAST", identifiers=[{"type": "serial", "value": "SEGLAST0001"}])])
    imported = irontrace("import", str(source), env={**es_env, "IRONTRACE_ES_MERGED_SEGMENTS": "1"})
    assert imported.returncode == 0, imported.stderr
    assert "merged the reports index into 1 segment a shard" in imported.stdout
    assert reports_segments(es_env) == 1
    assert irontrace("check", "SEG200001", env=es_env).stdout.startswith("verdict: HIT")
    unchanged = irontrace("import", str(source), env={**es_env, "IRONTRACE_ES_MERGED_SEGMENTS": "1"})
    assert "unchanged 1" in unchanged.stdout and "merged" not in unchanged.stdout  # nothing written, nothing to merge


def test_a_merge_that_fails_is_a_warning_not_a_failed_import(capsys):
    """The merge runs after the reports are stored: a cluster that refuses it, or is gone, must not
    make an import that wrote everything exit as failed."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        nobody = probe.getsockname()[1]  # closed again: nothing listens there
    settings = load_settings({"ES_URL": f"http://127.0.0.1:{nobody}", "ES_MAX_RETRIES": 0})
    admin = open_services(settings, with_sources=False).engine.admin
    assert admin is not None
    merge_reports_segments(admin)
    assert "warning: the reports index was not merged" in capsys.readouterr().err


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


# -- no false all clear ----------------------------------------------------------------------


def test_commands_that_read_the_registry_refuse_one_that_is_not_there(tmp_path, env):
    path = tmp_path / "cli.db"
    inventory = tmp_path / "stock.csv"
    inventory.write_text("serial\nCAT0336DLTJF00123\n")
    for command in (("check", "CAT0336DLTJF00123"), ("bulk-check", str(inventory)), ("export",),
                    ("audit", "verify"), ("audit", "export"), ("keys", "list"), ("users", "list")):
        refused = irontrace(*command, env=env)
        assert refused.returncode == exit_codes.FAILED, (command, refused.stdout)
        assert str(path) in refused.stderr and "IRONTRACE_DB" in refused.stderr, command
        assert "NO_MATCH" not in refused.stdout and "intact" not in refused.stdout
        assert not path.exists(), f"{command} created the registry"


def test_import_and_demo_create_the_registry_and_say_where(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data()])
    first = irontrace("import", str(source), env=env)
    assert first.returncode == 0 and f"registry: SQLite file {tmp_path / 'cli.db'} (new)" in first.stderr
    again = irontrace("demo", "--count", "5", env=env)
    assert again.returncode == 0 and f"registry: SQLite file {tmp_path / 'cli.db'}\n" in again.stderr


def test_elasticsearch_commands_refuse_a_prefix_that_holds_no_registry(es_env):
    refused = irontrace("check", "CAT0336DLTJF00123", env=es_env)
    assert refused.returncode == exit_codes.FAILED
    assert f"{es_env['IRONTRACE_ES_INDEX_PREFIX']}-*" in refused.stderr and "IRONTRACE_ES_URL" in refused.stderr
    with Elasticsearch(es_env["IRONTRACE_ES_URL"]) as es:
        assert not list(es.indices.get(index=f"{es_env['IRONTRACE_ES_INDEX_PREFIX']}-*"))
    assert irontrace("demo", "--count", "5", env=es_env).returncode == 0
    assert irontrace("check", "КМТ РС300 С55А17О44", env=es_env).returncode == exit_codes.POSSIBLE_MATCH


def test_check_exit_codes_locally_and_against_a_server_with_the_key_from_the_environment(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data(), report_data("REC-1", status="recovered",
                                                     identifiers=[{"type": "vin", "value": "XTC652005L1234567"}])])
    irontrace("import", str(source), env=env)
    readings = {"CAT0336DLTJF00123": exit_codes.HIT, "CAT0336DLTJF0O123": exit_codes.POSSIBLE_MATCH,
                "CAT0336DLTJF00128": exit_codes.SIMILAR_SERIALS,  # the next machine of the series, as likely
                "XTC652005L1234567": exit_codes.NO_MATCH, "ZZZ9999999": exit_codes.NO_MATCH}
    for reading, code in readings.items():
        assert irontrace("check", reading, env=env).returncode == code, reading
    with Gunicorn(env, workers=1) as server:
        dealer = irontrace("keys", "create", "--role", "dealer", env=env).stdout.strip().splitlines()[-1]
        told_a_dealer = {**readings, "CAT0336DLTJF00128": exit_codes.NO_MATCH}  # whole-identifier matches only
        for reading, code in told_a_dealer.items():
            remote = irontrace("check", reading, "--server", server.url, env={**env, "IRONTRACE_KEY": dealer})
            assert remote.returncode == code, (reading, remote.stdout, remote.stderr)
        recovered = irontrace("check", "XTC652005L1234567", "--server", server.url,
                              env={**env, "IRONTRACE_KEY": dealer}).stdout
        assert "exact" in recovered and "recovered (not active)  REC-1" in recovered
        short = irontrace("check", "AB12", "--server", server.url, env={**env, "IRONTRACE_KEY": dealer})
        assert "note: The reading has only 4 letters or digits" in short.stdout
        no_key = irontrace("check", "CAT0336DLTJF00123", "--server", server.url, env=env)
        assert no_key.returncode == exit_codes.USAGE and "IRONTRACE_KEY" in no_key.stderr
        wrong = irontrace("check", "CAT0336DLTJF00123", "--server", server.url, env={**env, "IRONTRACE_KEY": "x"})
        assert wrong.returncode == exit_codes.FAILED and "401" in wrong.stderr
    assert "Exit codes:" in irontrace("check", "--help", env=env).stdout


# -- files as agencies have them ------------------------------------------------------------


def test_import_reads_what_bulk_checks_read(tmp_path, env):
    header = ["external_ref", "status", "category", "serial", "incident.country", "reporting_agency.name"]
    rows = [["R-1", "stolen", "Drill rig", "SDR-00001", "KZ", "Полиция Алматы"],
            ["R-2", "missing", "haul truck", "HT-00002", "KZ", "Полиция Алматы"]]
    as_cp1251 = tmp_path / "cp1251.csv"
    as_cp1251.write_bytes("\r\n".join(";".join(r) for r in [header, *rows]).encode("cp1251"))
    as_utf16 = tmp_path / "utf16.txt"
    as_utf16.write_bytes("\r\n".join("\t".join(r) for r in [header, *rows]).encode("utf-16"))
    book = openpyxl.Workbook()
    for row in [header, *rows]:
        book.active.append(row)
    as_xlsx = tmp_path / "reports.xlsx"
    book.save(as_xlsx)
    first = irontrace("import", str(as_cp1251), env=env)
    assert "created 2, updated 0, unchanged 0, rejected 0" in first.stdout, first.stdout + first.stderr
    for again in (as_utf16, as_xlsx):
        result = irontrace("import", str(again), env=env)
        assert "created 0, updated 0, unchanged 2, rejected 0" in result.stdout, (again, result.stdout)
    exported = [json.loads(line) for line in irontrace("export", env=env).stdout.splitlines()]
    assert [(r["category"], r["reporting_agency"]["name"]) for r in exported] == [
        ("drill_rig", "Полиция Алматы"), ("haul_truck", "Полиция Алматы")]


def test_export_csv_cells_are_spreadsheet_safe_and_import_back_as_they_were(tmp_path, env):
    source = tmp_path / "reports.ndjson"
    write_ndjson(source, [report_data("=HYPERLINK(\"http://x\")", description="＝cmd|' /C calc'!A0",
                                      model="@SUM(A1)", identifiers=[{"type": "serial", "value": "-SN0001"}])])
    irontrace("import", str(source), env=env)
    dump = tmp_path / "dump.csv"
    irontrace("export", "--format", "csv", "-o", str(dump), env=env)
    [row] = csv.DictReader(io.StringIO(dump.read_text(encoding="utf-8")))
    assert row["external_ref"] == "'=HYPERLINK(\"http://x\")"
    assert row["description"] == "'＝cmd|' /C calc'!A0" and row["model"] == "'@SUM(A1)"
    assert row["serial"] == "'-SN0001"
    again = irontrace("import", str(dump), env=env)
    assert "created 0, updated 0, unchanged 1, rejected 0" in again.stdout, again.stdout


def nasty_files() -> st.SearchStrategy[bytes]:
    """Files a careless export, a wrong file or an attacker might hand to ``irontrace import``."""
    text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=400)
    cells = st.lists(st.one_of(text, st.sampled_from(["=1+1", "1,23457E+11", '"', "\t", "[", "{"])), max_size=8)
    csv_files = st.builds(
        lambda header, rows, sep, encoding: "\r\n".join(sep.join(r) for r in [header, *rows]).encode(
            encoding, errors="replace"),
        st.lists(st.sampled_from(["external_ref", "status", "category", "serial", "identifiers", "incident.country",
                                  "reporting_agency.name", "year", "x"]), max_size=8),
        st.lists(cells, max_size=6), st.sampled_from([",", ";", "\t"]), st.sampled_from(["utf-8", "cp1251", "utf-16"]))
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | text,
                               lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
                               max_leaves=12)
    ndjson_files = st.lists(json_values, max_size=6).map(
        lambda values: "\n".join(json.dumps(v) for v in values).encode())
    arrays = st.lists(json_values, max_size=6).map(lambda values: json.dumps(values).encode())
    truncated = st.tuples(st.one_of(csv_files, ndjson_files, arrays), st.integers(0, 50)).map(lambda t: t[0][:t[1]])
    deep = st.integers(1, 5000).map(lambda depth: b"[" * depth)
    return st.one_of(st.binary(max_size=600), csv_files, ndjson_files, arrays, truncated, deep,
                     st.binary(max_size=300).map(lambda tail: b"PK\x03\x04" + tail),
                     st.binary(max_size=300).map(lambda tail: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + tail))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                     HealthCheck.too_slow])
@given(content=nasty_files(), suffix=st.sampled_from([".csv", ".ndjson", ".json", ".xlsx", ".txt", ""]))
def test_no_input_file_makes_import_print_a_traceback(tmp_path, content, suffix):
    """In process, through click's runner, with the real command and a real SQLite file."""
    source = tmp_path / f"input{suffix}"
    source.write_bytes(content)
    runner = CliRunner()
    result = runner.invoke(cli_main, ["import", str(source), "--workers", "0"],
                           env={"IRONTRACE_DB": str(tmp_path / "fuzz.db")})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output


def test_unreadable_files_give_a_message_and_exit_1_as_a_real_process(tmp_path, env):
    for name, content in (("photo.csv", b"\x89PNG\r\n\x1a\n" + bytes(range(256))), ("deep.json", b"[" * 100_000),
                          ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)), ("cut.xlsx", b"PK\x03\x04ab"),
                          ("long.csv", b"external_ref," + b"x" * (200 * 1024))):
        source = tmp_path / name
        source.write_bytes(content)
        result = irontrace("import", str(source), env=env)
        assert result.returncode == 1, (name, result.stdout)
        assert "Traceback" not in result.stderr and result.stderr.strip().splitlines()[-1].startswith("Error: "), name


def children_of(pid: int) -> set[int]:
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


def test_a_killed_import_leaves_no_pool_worker_behind(tmp_path, env):
    source = tmp_path / "big.ndjson"
    write_ndjson(source, [report_data(f"K-{n}", identifiers=[{"type": "serial", "value": f"KILL{n:07d}"}])
                          for n in range(60_000)])
    importer = subprocess.Popen([str(BIN / "irontrace"), "import", str(source), "--workers", "1"],
                                env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (children := children_of(importer.pid)):
            assert importer.poll() is None and time.monotonic() < deadline, "the import never started its pool"
            time.sleep(0.05)
        os.kill(importer.pid, signal.SIGKILL)  # the importer alone, as the OOM killer would
        importer.wait(timeout=10)
        deadline = time.monotonic() + 20
        while alive := {pid for pid in children if Path(f"/proc/{pid}").exists()
                        and "zombie" not in Path(f"/proc/{pid}/status").read_text()}:
            assert time.monotonic() < deadline, f"pool workers {alive} outlived their parent"
            time.sleep(0.05)
    finally:
        if importer.poll() is None:
            importer.kill()
