"""API key records in Elasticsearch: read in real time (``get``) on every request."""

from __future__ import annotations

from typing import cast

from elasticsearch import ConflictError, NotFoundError

from registry.errors import Conflict, NotFound
from registry.records import Document, KeyRecord
from registry.storage.elasticsearch.cluster import Cluster

MAX_KEYS_LISTED = 10000


class ElasticsearchKeyStore:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def create(self, record: KeyRecord) -> None:
        with self.cluster.session() as es:
            try:
                es.create(index=self.cluster.keys_alias, id=record["key_id"], document=_key_fields(record),
                          refresh="wait_for", require_alias=True)
            except ConflictError as exc:
                raise Conflict(f"A key with id {record['key_id']} exists.") from exc

    def get(self, key_id: str) -> KeyRecord:
        with self.cluster.session() as es:
            try:
                return cast(KeyRecord, es.get(index=self.cluster.keys_alias, id=key_id)["_source"]["document"])
            except NotFoundError as exc:
                raise NotFound(f"No key with id {key_id}.") from exc

    def replace(self, record: KeyRecord) -> None:
        with self.cluster.session() as es:
            es.index(index=self.cluster.keys_alias, id=record["key_id"], document=_key_fields(record),
                     refresh="wait_for", require_alias=True)

    def list(self) -> list[KeyRecord]:
        with self.cluster.session() as es:
            hits = es.search(index=self.cluster.keys_alias, sort=[{"created_at": "asc"}, {"key_id": "asc"}],
                             size=MAX_KEYS_LISTED, source_includes=["document"])["hits"]["hits"]
        return [cast(KeyRecord, hit["_source"]["document"]) for hit in hits]


def _key_fields(record: KeyRecord) -> Document:
    return {"key_id": record["key_id"], "created_at": record["created_at"], "document": record}
