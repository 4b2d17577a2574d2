"""Storage engines, chosen by configuration at start-up."""

from __future__ import annotations

from typing import Any

from registry.storage.base import Storage


def open_storage(settings: dict[str, Any]) -> Storage:
    """Elasticsearch when ``ES_URL`` is set, else the embedded SQLite file."""
    if settings.get("ES_URL"):
        from registry.storage.elasticsearch import ElasticsearchStorage

        return ElasticsearchStorage.from_settings(settings)
    from registry.storage.sqlite import SQLiteStorage

    return SQLiteStorage(settings["DB"], cache_mb=settings["SQLITE_CACHE_MB"])
