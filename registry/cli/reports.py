"""``irontrace import``, ``export``, ``demo`` and ``feed pull``: reports in and out."""

from __future__ import annotations

import json
import os
import secrets
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, cast

import click

from registry.access import Actor
from registry.cli.common import local_services, merge_reports_segments, or_fail
from registry.config import load_settings
from registry.errors import IronTraceError, NotFound
from registry.files.reports import FORMATS, read_reports, write_reports
from registry.files.tables import FORMATS as TABLE_FORMATS
from registry.files.tables import detect_format
from registry.services import Services
from registry.services.imports import ImportSummary, RowError
from registry.vocabulary import ADMIN, AGENCY, AUDITOR, BORDER, DEALER

MAX_REJECTIONS_SHOWN = 20
DEMO_REPORT_COUNT = 500
DEMO_AGENCY = "Police Department of Turkestan Region"  # the agency of the Tulkubas case
DEMO_ROLES = ((ADMIN, None), (AGENCY, DEMO_AGENCY), (BORDER, None), (DEALER, None), (AUDITOR, None))
DEMO_PASSWORD_BYTES = 12
IMPORT_WORKERS = max(1, (os.cpu_count() or 1) - 1)  # validating processes; one core stays for writing


@click.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "file_format", type=click.Choice(TABLE_FORMATS), help="Default: from the content or name.")
@click.option("--errors", "errors_file", type=click.File("w"), help="Write every rejected row here (NDJSON).")
@click.option("--workers", default=IMPORT_WORKERS, show_default=True, help="Processes validating rows.")
def import_(file: Path, file_format: str | None, errors_file: IO[str] | None, workers: int) -> None:
    """Create or update reports from NDJSON, a JSON array, CSV or an .xlsx workbook (idempotent).

    Files are read as bulk checks read them: UTF-8 (with or without BOM), UTF-16
    or Windows-1251; comma, semicolon or tab separated.  Creates the registry
    if there is none, and says where."""
    with file.open("rb") as raw:
        file_format = file_format or or_fail(lambda: detect_format(raw, file.name))
        size = file.stat().st_size
        services = local_services(create=True)
        with click.progressbar(length=size, label=f"Importing {file.name}", file=sys.stderr) as bar:
            done = 0

            def advance() -> None:
                nonlocal done
                position = max(done, min(size, raw.tell()))  # a workbook is read out of order
                bar.update(position - done)
                done = position

            try:
                summary = services.imports.import_rows(
                    Actor.operator(), read_reports(raw, file_format), on_batch=advance, workers=workers,
                    source=str(file.resolve()),
                )
            except IronTraceError as exc:
                failures = "".join(
                    f"\n  {f['agency']} {f['external_ref']}: {f['error']}"
                    for f in cast("Iterable[dict[str, Any]]", exc.extra.get("failures", ()))
                )
                raise click.ClickException(exc.detail + failures) from exc
            bar.update(size - done)
    services.imports.record(Actor.operator(), summary)
    _print_summary(summary, errors_file)
    if services.engine.admin is not None and (summary.created or summary.updated):
        merge_reports_segments(services.engine.admin)
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


@click.command()
@click.option("-o", "--output", type=click.File("w"), default="-", help="Default: standard output.")
@click.option("--format", "file_format", type=click.Choice(FORMATS), default="ndjson", show_default=True)
def export(output: IO[str], file_format: str) -> None:
    """Write every report (NDJSON is lossless and re-importable; CSV cells are spreadsheet-safe)."""
    count = or_fail(lambda: write_reports(local_services().reports.export(Actor.operator()), output, file_format))
    click.echo(f"exported {count} reports", err=True)


@click.command()
@click.option("--count", default=DEMO_REPORT_COUNT, show_default=True, help="Generated reports besides the real case.")
def demo(count: int) -> None:
    """Load a realistic demo registry, including the Tulkubas impound-lot case; print a key and an account per role."""
    from registry.demo import demo_reports

    services = local_services(create=True)
    summary = services.imports.import_rows(Actor.operator(), enumerate(demo_reports(count), start=1), source="demo")
    services.imports.record(Actor.operator(), summary)
    click.echo(
        f"demo registry: created {summary.created}, updated {summary.updated}, unchanged {summary.unchanged}"
        + (f", rejected {len(summary.rejected)}" if summary.rejected else "")
    )
    click.echo("demo keys, one per role (shown only now; revoke with `irontrace keys revoke KEY_ID`):")
    for role, agency in DEMO_ROLES:
        key, _ = services.keys.create(Actor.operator(), role, agency=agency, label="demo")
        click.echo(f"  {role:<8} {key}")
    click.echo("demo accounts for the web app, one per role (new passwords on every run; "
               "sign in at http://127.0.0.1:8000/login):")
    for role, agency in DEMO_ROLES:
        username, password = _demo_account(services, role, agency)
        click.echo(f"  {role:<8} username {username:<14} password {password}")


def _demo_account(services: Services, role: str, agency: str | None) -> tuple[str, str]:
    """The demo account of ``role`` with a new random password (created on the first run)."""
    username, password = f"demo-{role}", secrets.token_urlsafe(DEMO_PASSWORD_BYTES)
    try:
        services.users.reset_password(Actor.operator(), username, password)
    except NotFound:
        services.users.create(Actor.operator(), username, role, password, agency)
    return username, password


@click.group("feed")
def feed_commands() -> None:
    """Published lists pulled into the registry (configured in IRONTRACE_SOURCES_FILE / IRONTRACE_SOURCES)."""


@feed_commands.command("pull")
@click.argument("names", nargs=-1)
def feed_pull(names: tuple[str, ...]) -> None:
    """Pull every configured feed (or those NAMES): unchanged feeds cost one 304; run it from cron."""
    from integrations.base import SourceError
    from integrations.config import SourceConfigError, load_feeds
    from integrations.feed import FeedState

    settings = load_settings()
    try:
        feeds = [f for f in load_feeds(settings) if not names or f.name in names]
    except SourceConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    unknown = set(names) - {f.name for f in feeds}
    if unknown or not feeds:
        raise click.ClickException(f"no such feed configured: {', '.join(sorted(unknown)) or '(none configured)'}")
    services = local_services(create=True)  # a feed pull asks no source
    state = FeedState(settings["FEED_STATE"])
    failed = False
    try:
        for feed in feeds:
            try:
                result = services.feeds.pull(feed, state)
            except (SourceError, IronTraceError) as exc:
                click.echo(f"{feed.name}: failed: {exc}", err=True)
                failed = True
                continue
            if not result.modified:
                click.echo(f"{feed.name}: not modified")
                continue
            click.echo(f"{feed.name}: created {result.created}, updated {result.updated}, "
                       f"unchanged {result.unchanged}, withdrawn {result.withdrawn}, rejected {len(result.rejected)}")
            _print_rejections(result.rejected, None)
    finally:
        services.close()
    if failed:
        sys.exit(1)


COMMANDS = [import_, export, demo, feed_commands]
