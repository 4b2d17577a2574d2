"""Storage engines, chosen once, at start-up, by configuration.

``open_engine`` returns an ``Engine`` (``registry.storage.interfaces``): one
object per capability the services use.  To add an engine, write a package
beside ``sqlite/`` and ``elasticsearch/`` implementing those interfaces and
add it to ``open_engine``; the conformance suite (every test using the
``app`` fixture, see ``tests/conftest.py``'s ``BACKENDS``) then holds it to
the same behaviour as the others.
"""

from __future__ import annotations

from typing import Any

from registry.storage.interfaces import Engine


def open_engine(settings: dict[str, Any]) -> Engine:
    """Elasticsearch when ``ES_URL`` is set, else the embedded SQLite file ``DB``."""
    engine: Engine = _engine_module(settings).open_from_settings(settings)
    return engine


def registry_exists(settings: dict[str, Any]) -> bool:
    """Whether the configured engine already holds a registry (opening one creates it if not)."""
    return _engine_module(settings).registry_exists(settings)


def registry_location(settings: dict[str, Any]) -> str:
    """Where the configured registry lives, for messages: a file, or a cluster and index prefix."""
    return _engine_module(settings).registry_location(settings)


def _engine_module(settings: dict[str, Any]) -> Any:
    if settings.get("ES_URL"):
        from registry.storage import elasticsearch

        return elasticsearch
    from registry.storage import sqlite

    return sqlite
