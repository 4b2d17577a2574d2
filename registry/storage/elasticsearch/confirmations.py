"""Confirmation requests on Elasticsearch: each change through the engine's ``Outbox`` (under
``confirmation:<id>``) with its events' deliveries in the same request."""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, cast

from elasticsearch import Elasticsearch, NotFoundError

from registry.errors import NotFound
from registry.records import AuditEntry, Confirmation, ConfirmationFilter, Delivery, Document, Page
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.deliveries import write_with_deliveries
from registry.storage.elasticsearch.outbox import Outbox, Pending


class ElasticsearchConfirmationStore:
    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        self.alias = cluster.confirmations_alias
        outbox.register("confirmation", self._stored)

    def create(self, request: Confirmation, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        operation = {"create": {"_index": self.alias, "_id": request["id"]}}
        with self._recorded(request, audit) as pending, self.cluster.session() as es:
            # Listed at once: the owning agency sees a new request on its next look.
            write_with_deliveries(es, self.cluster, [operation, self._fields(request, self.cluster.next_seq())],
                                  deliveries, refresh="wait_for")
            pending.written = True

    def get(self, request_id: str) -> Confirmation:
        with self.cluster.session() as es:
            return cast(Confirmation, self._read(es, request_id)["_source"]["document"])

    def replace(self, request: Confirmation, expected_version: int, audit: AuditEntry,
                deliveries: Sequence[Delivery]) -> bool:
        """The outbox's slot for the request keeps every other writer out while this one stands, so
        the version read inside it is the version overwritten: a compare-and-set with the events."""
        with self._recorded(request, audit) as pending, self.cluster.session() as es:
            current = self._read(es, request["id"])
            if current["_source"]["document"]["version"] != expected_version:
                pending.entry = None
                return False
            operation = {"index": {"_index": self.alias, "_id": request["id"]}}
            write_with_deliveries(es, self.cluster, [operation, self._fields(request, current["_source"]["seq"])],
                                  deliveries, refresh="wait_for")
            pending.written = True
        return True

    def _recorded(self, request: Confirmation, audit: AuditEntry) -> AbstractContextManager[Pending]:
        probe = {"id": request["id"], "version": request["version"]}
        return self.outbox.recorded(f"confirmation:{request['id']}", "confirmation", audit, probe)

    def list(self, filters: ConfirmationFilter, limit: int, cursor: str | None) -> Page[Confirmation]:
        with self.cluster.session() as es:
            hits = es.search(index=self.alias, query={"bool": {"filter": _conditions(filters)}},
                             sort=[{"seq": "desc"}], size=limit + 1,
                             search_after=[decode_cursor(cursor, int)] if cursor else None,
                             source_includes=["document"], track_total_hits=False)["hits"]["hits"]
        more = len(hits) > limit
        hits = hits[:limit]
        return Page([cast(Confirmation, hit["_source"]["document"]) for hit in hits],
                    encode_cursor(hits[-1]["sort"][0]) if more else None)

    def _read(self, es: Elasticsearch, request_id: str) -> Document:
        try:
            return es.get(index=self.alias, id=request_id).body
        except NotFoundError as exc:
            raise NotFound(f"No confirmation request with id {request_id}.") from exc

    @staticmethod
    def _fields(request: Confirmation, seq: int) -> Document:
        return {"agency_key": request["agency_key"], "checker": request["checker"]["principal"],
                "status": request["status"], "due": request["due"], "seq": seq, "document": request}

    def _stored(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the request is stored at the version written, or a later one."""
        try:
            stored = es.get(index=self.alias, id=probe["id"])["_source"]["document"]
        except NotFoundError:
            return None
        return entry if stored["version"] >= probe["version"] else None


def _conditions(filters: ConfirmationFilter) -> builtins.list[Document]:
    conditions: builtins.list[Document] = []
    owners = [{"term": {field: value}} for field, value in (("agency_key", filters.agency_key),
                                                              ("checker", filters.checker)) if value is not None]
    if owners:
        conditions.append({"bool": {"should": owners, "minimum_should_match": 1}})
    if filters.statuses:
        conditions.append({"terms": {"status": list(filters.statuses)}})
    due: dict[str, Any] = {}
    if filters.due_before is not None:
        due["lt"] = filters.due_before
    if filters.due_from is not None:
        due["gte"] = filters.due_from
    if due:
        conditions.append({"range": {"due": due}})
    return conditions
