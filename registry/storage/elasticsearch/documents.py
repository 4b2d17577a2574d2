"""Records kept whole under a unique name, read in real time (``get``): API keys and people's accounts,
each change with its audit entry through the engine's ``Outbox`` (under ``key:<id>``, ``user:<name>``)."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.errors import Conflict, NotFound
from registry.records import AuditEntry, Document, KeyRecord, UserRecord
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.outbox import Outbox, digest

MAX_LISTED = 10000
R = TypeVar("R", KeyRecord, UserRecord)


class DocumentIndex(Generic[R]):
    """One index behind ``alias`` with the record's name as document id; ``noun`` names a record in
    errors, ``kind`` its writes in the outbox."""

    def __init__(self, cluster: Cluster, outbox: Outbox, alias: str, id_field: str, noun: str, kind: str) -> None:
        self.cluster, self.outbox = cluster, outbox
        self.alias, self.id_field, self.noun, self.kind = alias, id_field, noun, kind
        outbox.register(kind, self._stored)

    def create(self, record: R, audit: AuditEntry) -> None:
        with self.outbox.recorded(self._slot(record), self.kind, audit, self._write(record)) as pending, \
                self.cluster.session() as es:
            try:
                es.create(index=self.alias, id=self._id(record), document=self._fields(record),
                          refresh="wait_for", require_alias=True)
            except ConflictError as exc:
                raise Conflict(f"A {self.noun} {self._id(record)} exists.") from exc
            pending.written = True

    def get(self, name: str) -> R:
        with self.cluster.session() as es:
            try:
                return cast(R, es.get(index=self.alias, id=name)["_source"]["document"])
            except NotFoundError as exc:
                raise NotFound(f"No {self.noun} {name}.") from exc

    def replace(self, record: R, audit: AuditEntry) -> None:
        with self.outbox.recorded(self._slot(record), self.kind, audit, self._write(record)) as pending, \
                self.cluster.session() as es:
            es.index(index=self.alias, id=self._id(record), document=self._fields(record),
                     refresh="wait_for", require_alias=True)
            pending.written = True

    def list(self) -> list[R]:
        with self.cluster.session() as es:
            hits = es.search(index=self.alias, sort=[{"created_at": "asc"}, {self.id_field: "asc"}],
                             size=MAX_LISTED, source_includes=["document"])["hits"]["hits"]
        return [cast(R, hit["_source"]["document"]) for hit in hits]

    def _id(self, record: R) -> Any:
        return cast(dict[str, Any], record)[self.id_field]

    def _slot(self, record: R) -> str:
        return f"{self.kind}:{self._id(record)}"

    def _write(self, record: R) -> Document:
        """What an intent says a write stores: which record, with what content."""
        return {"name": self._id(record), "digest": digest(record)}

    def _stored(self, es: Elasticsearch, write: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the record is stored as written (a real-time read)."""
        try:
            stored = es.get(index=self.alias, id=write["name"])["_source"]["document"]
        except NotFoundError:
            return None
        return entry if digest(stored) == write["digest"] else None

    def _fields(self, record: R) -> Document:
        return {self.id_field: self._id(record), "created_at": record["created_at"], "document": record}


def key_index(cluster: Cluster, outbox: Outbox) -> DocumentIndex[KeyRecord]:
    """API key records."""
    return DocumentIndex(cluster, outbox, cluster.keys_alias, "key_id", "key with id", "key")


def user_index(cluster: Cluster, outbox: Outbox) -> DocumentIndex[UserRecord]:
    """People's accounts for the web app."""
    return DocumentIndex(cluster, outbox, cluster.users_alias, "username", "user", "user")
