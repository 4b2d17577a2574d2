"""``irontrace serve``, ``worker``, ``simulator`` and ``receiver`` (of webhooks): long-running processes."""

from __future__ import annotations

import signal
from pathlib import Path

import click

from integrations.simulator import DEFAULT_API_KEY as SIMULATOR_API_KEY
from integrations.simulator import DEFAULT_PORT as SIMULATOR_PORT
from integrations.webhook_receiver import receiver
from registry.config import load_settings
from registry.services import open_services
from registry.services.bulk_worker import BulkWorker


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the development server (use gunicorn in production, see README)."""
    from registry import create_app

    create_app().run(host=host, port=port, threaded=True)


@click.command()
@click.option("--processes", default=0, show_default=True,
              help="Check batches in this many child processes (up to one per core); 0: in this one.")
def worker(processes: int) -> None:
    """Run bulk-check jobs until stopped (SIGTERM or Ctrl-C); any number may run at once."""
    settings = load_settings()
    services = open_services(settings)
    bulk_worker = BulkWorker(services.bulk, processes, settings)
    signal.signal(signal.SIGTERM, lambda *_: bulk_worker.stopping.set())
    click.echo(f"bulk-check worker {bulk_worker.owner} on {services.engine.name}", err=True)
    services.maintenance.start()
    try:
        bulk_worker.run()
    except KeyboardInterrupt:
        pass
    finally:
        bulk_worker.stop()
        services.close()


@click.command("simulator")
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



COMMANDS = [serve, worker, simulator, receiver]
