"""Webhooks and the outbox of their deliveries on Elasticsearch.

A write that raises events sends its deliveries in the same bulk request as
itself (``write_with_deliveries``): the cluster carries out the whole request
whatever becomes of the process that sent it, so a ``kill -9`` of the writer
after sending loses neither.  Deliveries are durable writes (the index keeps
the default translog durability).  Taking a delivery to send is a
compare-and-set on a real-time read, so two processes never take the same
one for the same attempt; the deliverer names the deliveries it was just
handed (real-time ``mget``) and searches for the rest, which may lag a
refresh behind.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.errors import NotFound
from registry.records import AuditEntry, Delivery, Document, Page, Webhook
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, read_position, refusal
from registry.storage.elasticsearch.outbox import Outbox, Probe, digest

PENDING = "pending"
MAX_LISTED = 10_000
NEWEST_FIRST = [{"seq": "desc"}]


def delivery_operations(cluster: Cluster, deliveries: Sequence[Delivery]) -> list[Document]:
    """Bulk operations creating ``deliveries``, for the request of the write that raised them."""
    operations: list[Document] = []
    for delivery in deliveries:
        operations += [{"create": {"_index": cluster.deliveries_alias, "_id": delivery["id"]}},
                       _delivery_fields(delivery, cluster.next_seq())]
    return operations


def write_with_deliveries(es: Elasticsearch, cluster: Cluster, write: list[Document], deliveries: Sequence[Delivery],
                          refresh: str | bool = False) -> Document:
    """One bulk request: ``write`` (an operation and its document) and the deliveries; the write's
    result.  A refused item raises ``StorageUnavailable`` (or ``StorageFull``)."""
    return write_operations(es, [*write, *delivery_operations(cluster, deliveries)], refresh)


def write_operations(es: Elasticsearch, operations: list[Document], refresh: str | bool = False) -> Document:
    """One bulk request of ``operations``; the first one's result.  A refused item raises
    ``StorageUnavailable`` (or ``StorageFull``).

    The documents created here have fresh random ids (checks, deliveries, confirmation
    requests), so a ``create`` that finds its id taken (409) was carried out by an earlier
    attempt of this request, sent again after its node went away: it counts as written."""
    items = bulk_items(es, operations, require_alias=True, refresh=refresh)
    failed = [item for item, action in zip(items, action_lines(operations))
              if item["status"] >= 300 and not (item["status"] == 409 and "create" in action)]
    if failed:
        raise refusal(failed, "Elasticsearch refused part of the write and its events.")
    return items[0] if items else {}


def action_lines(operations: list[Document]) -> Iterator[Document]:
    """The action line of each operation of a bulk body (each but ``delete`` is followed by its document)."""
    lines = iter(operations)
    for action in lines:
        yield action
        if "delete" not in action:
            next(lines)


def _delivery_fields(delivery: Delivery, seq: int) -> Document:
    return {"webhook_id": delivery["webhook_id"], "status": delivery["status"],
            "next_attempt": delivery["next_attempt"], "seq": seq, "document": delivery}


class ElasticsearchWebhookStore:
    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        self.alias = cluster.webhooks_alias
        self.deliveries_alias = cluster.deliveries_alias
        outbox.register("webhook", stored_as_written(self.alias))
        outbox.register("delivery", stored_as_written(self.deliveries_alias))

    def create(self, webhook: Webhook, audit: AuditEntry) -> None:
        self._write(webhook, audit, self.cluster.next_seq())

    def replace(self, webhook: Webhook, audit: AuditEntry) -> None:
        with self.cluster.session() as es:
            seq = self._read(es, webhook["id"])["_source"]["seq"]
        self._write(webhook, audit, seq)

    def _write(self, webhook: Webhook, audit: AuditEntry, seq: int) -> None:
        probe = {"id": webhook["id"], "digest": digest(webhook)}
        fields = {"owner": webhook["owner"]["principal"], "events": webhook["events"],
                  "deleted": bool(webhook.get("deleted_at")), "seq": seq, "document": webhook}
        with self.outbox.recorded(f"webhook:{webhook['id']}", "webhook", audit, probe) as pending, \
                self.cluster.session() as es:
            # Searchable at once: the next event finds a new webhook, and a deleted one no more.
            es.index(index=self.alias, id=webhook["id"], document=fields, refresh="wait_for", require_alias=True)
            pending.written = True

    def get(self, webhook_id: str) -> Webhook:
        with self.cluster.session() as es:
            return cast(Webhook, self._read(es, webhook_id)["_source"]["document"])

    def _read(self, es: Elasticsearch, webhook_id: str) -> Document:
        try:
            return es.get(index=self.alias, id=webhook_id).body
        except NotFoundError as exc:
            raise NotFound(f"No webhook with id {webhook_id}.") from exc

    def list(self, owner: str | None) -> builtins.list[Webhook]:
        return self._search([{"term": {"owner": owner}}] if owner is not None else [])

    def subscribed(self, event: str) -> builtins.list[Webhook]:
        return self._search([{"term": {"events": event}}])

    def _search(self, conditions: builtins.list[Document]) -> builtins.list[Webhook]:
        query = {"bool": {"filter": [*conditions, {"term": {"deleted": False}}]}}
        with self.cluster.session() as es:
            hits = es.search(index=self.alias, query=query, sort=[{"seq": "asc"}], size=MAX_LISTED,
                             source_includes=["document"], track_total_hits=False)["hits"]["hits"]
        return [cast(Webhook, hit["_source"]["document"]) for hit in hits]

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        if deliveries:
            with self.cluster.session() as es:
                items = bulk_items(es, delivery_operations(self.cluster, deliveries), require_alias=True)
            failed = [item for item in items if item["status"] >= 300]
            if failed:
                raise refusal(failed, "Elasticsearch refused the events' deliveries.")

    def get_delivery(self, delivery_id: str) -> Delivery:
        with self.cluster.session() as es:
            return cast(Delivery, self._read_delivery(es, delivery_id)["_source"]["document"])

    def _read_delivery(self, es: Elasticsearch, delivery_id: str) -> Document:
        try:
            return es.get(index=self.deliveries_alias, id=delivery_id).body
        except NotFoundError as exc:
            raise NotFound(f"No delivery with id {delivery_id}.") from exc

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        with self.cluster.session() as es:
            es.indices.refresh(index=self.deliveries_alias)
            hits = es.search(index=self.deliveries_alias, query={"term": {"webhook_id": webhook_id}},
                             sort=NEWEST_FIRST, size=limit + 1,
                             search_after=[decode_cursor(cursor, int)] if cursor else None, source=False,
                             track_total_hits=False)["hits"]["hits"]
            more = len(hits) > limit
            hits = hits[:limit]
            if not hits:
                return Page([], None)
            docs = es.mget(index=self.deliveries_alias, ids=[hit["_id"] for hit in hits])["docs"]  # as stored now
        return Page([cast(Delivery, doc["_source"]["document"]) for doc in docs if doc.get("found")],
                    encode_cursor(hits[-1]["sort"][0]) if more else None)

    def claim(self, delivery_ids: Sequence[str], due_by: float, limit: int,
              change: Callable[[Delivery], Delivery]) -> builtins.list[Delivery]:
        query = {"bool": {"filter": [{"term": {"status": PENDING}}, {"range": {"next_attempt": {"lte": due_by}}}]}}
        with self.cluster.session() as es:
            found = es.search(index=self.deliveries_alias, query=query, sort=[{"next_attempt": "asc"}], size=limit,
                              source=False, track_total_hits=False)["hits"]["hits"]
            ids = list(dict.fromkeys([*delivery_ids, *(hit["_id"] for hit in found)]))
            if not ids:
                return []
            taken: builtins.list[Delivery] = []
            for doc in es.mget(index=self.deliveries_alias, ids=ids)["docs"]:  # the search may lag; mget does not
                if len(taken) >= limit or not doc.get("found"):
                    continue
                delivery = cast(Delivery, doc["_source"]["document"])
                if delivery["status"] != PENDING or delivery["next_attempt"] > due_by:
                    continue
                changed = change(delivery)
                try:
                    es.index(index=self.deliveries_alias, id=delivery["id"],
                             document=_delivery_fields(changed, doc["_source"]["seq"]), **read_position(doc),
                             require_alias=True)
                except ConflictError:
                    continue  # another process took it
                taken.append(changed)
        return taken

    def update_delivery(self, delivery: Delivery, audit: AuditEntry | None = None) -> None:
        if audit is None:
            with self.cluster.session() as es:
                self._store_delivery(es, delivery)
            return
        probe = {"id": delivery["id"], "digest": digest(delivery)}
        with self.outbox.recorded(f"delivery:{delivery['id']}", "delivery", audit, probe) as pending, \
                self.cluster.session() as es:
            self._store_delivery(es, delivery)
            pending.written = True

    def _store_delivery(self, es: Elasticsearch, delivery: Delivery) -> None:
        seq = self._read_delivery(es, delivery["id"])["_source"]["seq"]
        es.index(index=self.deliveries_alias, id=delivery["id"], document=_delivery_fields(delivery, seq),
                 require_alias=True)


def stored_as_written(alias: str) -> Probe:
    """Probe of a write that stores a whole document under ``probe["id"]``: it is stored as written."""
    def probe(es: Elasticsearch, write: Document, entry: AuditEntry) -> AuditEntry | None:
        try:
            stored = es.get(index=alias, id=write["id"])["_source"]["document"]
        except NotFoundError:
            return None
        return entry if digest(stored) == write["digest"] else None

    return probe
