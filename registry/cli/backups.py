"""``irontrace backup`` and ``restore`` (the embedded registry), ``es snapshot`` and ``es restore``."""

from __future__ import annotations

from typing import Any

import click

from registry.cli.admin import elasticsearch_engine, on_elasticsearch
from registry.cli.common import or_fail
from registry.config import ENV_PREFIX, load_settings
from registry.services.backups import Restored, back_up_file, restore_file, restore_snapshot
from registry.stamps import clock_from
from registry.storage import registry_exists, registry_location
from registry.storage.interfaces import SnapshotAdmin


def _embedded_settings() -> dict[str, Any]:
    settings = load_settings()
    if settings.get("ES_URL"):
        raise click.ClickException("IRONTRACE_ES_URL is set: use `irontrace es snapshot` and `irontrace es restore`.")
    return settings


@click.command("backup")
@click.argument("target", type=click.Path(dir_okay=False, writable=True))
def backup(target: str) -> None:
    """Copy the registry (IRONTRACE_DB) to TARGET while it keeps serving; TARGET appears whole or not at all."""
    settings = _embedded_settings()
    if not registry_exists(settings):
        raise click.ClickException(f"No registry at {registry_location(settings)}. Set {ENV_PREFIX}DB to the "
                                   f"registry's file.")
    copy = or_fail(lambda: back_up_file(settings, target))
    click.echo(f"backed up {copy.reports} reports ({copy.bytes // 1024} KiB, schema {copy.schema_version}) to "
               f"{copy.path}; audit head {copy.head[0]}:{copy.head[1]}")


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace the registry that is there (no process may have it open).")
def restore(source: str, force: bool) -> None:
    """Put the registry of the backup SOURCE at IRONTRACE_DB, once its audit chain verifies.

    The registry there is replaced only with --force, and never while a process
    has it open; a refused or failed restore leaves it as it was.
    """
    settings = _embedded_settings()
    restored = or_fail(lambda: restore_file(settings, source, force, clock_from(settings)()))
    click.echo(f"restored {restored.what.reports} reports from {source} to {restored.what.path}; "
               + _chain_line(restored))


def _chain_line(restored: Restored) -> str:
    rolled = restored.published.rolled_back_from
    return (f"audit log intact: {restored.chain.entries} entries, head {restored.chain.head_seq}:"
            f"{restored.chain.head_hash}; published as a restore"
            + (f" (the log was rolled back from the published head {rolled})" if rolled else ""))


@click.command("snapshot")
@click.option("--name", help="Default: the index prefix and the time.")
def es_snapshot(name: str | None) -> None:
    """Snapshot every index of the registry into the repository IRONTRACE_ES_SNAPSHOT_REPOSITORY."""
    snapshot = or_fail(lambda: _snapshots().create(name))
    click.echo(f"snapshot {snapshot.name} in {snapshot.repository}: {len(snapshot.indices)} indices")


@click.command("snapshots")
def es_snapshots() -> None:
    """This registry's snapshots in the repository, oldest first."""
    for snapshot in or_fail(lambda: _snapshots().list()):
        click.echo(f"{snapshot.name}  {snapshot.started_at}  {len(snapshot.indices)} indices")


@click.command("restore")
@click.argument("name", required=False)
@click.option("--force", is_flag=True, help="Replace the registry that is there under the index prefix.")
def es_restore(name: str | None, force: bool) -> None:
    """Restore snapshot NAME (default: the newest of this registry) under new index versions and move the
    aliases to it, once its audit chain verifies; the replaced indices are then deleted."""
    settings = load_settings()
    engine = elasticsearch_engine(create=True)
    restored = or_fail(lambda: restore_snapshot(engine, settings, name, force, clock_from(settings)()))
    click.echo(f"restored snapshot {restored.what.snapshot}: {len(restored.what.restored)} indices; "
               + _chain_line(restored))


def _snapshots() -> SnapshotAdmin:
    return on_elasticsearch(lambda admin: admin.snapshots)


COMMANDS = [backup, restore]
ES_COMMANDS = [es_snapshot, es_snapshots, es_restore]
