"""The ``irontrace`` command: serve, import, check, bulk-check, worker, export, demo."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Callable, Iterator, TypeVar
from urllib.parse import urljoin

import click
import requests

from registry.access import ADMIN, AGENCY, AUDITOR, BORDER, DEALER, ROLES, Actor
from integrations.simulator import DEFAULT_API_KEY as SIMULATOR_API_KEY
from integrations.simulator import DEFAULT_PORT as SIMULATOR_PORT
from registry.bulk import BulkWorker, counters, tally
from registry.bulk_files import csv_lines, detect_upload_format, ndjson_lines, read_upload
from registry.config import load_settings
from registry.context import Services
from registry.errors import IronTraceError
from registry.report_files import FORMATS, SUFFIX_FORMATS, detect_format, read_reports, write_reports
from registry.services import ImportSummary, RowError, check_view
from registry.storage import open_storage
from registry.storage.jobs import ACTIVE_STATUSES
from search.query import CheckQuery
from search.vocabulary import READING_SOURCES, TYPED

if TYPE_CHECKING:
    from registry.storage.elasticsearch import ElasticsearchStorage

T = TypeVar("T")
MAX_REJECTIONS_SHOWN = 20
DEMO_REPORT_COUNT = 500
DEMO_AGENCY = "Police Department of Turkestan Region"  # the agency of the Tulkubas case
DEMO_KEY_ROLES = ((ADMIN, None), (AGENCY, DEMO_AGENCY), (BORDER, None), (DEALER, None), (AUDITOR, None))
IMPORT_WORKERS = max(1, (os.cpu_count() or 1) - 1)  # validating processes; one core stays for writing
REMOTE_POLL_SECONDS = 0.5
REMOTE_TIMEOUT_SECONDS = 300
RETRYABLE_STATUSES = (429, 503)


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

            services = _services()
            try:
                summary = services.reports.import_rows(
                    read_reports(raw, file_format), on_batch=advance, workers=workers
                )
            except IronTraceError as exc:
                failures = "".join(
                    f"\n  {f['agency']} {f['external_ref']}: {f['error']}" for f in exc.extra.get("failures", ())
                )
                raise click.ClickException(exc.detail + failures) from exc
            bar.update(size - done)
    services.reports.record_import(Actor.operator(), str(file.resolve()), summary)
    _print_summary(summary, errors_file)
    if summary.rejected and not (summary.created or summary.updated or summary.unchanged):
        sys.exit(1)


def _print_summary(summary: ImportSummary, errors_file: IO[str] | None) -> None:
    click.echo(
        f"created {summary.created}, updated {summary.updated}, "
        f"unchanged {summary.unchanged}, rejected {len(summary.rejected)}"
    )
    _print_rejections(summary.rejected, errors_file)


def _print_rejections(rejected: list[RowError], errors_file: IO[str] | None) -> None:
    """The first rejected rows with their reasons; all of them into ``errors_file``."""
    for rejection in rejected[:MAX_REJECTIONS_SHOWN]:
        reasons = "; ".join(f"{e['field']}: {e['message']}" for e in rejection.errors)
        ref = f" ({rejection.external_ref})" if rejection.external_ref else ""
        click.echo(f"  row {rejection.row}{ref}: {reasons}")
    hidden = len(rejected) - MAX_REJECTIONS_SHOWN
    if hidden > 0:
        click.echo(f"  ... and {hidden} more rejected rows (use --errors FILE to keep them all)")
    if errors_file:
        for rejection in rejected:
            errors_file.write(json.dumps(vars(rejection), ensure_ascii=False) + "\n")


@main.command()
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
    record, outcome = _services().checks.check(query, Actor.operator())
    view = check_view(record, outcome)
    matches = view["matches"]
    if as_json:
        click.echo(json.dumps({**record, **view}, ensure_ascii=False, indent=2))
        return
    hit_from = f" (from {', '.join(view['hit_sources'])})" if view["hit_sources"] else ""
    click.echo(f"verdict: {outcome.verdict.upper()}{hit_from}")
    for source in view["sources"]:
        click.echo(f"  source {source['name']}: {source['status']} in {source['elapsed_ms']} ms, "
                   f"{source['matches']} matches{' - ' + source['detail'] if source.get('detail') else ''}")
    for m in matches:
        agency = m["reporting_agency"]
        click.echo(
            f"  {m['score']:.2f} {m['tier']:<7} {m['match_type']:<11} "
            f"{m['identifier']['value'] if m['identifier'] else '-'}"
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
        return click.get_text_stream("stdout")
    return output.open("w", encoding="utf-8" if as_ndjson else "utf-8-sig", newline="")


def _bulk_check_local(file: Path, output: Path | None, as_ndjson: bool) -> dict[str, int]:
    services = _services()
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
                batch = services.bulk.check_rows(upload.rows[start:start + batch_size], Actor.operator())
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
            while job["status"] in ACTIVE_STATUSES:
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
            out.writelines(results.iter_content(chunk_size=64 * 1024, decode_unicode=True))
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

    services = _services()
    summary = services.reports.import_rows(enumerate(demo_reports(count), start=1))
    services.reports.record_import(Actor.operator(), "demo", summary)
    click.echo(
        f"demo registry: created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}"
        + (f", rejected {len(summary.rejected)}" if summary.rejected else "")
    )
    click.echo("demo keys, one per role (shown only now; revoke with `irontrace keys revoke KEY_ID`):")
    for role, agency in DEMO_KEY_ROLES:
        key, _ = services.keys.create(Actor.operator(), role, agency=agency, label="demo")
        click.echo(f"  {role:<8} {key}")


@main.group("keys")
def keys_commands() -> None:
    """API keys: create, list, revoke (acts on the configured storage directly)."""


@keys_commands.command("create")
@click.option("--role", required=True, type=click.Choice(ROLES))
@click.option("--agency", help="For agency keys: the reporting agency's name, as in its reports.")
@click.option("--expires", help="ISO date (stops working at 00:00 UTC that day) or date-time.")
@click.option("--label", help="A note on whom the key is for.")
def keys_create(role: str, agency: str | None, expires: str | None, label: str | None) -> None:
    """Issue a key; it is printed once, alone on the last line."""
    key, record = _or_fail(lambda: _services().keys.create(Actor.operator(), role, agency, expires, label))
    click.echo(f"key id {record['key_id']}, role {role}"
               + (f", agency {record['agency']}" if record["agency"] else "")
               + f", expires {record['expires_at'] or 'never'}. Store it now; it cannot be shown again:")
    click.echo(key)


@keys_commands.command("list")
def keys_list() -> None:
    """Every key: id, role, agency, state, expiry, label (never the key)."""
    for record in _or_fail(lambda: _services().keys.list(Actor.operator())):
        click.echo(f"{record['key_id']}  {record['role']:<8} {record['state']:<8} "
                   f"expires {record['expires_at'] or 'never':<24} {record['agency'] or '-'}  {record['label'] or ''}")


@keys_commands.command("revoke")
@click.argument("key_id")
def keys_revoke(key_id: str) -> None:
    """Revoke a key: it stops working at once."""
    record = _or_fail(lambda: _services().keys.revoke(Actor.operator(), key_id))
    click.echo(f"revoked {record['key_id']} at {record['revoked_at']}")


@main.group("audit")
def audit_commands() -> None:
    """The hash-chained audit log."""


@audit_commands.command("verify")
@click.option("--anchor", metavar="SEQ:HASH", help="A head printed by an earlier verify: also prove it is still there.")
def audit_verify(anchor: str | None) -> None:
    """Prove the chain intact (exit 0) or name the first broken entry (exit 1)."""
    report = _or_fail(lambda: _services().audit.verify(Actor.operator(), _anchor(anchor)))
    if report.intact:
        click.echo(f"audit log intact: {report.entries} entries; head {report.head_seq}:{report.head_hash}")
        return
    click.echo(f"audit log BROKEN at entry {report.broken_at}: {report.reason} "
               f"({report.entries} entries intact before it)")
    sys.exit(1)


def _anchor(value: str | None) -> tuple[int, str] | None:
    if value is None:
        return None
    seq, _, digest = value.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        raise click.BadParameter("expected SEQ:HASH as printed by `irontrace audit verify`", param_hint="--anchor")
    return int(seq), digest


def _or_fail(action: Callable[[], T]) -> T:
    """Run a service call; a domain error becomes a clean CLI failure, not a traceback."""
    try:
        return action()
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc


@main.command("simulator")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=SIMULATOR_PORT, show_default=True, type=int)
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="JSON list of records to serve (default: a small built-in set).")
@click.option("--api-key", envvar="SIMULATOR_API_KEY", default=SIMULATOR_API_KEY, show_default=True,
              help="The credential both protocols require (or SIMULATOR_API_KEY).")
def simulator(host: str, port: int, data: Path | None, api_key: str) -> None:
    """Serve the simulator of the stolen-vehicles and screening protocols, and of feeds (tests, demos)."""
    from integrations.simulator import serve

    serve(host, port, data, api_key)


@main.group("feed")
def feed_commands() -> None:
    """Published lists pulled into the registry (configured in IRONTRACE_SOURCES_FILE / IRONTRACE_SOURCES)."""


@feed_commands.command("pull")
@click.argument("names", nargs=-1)
def feed_pull(names: tuple[str, ...]) -> None:
    """Pull every configured feed (or those NAMES): unchanged feeds cost one 304; run it from cron."""
    from integrations.base import SourceError
    from integrations.config import SourceConfigError, load_feeds
    from integrations.feed import FeedState, pull_feed

    settings = load_settings()
    try:
        feeds = [f for f in load_feeds(settings) if not names or f.name in names]
    except SourceConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    unknown = set(names) - {f.name for f in feeds}
    if unknown or not feeds:
        raise click.ClickException(f"no such feed configured: {', '.join(sorted(unknown)) or '(none configured)'}")
    services = Services.over(open_storage(settings))  # no sources: a feed pull asks none of them
    reports = services.reports
    state = FeedState(settings["FEED_STATE"])
    failed = False
    try:
        for feed in feeds:
            try:
                result = pull_feed(feed, reports, state)
            except (SourceError, IronTraceError) as exc:
                click.echo(f"{feed.name}: failed: {exc}", err=True)
                failed = True
                continue
            if not result.modified:
                click.echo(f"{feed.name}: not modified")
                continue
            click.echo(f"{feed.name}: created {result.created}, updated {result.updated}, unchanged {result.unchanged}, "
                       f"withdrawn {result.withdrawn}, rejected {len(result.rejected)}")
            _print_rejections(result.rejected, None)
    finally:
        services.close()
    if failed:
        sys.exit(1)


@main.group("es")
def es_commands() -> None:
    """Elasticsearch indices (needs IRONTRACE_ES_URL)."""


def _on_elasticsearch(operation: Callable[["ElasticsearchStorage"], T]) -> T:
    """Run an index operation on the configured cluster; errors become a clean CLI failure."""
    from registry.storage.elasticsearch import ElasticsearchStorage

    storage = open_storage(load_settings())
    if not isinstance(storage, ElasticsearchStorage):
        raise click.ClickException("Set IRONTRACE_ES_URL: these commands work on Elasticsearch only.")
    return _or_fail(lambda: operation(storage))


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
