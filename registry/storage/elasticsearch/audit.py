"""The audit log in Elasticsearch: entry ``n`` is the document with ``_id`` n.

Created with ``op_type=create``, so of two appenders (in any process) racing
for a position the index lets exactly one win; the other walks forward to the
new head and tries the next position.  Appends never wait for a refresh; a
reader asking first refreshes, so it sees every entry appended so far.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Iterator

from elasticsearch import ConflictError, Elasticsearch

from registry.audit_chain import GENESIS_HASH, seal
from registry.errors import StorageUnavailable
from registry.records import AuditEntry, AuditFilter, Document, Page
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.elasticsearch.cluster import Cluster

PAGE_SIZE = 1000  # entries per search_after page when walking the whole log
AUDIT_APPEND_ATTEMPTS = 20  # appenders racing for the same position; each loss moves to the new head
AUDIT_PROBE_BATCH = 50  # entries fetched at once when walking forward to the newest one


class ElasticsearchAuditLog:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None  # (seq, hash) of the newest entry seen here

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Entry ``n`` is the document with ``_id`` n, created with ``op_type=create``: of two
        appenders (in any process) racing for a position, the index lets exactly one win; the
        other walks forward to the new head and tries the next position."""
        with self.cluster.session() as es, self._lock:
            seq, prev_hash = self._head or self._newest_audit_entry(es)
            for _ in range(AUDIT_APPEND_ATTEMPTS):
                sealed = seal(entry, seq + 1, prev_hash)
                try:
                    es.create(index=self.cluster.audit_alias, id=str(seq + 1), document=_audit_fields(sealed),
                              require_alias=True)
                except ConflictError:
                    seq, prev_hash = self._newest_audit_entry(es, known=(seq, prev_hash))
                    continue
                self._head = (seq + 1, sealed["hash"])
                return sealed
        raise StorageUnavailable("The audit log is busy: other writers took every position tried; retry.")

    def _newest_audit_entry(self, es: Elasticsearch, known: tuple[int, str] = (0, GENESIS_HASH)) -> tuple[int, str]:
        """(seq, hash) of the newest entry: search (which may lag a refresh behind), then walk
        forward with real-time gets, which never lag."""
        hits = es.search(index=self.cluster.audit_alias, sort=[{"seq": "desc"}], size=1, source_includes=["entry.hash"],
                         track_total_hits=False)["hits"]["hits"]
        seq, head_hash = known
        if hits and hits[0]["_source"]["entry"]["hash"] and int(hits[0]["_id"]) > seq:
            seq, head_hash = int(hits[0]["_id"]), hits[0]["_source"]["entry"]["hash"]
        while True:
            ids = [str(n) for n in range(seq + 1, seq + 1 + AUDIT_PROBE_BATCH)]
            found = es.mget(index=self.cluster.audit_alias, ids=ids, source=["entry.hash"])["docs"]
            for doc in found:
                if not doc.get("found"):
                    return seq, head_hash
                seq, head_hash = int(doc["_id"]), doc["_source"]["entry"]["hash"]

    def iter_stored(self) -> Iterator[tuple[int, AuditEntry]]:
        after = None
        while True:
            hits = self._audit_page({"match_all": {}}, PAGE_SIZE, after, refresh=after is None)
            for hit in hits:
                yield int(hit["_id"]), hit["_source"]["entry"]
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def list(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page[AuditEntry]:
        conditions: list[Document] = [
            {"term": {name: value}}
            for name, value in (("action", filters.action), ("principal", filters.principal),
                                ("subject", filters.subject))
            if value is not None
        ]
        period = {op: value for op, value in (("gte", filters.since), ("lt", filters.until)) if value}
        if period:
            conditions.append({"range": {"at": period}})
        after = [decode_cursor(cursor, int)] if cursor else None
        hits = self._audit_page({"bool": {"filter": conditions}}, limit + 1, after, refresh=cursor is None)
        more = len(hits) > limit
        hits = hits[:limit]
        return Page([hit["_source"]["entry"] for hit in hits], encode_cursor(hits[-1]["sort"][0]) if more else None)

    def _audit_page(self, query: Document, size: int, after: builtins.list[int] | None, refresh: bool
                    ) -> builtins.list[Document]:
        """Entries by ``seq``; a reader asking first refreshes, so it sees every entry appended
        so far (appends themselves never wait for a refresh)."""
        with self.cluster.session() as es:
            if refresh:
                es.indices.refresh(index=self.cluster.audit_alias)
            return es.search(index=self.cluster.audit_alias, query=query, sort=[{"seq": "asc"}], size=size,
                             search_after=after, source_includes=["entry"], track_total_hits=False)["hits"]["hits"]


def _audit_fields(entry: AuditEntry) -> Document:
    return {"seq": entry["seq"], "at": entry["at"], "action": entry["action"],
            "principal": entry["actor"]["principal"], "subject": entry["subject"], "entry": entry}
