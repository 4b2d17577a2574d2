"""What every command shares: the services over the configured engine, and clean failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from registry.config import ENV_PREFIX, load_settings
from registry.errors import IronTraceError
from registry.services import Services, open_services
from registry.storage import registry_exists, registry_location
from registry.storage.interfaces import IndexAdmin

T = TypeVar("T")


def local_services(with_sources: bool = False, create: bool = False) -> Services:
    """The services over the engine the environment names (``IRONTRACE_DB`` or ``IRONTRACE_ES_URL``).

    A command that reads the registry refuses one that is not there: opening
    it would create it empty and every check would answer a false all clear.
    Commands that fill it (``create``) create it, and say where.
    """
    settings = load_settings()
    exists = or_fail(lambda: registry_exists(settings))
    if not exists and not create:
        raise click.ClickException(
            f"No registry at {registry_location(settings)}. Set {ENV_PREFIX}DB to the registry's file (or "
            f"{ENV_PREFIX}ES_URL and {ENV_PREFIX}ES_INDEX_PREFIX for Elasticsearch); `irontrace import FILE` "
            f"or `irontrace demo` create a new one.")
    if create:
        click.echo(f"registry: {registry_location(settings)}{'' if exists else ' (new)'}", err=True)
    return or_fail(lambda: open_services(settings, with_sources))


def or_fail(action: Callable[[], T]) -> T:
    """Run a service call; a domain error becomes a clean CLI failure, not a traceback."""
    try:
        return action()
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc


def server_key_option(command: Callable[..., T]) -> Callable[..., T]:
    """``--key``, read from ``IRONTRACE_KEY`` when not given (``ps`` and shell history show options)."""
    return click.option(
        "--key", envvar=f"{ENV_PREFIX}KEY", show_envvar=True,
        help="API key for --server, sent as Authorization: Bearer. Prefer the environment variable: "
             "the process list and shell history show options.")(command)


def merge_reports_segments(admin: IndexAdmin) -> None:
    """Merge the small segments a bulk write (an import, a reindex) leaves in the reports index, down to
    ``ES_MERGED_SEGMENTS`` a shard (0: never): every check looks its keys up in each segment.

    A merge that fails (a key without the privilege, a node gone) is a warning: what was written
    stays written, and checks work, only slower."""
    most = load_settings()["ES_MERGED_SEGMENTS"]
    if not most:
        return
    try:
        segments = admin.merge_segments(most)
    except IronTraceError as exc:
        click.echo(f"warning: the reports index was not merged ({exc.detail}); checks work, only slower. The next "
                   f"import tries again; {ENV_PREFIX}ES_MERGED_SEGMENTS=0 stops trying.", err=True)
        return
    click.echo(f"merged the reports index into {segments} segment{'' if segments == 1 else 's'} a shard")
