"""``irontrace serve``, ``worker``, ``simulator`` and ``receiver`` (of webhooks): long-running processes."""

from __future__ import annotations

import logging
import os
import re
import signal
import sys
from pathlib import Path

import click

from integrations.simulator import DEFAULT_API_KEY as SIMULATOR_API_KEY
from integrations.simulator import DEFAULT_PORT as SIMULATOR_PORT
from integrations.webhook_receiver import receiver
from registry.cli.common import local_services
from registry.config import load_settings
from registry.services.bulk_worker import BulkWorker

GUNICORN_CONFIG = "registry.gunicorn_config"
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@click.command()
@click.option("--host", help="Address to listen on (default: from IRONTRACE_BIND, else 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (default: from IRONTRACE_BIND, else 8000).")
@click.option("--dev", is_flag=True, help="Flask's development server, one process: for development only.")
def serve(host: str | None, port: int | None, dev: bool) -> None:
    """Serve the API with gunicorn: as many workers as IRONTRACE_WORKERS, else as CPUs this container may use."""
    default_host, _, default_port = load_settings()["BIND"].rpartition(":")
    if dev:
        from registry import create_app

        _plain_logs_unless_terminal()
        create_app().run(host=host or default_host, port=port or int(default_port), threaded=True)
        return
    # Without --host or --port, gunicorn's settings read IRONTRACE_BIND (a unix: socket too).
    bind = ["--bind", f"{host or default_host}:{port or default_port}"] if host or port else []
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "--config", f"python:{GUNICORN_CONFIG}", *bind,
                              "registry:create_app()"])


def _plain_logs_unless_terminal() -> None:
    """The development server colours its request log with ANSI codes; a log file or a
    collector gets plain text.  A handler of our own keeps werkzeug from adding its own."""
    if sys.stderr.isatty():
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_PlainFormatter())
    werkzeug_log = logging.getLogger("werkzeug")
    werkzeug_log.setLevel(logging.INFO)
    werkzeug_log.addHandler(handler)


class _PlainFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return ANSI_ESCAPE.sub("", super().format(record))


@click.command()
@click.option("--processes", default=0, show_default=True,
              help="Check batches in this many child processes (up to one per core); 0: in this one.")
def worker(processes: int) -> None:
    """Run bulk-check jobs until stopped (SIGTERM or Ctrl-C); any number may run at once."""
    services = local_services()
    bulk_worker = BulkWorker(services.bulk, processes, load_settings())
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
