"""API key records in Elasticsearch: read in real time (``get``) on every request; every change
with its audit entry through the engine's ``Outbox``."""

from __future__ import annotations

from typing import cast

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.errors import Conflict, NotFound
from registry.records import AuditEntry, Document, KeyRecord
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.outbox import Outbox, digest

MAX_KEYS_LISTED = 10000


class ElasticsearchKeyStore:
    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        outbox.register("key", self._stored)

    def create(self, record: KeyRecord, audit: AuditEntry) -> None:
        with self.outbox.recorded(f"key:{record['key_id']}", "key", audit, _write(record)) as pending, \
                self.cluster.session() as es:
            try:
                es.create(index=self.cluster.keys_alias, id=record["key_id"], document=_key_fields(record),
                          refresh="wait_for", require_alias=True)
            except ConflictError as exc:
                raise Conflict(f"A key with id {record['key_id']} exists.") from exc
            pending.written = True

    def get(self, key_id: str) -> KeyRecord:
        with self.cluster.session() as es:
            try:
                return cast(KeyRecord, es.get(index=self.cluster.keys_alias, id=key_id)["_source"]["document"])
            except NotFoundError as exc:
                raise NotFound(f"No key with id {key_id}.") from exc

    def replace(self, record: KeyRecord, audit: AuditEntry) -> None:
        with self.outbox.recorded(f"key:{record['key_id']}", "key", audit, _write(record)) as pending, \
                self.cluster.session() as es:
            es.index(index=self.cluster.keys_alias, id=record["key_id"], document=_key_fields(record),
                     refresh="wait_for", require_alias=True)
            pending.written = True

    def list(self) -> list[KeyRecord]:
        with self.cluster.session() as es:
            hits = es.search(index=self.cluster.keys_alias, sort=[{"created_at": "asc"}, {"key_id": "asc"}],
                             size=MAX_KEYS_LISTED, source_includes=["document"])["hits"]["hits"]
        return [cast(KeyRecord, hit["_source"]["document"]) for hit in hits]


    def _stored(self, es: Elasticsearch, write: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the key record is stored as written (a real-time read)."""
        try:
            stored = es.get(index=self.cluster.keys_alias, id=write["key_id"])["_source"]["document"]
        except NotFoundError:
            return None
        return entry if digest(stored) == write["digest"] else None


def _write(record: KeyRecord) -> Document:
    return {"key_id": record["key_id"], "digest": digest(record)}


def _key_fields(record: KeyRecord) -> Document:
    return {"key_id": record["key_id"], "created_at": record["created_at"], "document": record}
