"""What every command shares: the services over the configured engine, and clean failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from registry.config import load_settings
from registry.errors import IronTraceError
from registry.services import Services, open_services

T = TypeVar("T")


def local_services(with_sources: bool = False) -> Services:
    """The services over the engine the environment names (``IRONTRACE_DB`` or ``IRONTRACE_ES_URL``)."""
    return open_services(load_settings(), with_sources)


def or_fail(action: Callable[[], T]) -> T:
    """Run a service call; a domain error becomes a clean CLI failure, not a traceback."""
    try:
        return action()
    except IronTraceError as exc:
        raise click.ClickException(exc.detail) from exc
