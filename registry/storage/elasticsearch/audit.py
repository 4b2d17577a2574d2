"""The audit log in Elasticsearch: entry ``n`` is the document with ``_id`` n.

Created with ``op_type=create``, so of two appenders (in any process) racing
for a position the index lets exactly one win; the other walks forward to the
new head and tries the next position.  Appends never wait for a refresh; a
reader asking first refreshes, so it sees every entry appended so far.

Beside each entry sit copies of the fields filters read
(``audit_chain.indexed_fields``), which ``verify`` holds to the sealed entry,
and the outbox intent it completed, if any (``outbox``), so that recovery
never appends an entry twice.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.audit_chain import GENESIS_HASH, indexed_fields, readable, seal
from registry.errors import StorageUnavailable
from registry.records import AuditEntry, AuditFilter, Document, Page, StoredAuditEntry
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.elasticsearch.cluster import Cluster, retried_create

PAGE_SIZE = 1000  # entries per search_after page when walking the whole log
AUDIT_APPEND_ATTEMPTS = 20  # appenders racing for the same position; each loss moves to the new head
AUDIT_PROBE_BATCH = 50  # entries fetched at once when walking forward to the newest one
INDEXED = ("seq", "at", "action", "principal", "subject")


class PendingEntries(Protocol):
    """Entries of writes that are stored but not yet in the log (``outbox.Outbox``)."""

    def complete_pending(self, now: float) -> int: ...

    def pending(self) -> int: ...


class ElasticsearchAuditLog:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster
        self.outbox: PendingEntries | None = None  # set by the engine: the intents that recovery completes
        self._lock = threading.Lock()
        self._head: tuple[int, str] | None = None  # (seq, hash) of the newest entry seen here

    def append(self, entry: AuditEntry, intent: str | None = None) -> AuditEntry:
        """Entry ``n`` is the document with ``_id`` n, created with ``op_type=create``: of two
        appenders (in any process) racing for a position, the index lets exactly one win; the
        other walks forward to the new head and tries the next position.  ``intent``: the outbox
        intent this entry completes."""
        with self.cluster.session() as es, self._lock:
            seq, prev_hash = self._head or self._newest(es)
            for _ in range(AUDIT_APPEND_ATTEMPTS):
                sealed = seal(entry, seq + 1, prev_hash)
                try:
                    es.create(index=self.cluster.audit_alias, id=str(seq + 1),
                              document=_audit_fields(sealed, intent), require_alias=True)
                except ConflictError:
                    if not retried_create(es, self.cluster.audit_alias, str(seq + 1), _sealed_as(sealed)):
                        seq, prev_hash = self._newest(es, known=(seq, prev_hash))
                        continue
                self._head = (seq + 1, sealed["hash"])
                return sealed
        raise StorageUnavailable("The audit log is busy: other writers took every position tried; retry.")

    def head(self) -> tuple[int, str]:
        with self.cluster.session() as es:
            return self._newest(es)

    def hash_at(self, seq: int) -> str | None:
        with self.cluster.session() as es:
            try:
                source = es.get(index=self.cluster.audit_alias, id=str(seq), source=["entry"])["_source"]
            except NotFoundError:
                return None
        return readable(seq, source.get("entry")).get("hash")

    def _newest(self, es: Elasticsearch, known: tuple[int, str] = (0, GENESIS_HASH)) -> tuple[int, str]:
        """(seq, hash) of the newest entry: search (which may lag a refresh behind), then walk
        forward with real-time gets, which never lag."""
        hits = es.search(index=self.cluster.audit_alias, sort=[{"seq": "desc"}], size=1, source_includes=["entry.hash"],
                         track_total_hits=False)["hits"]["hits"]
        seq, head_hash = known
        if hits and hits[0]["_id"].isdigit() and int(hits[0]["_id"]) > seq:
            seq, head_hash = int(hits[0]["_id"]), _hash_in(hits[0]["_source"])
        while True:
            ids = [str(n) for n in range(seq + 1, seq + 1 + AUDIT_PROBE_BATCH)]
            found = es.mget(index=self.cluster.audit_alias, ids=ids, source=["entry.hash"])["docs"]
            for doc in found:
                if not doc.get("found"):
                    return seq, head_hash
                seq, head_hash = int(doc["_id"]), _hash_in(doc["_source"])

    def iter_stored(self) -> Iterator[StoredAuditEntry]:
        after = None
        while True:
            hits = self._audit_page({"match_all": {}}, PAGE_SIZE, after, refresh=after is None)
            for hit in hits:
                source = hit["_source"]
                yield StoredAuditEntry(_position(hit), source.get("entry"), {k: source.get(k) for k in INDEXED})
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
        return Page([readable(_position(hit), hit["_source"].get("entry")) for hit in hits],
                    encode_cursor(hits[-1]["sort"][0]) if more else None)

    def completed_intents(self, intents: Sequence[str]) -> set[str]:
        """Which of these outbox intents already have their entry in the log."""
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.audit_alias)
            hits = es.search(index=self.cluster.audit_alias, query={"terms": {"intent": list(intents)}},
                             size=len(intents), source_includes=["intent"], track_total_hits=False)["hits"]["hits"]
        return {hit["_source"]["intent"] for hit in hits}

    def complete_pending(self, now: float) -> int:
        return self.outbox.complete_pending(now) if self.outbox else 0

    def pending(self) -> int:
        return self.outbox.pending() if self.outbox else 0

    def _audit_page(self, query: Document, size: int, after: builtins.list[int] | None, refresh: bool
                    ) -> builtins.list[Document]:
        """Entries by ``seq``; a reader asking first refreshes, so it sees every entry appended
        so far (appends themselves never wait for a refresh)."""
        with self.cluster.session() as es:
            if refresh:
                es.indices.refresh(index=self.cluster.audit_alias)
            return es.search(index=self.cluster.audit_alias, query=query, sort=[{"seq": "asc"}], size=size,
                             search_after=after, source_includes=[*INDEXED, "entry"],
                             track_total_hits=False)["hits"]["hits"]


def _audit_fields(entry: AuditEntry, intent: str | None) -> Document:
    return {**indexed_fields(entry), **({"intent": intent} if intent else {}), "entry": entry}


def _position(hit: Document) -> int:
    """Where the entry is kept: its document id (an id that is not a number is out of place)."""
    doc_id: str = hit["_id"]
    return int(doc_id) if doc_id.isdigit() else 0


def _sealed_as(entry: AuditEntry) -> Callable[[Document], bool]:
    """Whether a stored entry is ``entry`` (its hash covers its position, time and content)."""
    return lambda source: _hash_in(source) == entry["hash"]


def _hash_in(source: Document) -> str:
    """The hash the next entry links to; an entry that cannot be read has none (``verify`` reports it)."""
    entry = source.get("entry")
    digest = entry.get("hash") if isinstance(entry, dict) else None
    return digest if isinstance(digest, str) else GENESIS_HASH
