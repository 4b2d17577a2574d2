"""``irontrace replica init|sync``: a border post's copy of the registry, kept from the centre."""

from __future__ import annotations

import time

import click

from registry.access import Actor
from registry.cli.common import local_services, or_fail
from registry.config import ENV_PREFIX, load_settings
from registry.replica.snapshot import start_from_snapshot
from registry.replica.sync import Centre, CentreRefused, CentreUnreachable, Replica, SyncSummary
from registry.services import Services
from registry.storage import registry_exists


@click.group()
def replica() -> None:
    """Keep this machine's registry (IRONTRACE_DB) as a replica of a centre, for checks when the link is down."""


@replica.command()
@click.option("--from", "centre", required=True, help="The centre's URL, e.g. https://irontrace.example")
@click.option("--key", envvar=f"{ENV_PREFIX}KEY", required=True, show_envvar=True,
              help="A replica key of the centre (prefer the environment variable).")
@click.option("--via", type=click.Choice(["snapshot", "feed"]), default="snapshot", show_default=True,
              help="snapshot: download the centre's ready-made copy (with its index: fastest); feed: copy report "
                   "by report through the change feed (about a tenth of the bytes, for a slow link; the replica "
                   "then computes the index itself). A centre on Elasticsearch is always copied through the feed.")
def init(centre: str, key: str, via: str) -> None:
    """Make the local registry a replica of CENTRE and copy it (resumable: run it again after an interruption)."""
    centre = centre.rstrip("/")
    settings = load_settings()
    seeded = None
    if via == "snapshot" and not settings["ES_URL"] and not registry_exists(settings):
        seeded = or_fail(lambda: start_from_snapshot(Centre(centre, key), settings["DB"]))
    services = _embedded_services(create=True)
    try:
        store = services.engine.replica
        assert store is not None
        state = store.state()
        if state is None and next(iter(services.engine.reports.iter_all()), None) is not None:
            raise click.ClickException("This registry already holds reports of its own: a replica starts empty.")
        if state is not None and state["centre"] != centre:
            raise click.ClickException(f"This registry is already a replica of {state['centre']}.")
        or_fail(lambda: store.follow(centre))
        if seeded is not None:
            services.audit.record(Actor.operator(), "replica.snapshot", centre, {
                "snapshot": seeded.name, "position": seeded.position, "reports": seeded.reports,
                "bytes": seeded.bytes, "as_of": seeded.as_of})
            click.echo(f"installed the centre's snapshot: {seeded.reports} reports as of {seeded.as_of}")
        _report(_sync(services, key))
    finally:
        services.close()


@replica.command()
@click.option("--key", envvar=f"{ENV_PREFIX}KEY", required=True, show_envvar=True,
              help="The replica key of the centre (prefer the environment variable).")
@click.option("--follow", is_flag=True, help="Keep syncing every IRONTRACE_REPLICA_SYNC_SECONDS; the link "
                                              "going down is waited out, a refused key stops it.")
def sync(key: str, follow: bool) -> None:
    """Forward the checks answered here to the centre, then apply the changes since the last sync."""
    services = _embedded_services(create=False)
    interval = load_settings()["REPLICA_SYNC_SECONDS"]
    try:
        while True:
            try:
                _report(_sync(services, key))
            except CentreUnreachable as exc:
                if not follow:
                    raise click.ClickException(exc.detail) from exc
                click.echo(f"{exc.detail} Answering from the copy; retrying in {interval:g} s.", err=True)
            if not follow:
                return
            time.sleep(interval)
    finally:
        services.close()


def _sync(services: Services, key: str) -> SyncSummary:
    store = services.engine.replica
    state = store.state() if store is not None else None
    if store is None or state is None:
        raise click.ClickException("This registry is not a replica: run `irontrace replica init --from URL` first.")
    replica = Replica(store, services.audit, Centre(state["centre"], key), load_settings()["REPLICA_PAGE_SIZE"])
    try:
        return replica.sync()
    except CentreRefused as exc:
        raise click.ClickException(exc.detail) from exc


def _embedded_services(create: bool) -> Services:
    if load_settings()["ES_URL"]:
        raise click.ClickException("A replica is an embedded registry: unset IRONTRACE_ES_URL and set IRONTRACE_DB.")
    return local_services(create=create)


def _report(summary: SyncSummary) -> None:
    click.echo(f"forwarded {summary.forwarded} checks; applied {summary.upserts} reports and "
               f"{summary.removals} removals in {summary.pages} pages; registry as of {summary.as_of}")


COMMANDS = [replica]
