"""The ``irontrace`` command.  Each group of commands lives in a module of its own:
``serving`` (serve, worker, simulator, receiver), ``reports`` (import, export, demo, feed),
``checks`` (check, bulk-check), ``admin`` (keys, users, audit, es, purge), ``backups`` (backup, restore,
es snapshot, es restore)."""

from __future__ import annotations

from typing import Any

import click

from registry.config import ConfigurationError


class Commands(click.Group):
    """The command group; a setting that cannot be used ends any command with its message, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConfigurationError as exc:
            raise click.ClickException(f"configuration error: {exc}") from exc


@click.group(cls=Commands)
def main() -> None:
    """IronTrace: registry of stolen and missing mining and heavy equipment.

    Storage comes from the environment: IRONTRACE_DB (SQLite file, the default)
    or IRONTRACE_ES_URL (Elasticsearch).
    """


def _register() -> None:
    from registry.cli import admin, backups, checks, replica, reports, serving

    for module in (serving, reports, checks, admin, backups, replica):
        for command in module.COMMANDS:
            main.add_command(command)
    for command in backups.ES_COMMANDS:
        admin.es_commands.add_command(command)


_register()
