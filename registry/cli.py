"""The ``irontrace`` command: serve, import, check, export, demo."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, TypeVar

import click

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
