"""The ``irontrace`` command.  Each group of commands lives in a module of its own:
``serving`` (serve, worker, simulator), ``reports`` (import, export, demo, feed),
``checks`` (check, bulk-check), ``admin`` (keys, audit, es)."""

from __future__ import annotations

import click


@click.group()
def main() -> None:
    """IronTrace: registry of stolen and missing mining and heavy equipment.

    Storage comes from the environment: IRONTRACE_DB (SQLite file, the default)
    or IRONTRACE_ES_URL (Elasticsearch).
    """


def _register() -> None:
    from registry.cli import admin, checks, reports, serving

    for module in (serving, reports, checks, admin):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
