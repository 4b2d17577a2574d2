"""Records kept whole under a unique name, read in real time (``get``): API keys and people's accounts."""

from __future__ import annotations

from typing import Any, Generic, TypeVar, cast

from elasticsearch import ConflictError, NotFoundError

from registry.errors import Conflict, NotFound
from registry.records import Document, KeyRecord, UserRecord
from registry.storage.elasticsearch.cluster import Cluster

MAX_LISTED = 10000
R = TypeVar("R", KeyRecord, UserRecord)


class DocumentIndex(Generic[R]):
    """One index behind ``alias`` with the record's name as document id; ``noun`` names a record in errors."""

    def __init__(self, cluster: Cluster, alias: str, id_field: str, noun: str) -> None:
        self.cluster = cluster
        self.alias, self.id_field, self.noun = alias, id_field, noun

    def create(self, record: R) -> None:
        with self.cluster.session() as es:
            try:
                es.create(index=self.alias, id=self._id(record), document=self._fields(record),
                          refresh="wait_for", require_alias=True)
            except ConflictError as exc:
                raise Conflict(f"A {self.noun} {self._id(record)} exists.") from exc

    def get(self, name: str) -> R:
        with self.cluster.session() as es:
            try:
                return cast(R, es.get(index=self.alias, id=name)["_source"]["document"])
            except NotFoundError as exc:
                raise NotFound(f"No {self.noun} {name}.") from exc

    def replace(self, record: R) -> None:
        with self.cluster.session() as es:
            es.index(index=self.alias, id=self._id(record), document=self._fields(record),
                     refresh="wait_for", require_alias=True)

    def list(self) -> list[R]:
        with self.cluster.session() as es:
            hits = es.search(index=self.alias, sort=[{"created_at": "asc"}, {self.id_field: "asc"}],
                             size=MAX_LISTED, source_includes=["document"])["hits"]["hits"]
        return [cast(R, hit["_source"]["document"]) for hit in hits]

    def _id(self, record: R) -> Any:
        return cast(dict[str, Any], record)[self.id_field]

    def _fields(self, record: R) -> Document:
        return {self.id_field: self._id(record), "created_at": record["created_at"], "document": record}


def key_index(cluster: Cluster) -> DocumentIndex[KeyRecord]:
    """API key records."""
    return DocumentIndex(cluster, cluster.keys_alias, "key_id", "key with id")


def user_index(cluster: Cluster) -> DocumentIndex[UserRecord]:
    """People's accounts for the web app."""
    return DocumentIndex(cluster, cluster.users_alias, "username", "user")
