"""The ``irontrace`` command: serve, import, check, bulk-check, worker, export, demo."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator, TypeVar

import click
import requests

from registry.bulk import BulkWorker, tally
from registry.bulk_files import csv_lines, detect_upload_format, ndjson_lines, read_upload
from registry.config import load_settings
from registry.context import Services
from registry.errors import IronTraceError
from registry.report_files import FORMATS, detect_format, read_reports, write_reports
from registry.services import ImportSummary, match_view
from registry.storage import open_storage
from search.matching import CheckQuery

if TYPE_CHECKING:
    from registry.storage.elasticsearch import ElasticsearchStorage

T = TypeVar("T")
MAX_REJECTIONS_SHOWN = 20
DEMO_REPORT_COUNT = 500
IMPORT_WORKERS = max(1, (os.cpu_count() or 1) - 1)  # validating processes; one core stays for writing
NDJSON_SUFFIXES = (".ndjson", ".jsonl")
REMOTE_POLL_SECONDS = 0.5
REMOTE_TIMEOUT_SECONDS = 300


def _services() -> Services:
    return Services.open(load_settings())


@click.group()
def main() -> None:
    """IronTrace: registry of stolen and missing mining and heavy equipment.

    Storage comes from the environment: IRONTRACE_DB (SQLite file, the default)
    or IRONTRACE_ES_URL (Elasticsearch).
    """


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the development server (use gunicorn in production, see README)."""
    from registry import create_app

    create_app().run(host=host, port=port, threaded=True)


@main.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(FORMATS), help="Default: from the name or content.")
@click.option("--errors", "errors_file", type=click.File("w"), help="Write every rejected row here (NDJSON).")
@click.option("--workers", default=IMPORT_WORKERS, show_default=True, help="Processes validating rows.")
def import_(file: Path, file_format: str | None, errors_file: IO[str] | None, workers: int) -> None:
    """Create or update reports from NDJSON, a JSON array or CSV (idempotent)."""
    with file.open("rb") as raw:
        file_format = file_format or detect_format(file, raw.peek(64))
        size = file.stat().st_size
        with click.progressbar(length=size, label=f"Importing {file.name}", file=sys.stderr) as bar:
            done = 0

            def advance() -> None:
                nonlocal done
                position = raw.tell()
                bar.update(position - done)
                done = position

            try:
                summary = _services().reports.import_rows(
                    read_reports(raw, file_format), on_batch=advance, workers=workers
                )
            except IronTraceError as exc:
                failures = "".join(
                    f"\n  {f['agency']} {f['external_ref']}: {f['error']}" for f in exc.extra.get("failures", ())
                )
                raise click.ClickException(exc.detail + failures) from exc
            bar.update(size - done)
    _print_summary(summary, errors_file)
    if summary.rejected and not (summary.created or summary.updated or summary.unchanged):
        sys.exit(1)


def _print_summary(summary: ImportSummary, errors_file: IO[str] | None) -> None:
    click.echo(
        f"created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, rejected {len(summary.rejected)}"
    )
    for rejection in summary.rejected[:MAX_REJECTIONS_SHOWN]:
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in rejection.errors)
        ref = f" ({rejection.external_ref})" if rejection.external_ref else ""
        click.echo(f"  row {rejection.row}{ref}: {reasons}")
    hidden = len(summary.rejected) - MAX_REJECTIONS_SHOWN
    if hidden > 0:
        click.echo(f"  ... and {hidden} more rejected rows (use --errors FILE to keep them all)")
    if errors_file:
        for rejection in summary.rejected:
            errors_file.write(json.dumps(vars(rejection), ensure_ascii=False) + "\n")


@main.command()
@click.argument("identifier")
@click.option("--manufacturer")
@click.option("--category")
@click.option("--description")
@click.option("--json", "as_json", is_flag=True, help="Print the full result as JSON.")
def check(identifier: str, manufacturer: str | None, category: str | None, description: str | None,
          as_json: bool) -> None:
    """Check an identifier against the registry and print the verdict."""
    query = CheckQuery(identifier, manufacturer, category, description)
    record, outcome = _services().checks.check(query)
    matches = [match_view(m) for m in outcome.matches]
    if as_json:
        click.echo(json.dumps({**record, "matches": matches}, ensure_ascii=False, indent=2))
        return
    click.echo(f"verdict: {outcome.verdict.upper()}")
    for m in matches:
        agency = m["reporting_agency"]
        click.echo(
            f"  {m['score']:.2f} {m['match_type']:<11} {m['identifier']['value'] if m['identifier'] else '-'}"
            f"  {m['status']}  {m['external_ref']} ({agency['name']}{', ' + agency['contact'] if agency.get('contact') else ''})"
        )
        click.echo(f"       {m['explanation']}")


@main.command("bulk-check")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Results file: NDJSON if it ends in .ndjson or .jsonl, else CSV.  Default: CSV on standard output.")
@click.option("--server", help="URL of an IronTrace server (default: the local registry).")
@click.option("--key", help="API key for --server, sent as Authorization: Bearer KEY.")
def bulk_check(file: Path, output: Path | None, server: str | None, key: str | None) -> None:
    """Check every row of a CSV, NDJSON or JSON file; write each row with its verdict."""
    as_ndjson = output is not None and output.suffix.lower() in NDJSON_SUFFIXES
    if server:
        counts = _bulk_check_remote(file, server.rstrip("/"), key, output, as_ndjson)
    else:
        counts = _bulk_check_local(file, output, as_ndjson)
    click.echo(f"rows {sum(counts.values())}: hits {counts['hits']}, possible matches {counts['possible_matches']}, "
               f"no match {counts['no_matches']}, errors {counts['errors']}", err=True)


def _results_file(output: Path | None, as_ndjson: bool) -> IO[str]:
    """Where results go; a CSV file gets a BOM so spreadsheets read it as UTF-8."""
    if output is None:
        return click.get_text_stream("stdout")
    return output.open("w", encoding="utf-8" if as_ndjson else "utf-8-sig", newline="")


def _bulk_check_local(file: Path, output: Path | None, as_ndjson: bool) -> dict[str, int]:
    services = _services()
    data = file.read_bytes()
    try:
        upload = read_upload(data, detect_upload_format(None, file.name, data[:64]), max_rows=sys.maxsize)
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc
    batch_size = services.bulk.settings.batch_size
    results: list[dict] = []

    def checked() -> Iterator[dict]:
        with click.progressbar(length=len(upload.rows), label=f"Checking {file.name}", file=sys.stderr) as bar:
            for start in range(0, len(upload.rows), batch_size):
                batch = services.bulk.check_rows(upload.rows[start:start + batch_size])
                results.extend(batch)
                bar.update(len(batch))
                yield from batch

    with _results_file(output, as_ndjson) as out:
        out.writelines(ndjson_lines(checked()) if as_ndjson else csv_lines(checked(), upload.columns))
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
        location = server + created.headers["Location"]
        job = created.json()
        with click.progressbar(length=job["rows_total"], label=f"Checking {file.name}", file=sys.stderr) as bar:
            while job["status"] in ("queued", "running"):
                time.sleep(REMOTE_POLL_SECONDS)
                previous = job["rows_done"]
                job = http.get(location, timeout=REMOTE_TIMEOUT_SECONDS).json()
                bar.update(job["rows_done"] - previous)
        if job["status"] != "done":
            raise click.ClickException(f"The bulk check ended {job['status']}: {job.get('error') or ''}".strip(": "))
        accept = "application/x-ndjson" if as_ndjson else "text/csv"
        with http.get(location + "/results", headers={"Accept": accept}, stream=True,
                      timeout=REMOTE_TIMEOUT_SECONDS) as results, _results_file(output, as_ndjson) as out:
            _raise_for_problem(results)
            results.encoding = "utf-8"
            out.writelines(results.iter_content(chunk_size=64 * 1024, decode_unicode=True))
    except requests.RequestException as exc:
        raise click.ClickException(f"Cannot reach {server}: {exc}") from exc
    return {name: job[name] for name in ("hits", "possible_matches", "no_matches", "errors")}


def _raise_for_problem(response: requests.Response) -> None:
    if response.status_code >= 400:
        try:
            detail = response.json().get("detail") or response.json().get("title")
        except ValueError:
            detail = response.text[:200]
        raise click.ClickException(f"{response.status_code}: {detail}")


@main.command()
@click.option("--processes", default=0, show_default=True,
              help="Check batches in this many child processes (up to one per core); 0: in this one.")
def worker(processes: int) -> None:
    """Run bulk-check jobs until stopped (SIGTERM or Ctrl-C); any number may run at once."""
    settings = load_settings()
    services = Services.open(settings)
    bulk_worker = BulkWorker(services.bulk, processes, settings)
    signal.signal(signal.SIGTERM, lambda *_: bulk_worker.stopping.set())
    click.echo(f"bulk-check worker {bulk_worker.owner} on {services.storage.name}", err=True)
    try:
        bulk_worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        bulk_worker.stop()
        services.close()


@main.command()
@click.option("-o", "--output", type=click.File("w"), default="-", help="Default: standard output.")
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="ndjson", show_default=True)
def export(output: IO[str], file_format: str) -> None:
    """Write every report (NDJSON is lossless and re-importable)."""
    count = write_reports(_services().reports.export(), output, file_format)
    click.echo(f"exported {count} reports", err=True)


@main.command()
@click.option("--count", default=DEMO_REPORT_COUNT, show_default=True, help="Generated reports besides the real case.")
def demo(count: int) -> None:
    """Load a realistic demo registry, including the Tulkubas impound-lot case."""
    from registry.sample_data import demo_reports

    rows = enumerate(demo_reports(count), start=1)
    summary = _services().reports.import_rows(rows)
    click.echo(
        f"demo registry: created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}"
        + (f", rejected {len(summary.rejected)}" if summary.rejected else "")
    )


@main.group("es")
def es_commands() -> None:
    """Elasticsearch indices (needs IRONTRACE_ES_URL)."""


def _on_elasticsearch(operation: Callable[["ElasticsearchStorage"], T]) -> T:
    """Run an index operation on the configured cluster; errors become a clean CLI failure."""
    from registry.storage.elasticsearch import ElasticsearchStorage

    storage = open_storage(load_settings())
    if not isinstance(storage, ElasticsearchStorage):
        raise click.ClickException("Set IRONTRACE_ES_URL: these commands work on Elasticsearch only.")
    try:
        return operation(storage)
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc


@es_commands.command("init")
def es_init() -> None:
    """Create the missing indices and aliases (safe to repeat)."""
    from registry import es_admin

    created = _on_elasticsearch(es_admin.init)
    click.echo(f"created {', '.join(created)}" if created else "indices already in place")


@es_commands.command("reindex")
def es_reindex() -> None:
    """Rebuild the reports index with the current mapping and switch the alias (pause writes first)."""
    from registry import es_admin

    result = _on_elasticsearch(es_admin.reindex)
    click.echo(f"copied {result.copied} reports from {result.old_index} to {result.new_index}; alias switched")
