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
    if settings.get("ES_URL"):
        from registry.storage import elasticsearch

        return elasticsearch.open_from_settings(settings)
    from registry.storage import sqlite

    return sqlite.open_from_settings(settings)
