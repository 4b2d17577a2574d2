"""``irontrace check`` and ``bulk-check``: locally, or against a server.  Their exit codes say the
verdict (``registry.cli.exit_codes``)."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import click
import requests
from marshmallow import ValidationError

from registry.access import Actor
from registry.cli import exit_codes
from registry.cli.common import local_services, or_fail, server_key_option
from registry.errors import flatten_messages
from registry.files.results import XLSX_MAX_ROWS, csv_lines, ndjson_lines, write_xlsx
from registry.files.tables import SUFFIX_FORMATS, XLSX_CONTENT_TYPE, Limits, detect_format
from registry.files.uploads import read_upload
from registry.services.batches import batched
from registry.services.bulk import COUNTERS, INCOMPLETE, counters, tally
from registry.validation import CheckRequestSchema
from registry.vocabulary import FINAL_JOB_STATUSES, READING_SOURCES, TYPED
from search.query import CheckQuery

REMOTE_POLL_SECONDS = 0.5
REMOTE_TIMEOUT_SECONDS = 300
RETRYABLE_STATUSES = (429, 503)
RESULT_TYPES = {"csv": "text/csv", "ndjson": "application/x-ndjson", "xlsx": XLSX_CONTENT_TYPE}


@click.command(epilog=exit_codes.HELP)
@click.argument("identifier")
@click.option("--manufacturer")
@click.option("--model")
@click.option("--category")
@click.option("--description")
@click.option("--reading-source", type=click.Choice(READING_SOURCES), default=TYPED, show_default=True,
              help="How the identifier was obtained: typed, copied from a file, or read by OCR.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
@click.option("--server", help="URL of an IronTrace server to ask (default: the local registry).")
@server_key_option
def check(identifier: str, manufacturer: str | None, model: str | None, category: str | None,
          description: str | None, reading_source: str, as_json: bool, server: str | None, key: str | None) -> None:
    """Check an identifier against the registry and print the verdict, alarms first, then similar serials;
    the exit code says the verdict too."""
    given = (("identifier", identifier), ("manufacturer", manufacturer), ("model", model), ("category", category),
             ("description", description), ("reading_source", reading_source))
    fields = {name: value for name, value in given if value}
    if server:
        answer = _check_remote(server.rstrip("/"), key, fields)
        shown = answer
    else:
        result = local_services(with_sources=True).checks.check(Actor.operator(), CheckQuery(**_validated(fields)))
        answer = result.to_dict()
        shown = {**result.record, **answer}
    if as_json:
        click.echo(json.dumps(shown, ensure_ascii=False, indent=2))
    else:
        _print_answer(answer)
    sys.exit(exit_codes.for_check(answer["verdict"], answer.get("complete", True)))


def _validated(fields: dict[str, str]) -> dict[str, str]:
    """A check as the API would take it (a category however it is spelt), or a clean failure."""
    try:
        loaded: dict[str, str] = CheckRequestSchema().load(fields)
    except ValidationError as exc:
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in flatten_messages(exc.messages))
        raise click.UsageError(reasons) from exc
    return loaded


def _check_remote(server: str, key: str | None, fields: dict[str, str]) -> dict[str, Any]:
    with _session(server, key) as http:
        try:
            response = http.post(f"{server}/v1/checks", json=fields, timeout=REMOTE_TIMEOUT_SECONDS)
        except requests.RequestException as exc:
            raise click.ClickException(f"Cannot reach {server}: {exc}") from exc
        _raise_for_problem(response)
        answer: dict[str, Any] = response.json()
        return answer


def _print_answer(answer: dict[str, Any]) -> None:
    """A check's answer for a person; a dealer's (contact-only) matches print what they hold."""
    hit_from = f" (from {', '.join(answer['hit_sources'])})" if answer.get("hit_sources") else ""
    click.echo(f"verdict: {answer['verdict'].upper()}{hit_from}")
    if not answer.get("complete", True):
        click.echo(f"  INCOMPLETE: {', '.join(answer['unanswered_sources'])} did not answer; an item registered "
                   f"there is not ruled out")
    for note in answer.get("notes", ()):
        click.echo(f"  note: {note}")
    for source in answer.get("sources", ()):
        click.echo(f"  source {source['name']}: {source['status']} in {source['elapsed_ms']} ms, "
                   f"{source['matches']} matches{' - ' + source['detail'] if source.get('detail') else ''}")
    for m in answer["matches"]:
        agency = m["reporting_agency"]
        contact = f", {agency['contact']}" if agency.get("contact") else ""
        score = f"{m['score']:.2f} " if "score" in m else ""
        value = (m.get("identifier") or {}).get("value", "-")
        state = m["status"] if m.get("active", True) else f"{m['status']} (not active)"
        click.echo(f"  {score}{m['tier']:<7} {m['match_type']:<11} {value}  {state}  {m['external_ref']} "
                   f"({agency['name']}{contact})")
        if m.get("explanation"):
            click.echo(f"       {m['explanation']}")


@click.command("bulk-check", epilog=exit_codes.HELP)
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Results file: NDJSON if it ends in .ndjson or .jsonl, an Excel workbook if .xlsx, else CSV "
                   "(UTF-8 with BOM, the input's delimiter).  Default: CSV on standard output.")
@click.option("--server", help="URL of an IronTrace server (default: the local registry).")
@server_key_option
def bulk_check(file: Path, output: Path | None, server: str | None, key: str | None) -> None:
    """Check every row of a CSV, NDJSON, JSON or .xlsx file; write each row with its verdict."""
    results_format = SUFFIX_FORMATS.get(output.suffix.lower(), "csv") if output else "csv"
    if results_format == "json":
        results_format = "csv"
    if server:
        counts = _bulk_check_remote(file, server.rstrip("/"), key, output, results_format)
    else:
        counts = _bulk_check_local(file, output, results_format)
    incomplete = f", checked without every external registry answering {counts[INCOMPLETE]}" \
        if counts.get(INCOMPLETE) else ""
    click.echo(f"rows {sum(counts[name] for name in COUNTERS)}: hits {counts['hits']}, possible matches "
               f"{counts['possible_matches']}, similar serials {counts['similar_serials']}, no match "
               f"{counts['no_matches']}, errors {counts['errors']}{incomplete}", err=True)
    sys.exit(exit_codes.for_rows(counts))


def _bulk_check_local(file: Path, output: Path | None, results_format: str) -> dict[str, int]:
    services = local_services(with_sources=True)
    limits = Limits(max_columns=services.bulk.settings.max_columns)
    with file.open("rb") as source:
        upload = or_fail(lambda: read_upload(source, detect_format(source, file.name), sys.maxsize, limits))
    results: list[dict[str, Any]] = []

    def checked() -> Iterator[dict[str, Any]]:
        with click.progressbar(length=len(upload.rows), label=f"Checking {file.name}", file=sys.stderr) as bar:
            for rows in batched(upload.rows, services.bulk.settings.batch_size):
                batch = services.checks.check_rows(Actor.operator(), rows)
                results.extend(batch)
                bar.update(len(batch))
                yield from batch

    try:
        _write_results(checked(), upload.columns, upload.delimiter, output, results_format)
    finally:
        upload.close()
    services.bulk.record_checked(Actor.operator(), upload.sha256, results)
    return tally(results)


def _write_results(results: Iterable[dict[str, Any]], columns: list[str], delimiter: str, output: Path | None,
                   results_format: str) -> None:
    if results_format == "xlsx":
        assert output is not None
        write_xlsx(results, columns, str(output))
        return
    lines = ndjson_lines(results) if results_format == "ndjson" else csv_lines(results, columns, delimiter)
    if output is None:
        sys.stdout.writelines(lines)
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        out.writelines(lines)


def _bulk_check_remote(file: Path, server: str, key: str | None, output: Path | None,
                       results_format: str) -> dict[str, int]:
    """Upload as a job, follow its progress, then stream its results."""
    with _session(server, key) as http:
        try:
            with file.open("rb") as upload:
                created = http.post(f"{server}/v1/bulk-checks", files={"file": (file.name, upload)},
                                    timeout=REMOTE_TIMEOUT_SECONDS)
            _raise_for_problem(created)
            location = urljoin(created.url, created.headers["Location"])
            job = _followed(http, location, created.json(), file.name)
            if results_format == "xlsx" and job["rows_done"] > XLSX_MAX_ROWS:
                raise click.ClickException(f"A workbook holds {XLSX_MAX_ROWS} rows: write CSV or NDJSON instead.")
            with http.get(location + "/results", headers={"Accept": RESULT_TYPES[results_format]}, stream=True,
                          timeout=REMOTE_TIMEOUT_SECONDS) as results:
                _raise_for_problem(results)
                _save(results, output)
        except requests.RequestException as exc:
            raise click.ClickException(f"Cannot reach {server}: {exc}") from exc
    return counters(job)


def _followed(http: requests.Session, location: str, job: dict[str, Any], name: str) -> dict[str, Any]:
    """The job once it ended, with a progress bar meanwhile; a failed or cancelled job is an error."""
    with click.progressbar(length=job["rows_total"], label=f"Checking {name}", file=sys.stderr) as bar:
        while job["status"] not in FINAL_JOB_STATUSES:  # queued, running, or stalled until resumed
            time.sleep(REMOTE_POLL_SECONDS)
            previous = job["rows_done"]
            status = http.get(location, timeout=REMOTE_TIMEOUT_SECONDS)
            if status.status_code in RETRYABLE_STATUSES:  # busy or rate-limited: the job goes on
                continue
            _raise_for_problem(status)
            job = status.json()
            bar.update(job["rows_done"] - previous)
    if job["status"] != "done":
        raise click.ClickException(f"The bulk check ended {job['status']}: {job.get('error') or ''}".strip(": "))
    return job


def _save(response: requests.Response, output: Path | None) -> None:
    """The response body as it came (the server wrote the BOM and delimiter), to ``output`` or stdout."""
    chunks = response.iter_content(chunk_size=64 * 1024)
    if output is None:
        for chunk in chunks:
            sys.stdout.buffer.write(chunk)
        return
    with output.open("wb") as out:
        for chunk in chunks:
            out.write(chunk)


def _session(server: str, key: str | None) -> requests.Session:
    if not key:
        raise click.UsageError("--server needs an API key: set IRONTRACE_KEY (or pass --key).")
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    return http


def _raise_for_problem(response: requests.Response) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.json().get("title")
        except ValueError:
            detail = response.text[:200]
        raise click.ClickException(f"{response.status_code}: {detail}")


COMMANDS = [check, bulk_check]
