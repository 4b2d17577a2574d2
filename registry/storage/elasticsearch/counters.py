"""Counters in Elasticsearch: one small document per name in ``{prefix}-counters``.

An update is a real-time ``get`` and a write conditional on what was read
(``if_seq_no``, or ``op_type=create`` for a new name), retried when another
process wrote in between; so every app process on every host counts together.
The index keeps its translog without an fsync per write: counters matter for a
day at most.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.errors import StorageUnavailable
from registry.records import Document
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, read_position

UPDATE_ATTEMPTS = 20  # writers of one name racing; each loss re-reads
PURGE_PAGE = 1000


class ElasticsearchCounters:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def get(self, name: str, now: float) -> Document | None:
        with self.cluster.session() as es:
            found = self._read(es, name, now)
        return found["_source"]["document"] if found else None

    def update(self, name: str, change: Callable[[Document | None], Document], now: float,
               expires: float) -> Document:
        with self.cluster.session() as es:
            for _ in range(UPDATE_ATTEMPTS):
                current = self._read(es, name, now, live_only=False)
                live = current is not None and current["_source"]["expires"] > now
                document = change(current["_source"]["document"] if live and current else None)
                fields = {"expires": expires, "document": document}
                try:
                    if current is None:
                        es.create(index=self.cluster.counters_alias, id=name, document=fields, require_alias=True)
                    else:
                        es.index(index=self.cluster.counters_alias, id=name, document=fields, require_alias=True,
                                 if_seq_no=current["_seq_no"], if_primary_term=current["_primary_term"])
                except ConflictError:
                    continue
                return document
        raise StorageUnavailable(f"The counter {name} is busy: other writers changed it on every attempt; retry.")

    def purge(self, now: float) -> int:
        purged = 0
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.counters_alias)
            while True:
                hits = es.search(index=self.cluster.counters_alias, query={"range": {"expires": {"lte": now}}},
                                 size=PURGE_PAGE, source=False, seq_no_primary_term=True,
                                 track_total_hits=False)["hits"]["hits"]
                if not hits:
                    return purged
                operations = [{"delete": {"_index": self.cluster.counters_alias, "_id": h["_id"],
                                          **read_position(h)}} for h in hits]
                purged += sum(1 for item in bulk_items(es, operations, refresh=True) if item["status"] < 300)
                if len(hits) < PURGE_PAGE:
                    return purged

    def _read(self, es: Elasticsearch, name: str, now: float, live_only: bool = True) -> dict[str, Any] | None:
        """The stored document with its position (real time); expired ones only when asked."""
        try:
            found: dict[str, Any] = es.get(index=self.cluster.counters_alias, id=name).body
        except NotFoundError:
            return None
        if live_only and found["_source"]["expires"] <= now:
            return None
        return found
