"""``irontrace check`` and ``bulk-check``: locally, or against a server."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast
from urllib.parse import urljoin

import click
import requests

from registry.access import Actor
from registry.cli.common import local_services
from registry.errors import IronTraceError
from registry.files.reports import SUFFIX_FORMATS
from registry.files.results import csv_lines, ndjson_lines
from registry.files.uploads import detect_upload_format, read_upload
from registry.services.bulk import counters, tally
from registry.vocabulary import FINAL_JOB_STATUSES, READING_SOURCES, TYPED
from search.query import CheckQuery

REMOTE_POLL_SECONDS = 0.5
REMOTE_TIMEOUT_SECONDS = 300
RETRYABLE_STATUSES = (429, 503)


@click.command()
@click.argument("identifier")
@click.option("--manufacturer")
@click.option("--model")
@click.option("--category")
@click.option("--description")
@click.option("--reading-source", type=click.Choice(READING_SOURCES), default=TYPED, show_default=True,
              help="How the identifier was obtained: typed, copied from a file, or read by OCR.")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def check(identifier: str, manufacturer: str | None, model: str | None, category: str | None,
          description: str | None, reading_source: str, as_json: bool) -> None:
    """Check an identifier against the registry and print the verdict, alarms first, then similar serials."""
    query = CheckQuery(identifier, manufacturer, category, description, model, reading_source)
    result = local_services(with_sources=True).checks.check(Actor.operator(), query)
    view = result.to_dict()
    matches = view["matches"]
    if as_json:
        click.echo(json.dumps({**result.record, **view}, ensure_ascii=False, indent=2))
        return
    hit_from = f" (from {', '.join(view['hit_sources'])})" if view["hit_sources"] else ""
    click.echo(f"verdict: {result.verdict.upper()}{hit_from}")
    for source in view["sources"]:
        click.echo(f"  source {source['name']}: {source['status']} in {source['elapsed_ms']} ms, "
                   f"{source['matches']} matches{' - ' + source['detail'] if source.get('detail') else ''}")
    for m in matches:
        agency = m["reporting_agency"]
        contact = f", {agency['contact']}" if agency.get("contact") else ""
        click.echo(
            f"  {m['score']:.2f} {m['tier']:<7} {m['match_type']:<11} "
            f"{m['identifier']['value'] if m['identifier'] else '-'}"
            f"  {m['status']}  {m['external_ref']} ({agency['name']}{contact})"
        )
        click.echo(f"       {m['explanation']}")


@click.command("bulk-check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Results file: NDJSON if it ends in .ndjson or .jsonl, else CSV.  Default: CSV on standard output.")
@click.option("--server", help="URL of an IronTrace server (default: the local registry).")
@click.option("--key", help="API key for --server, sent as Authorization: Bearer KEY.")
def bulk_check(file: Path, output: Path | None, server: str | None, key: str | None) -> None:
    """Check every row of a CSV, NDJSON or JSON file; write each row with its verdict."""
    as_ndjson = output is not None and SUFFIX_FORMATS.get(output.suffix.lower()) == "ndjson"
    if server:
        counts = _bulk_check_remote(file, server.rstrip("/"), key, output, as_ndjson)
    else:
        counts = _bulk_check_local(file, output, as_ndjson)
    click.echo(f"rows {sum(counts.values())}: hits {counts['hits']}, possible matches {counts['possible_matches']}, "
               f"similar serials {counts['similar_serials']}, no match {counts['no_matches']}, "
               f"errors {counts['errors']}", err=True)


def _results_file(output: Path | None, as_ndjson: bool) -> IO[str]:
    """Where results go; a CSV file gets a BOM so spreadsheets read it as UTF-8."""
    if output is None:
        return click.open_file("-", "w")
    return output.open("w", encoding="utf-8" if as_ndjson else "utf-8-sig", newline="")


def _bulk_check_local(file: Path, output: Path | None, as_ndjson: bool) -> dict[str, int]:
    services = local_services(with_sources=True)
    data = file.read_bytes()
    try:
        upload = read_upload(data, detect_upload_format(None, file.name, data), max_rows=sys.maxsize)
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc
    batch_size = services.bulk.settings.batch_size
    results: list[dict] = []

    def checked() -> Iterator[dict]:
        with click.progressbar(length=len(upload.rows), label=f"Checking {file.name}", file=sys.stderr) as bar:
            for start in range(0, len(upload.rows), batch_size):
                batch = services.checks.check_rows(Actor.operator(), upload.rows[start:start + batch_size])
                results.extend(batch)
                bar.update(len(batch))
                yield from batch

    with _results_file(output, as_ndjson) as out:
        out.writelines(ndjson_lines(checked()) if as_ndjson else csv_lines(checked(), upload.columns))
    services.bulk.record_checked(Actor.operator(), data, results)
    return tally(results)


def _bulk_check_remote(file: Path, server: str, key: str | None, output: Path | None,
                       as_ndjson: bool) -> dict[str, int]:
    """Upload as a job, follow its progress, then stream its results."""
    http = requests.Session()
    if key:
        http.headers["Authorization"] = f"Bearer {key}"
    try:
        with file.open("rb") as upload:
            created = http.post(f"{server}/v1/bulk-checks", files={"file": (file.name, upload)},
                                timeout=REMOTE_TIMEOUT_SECONDS)
        _raise_for_problem(created)
        location = urljoin(created.url, created.headers["Location"])
        job = created.json()
        with click.progressbar(length=job["rows_total"], label=f"Checking {file.name}", file=sys.stderr) as bar:
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
        accept = "application/x-ndjson" if as_ndjson else "text/csv"
        with http.get(location + "/results", headers={"Accept": accept}, stream=True,
                      timeout=REMOTE_TIMEOUT_SECONDS) as results, _results_file(output, as_ndjson) as out:
            _raise_for_problem(results)
            results.encoding = "utf-8"
            # With an encoding set, decoded chunks are text.
            out.writelines(cast("Iterator[str]", results.iter_content(chunk_size=64 * 1024, decode_unicode=True)))
    except requests.RequestException as exc:
        raise click.ClickException(f"Cannot reach {server}: {exc}") from exc
    return counters(job)


def _raise_for_problem(response: requests.Response) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.json().get("title")
        except ValueError:
            detail = response.text[:200]
        raise click.ClickException(f"{response.status_code}: {detail}")



COMMANDS = [check, bulk_check]
