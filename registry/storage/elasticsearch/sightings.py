"""A document kept per report on Elasticsearch (its sightings, or its last review notice), through the
engine's ``Outbox`` (under ``<kind>:<report id>``), with the event's deliveries in the same request."""

from __future__ import annotations

from collections.abc import Sequence

from elasticsearch import Elasticsearch, NotFoundError

from registry.records import AuditEntry, Delivery, Document
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.deliveries import write_with_deliveries
from registry.storage.elasticsearch.outbox import Outbox


class ElasticsearchSightingLog:
    def __init__(self, cluster: Cluster, outbox: Outbox, kind: str = "sightings") -> None:
        self.cluster = cluster
        self.outbox = outbox
        self.kind = kind
        self.alias = cluster.review_notices_alias if kind == "review_notices" else cluster.sightings_alias
        outbox.register(kind, self._stored)

    def save(self, report_id: str, sightings: Document, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        with self.outbox.recorded(f"{self.kind}:{report_id}", self.kind, audit, {"report_id": report_id}) as pending, \
                self.cluster.session() as es:
            write = [{"index": {"_index": self.alias, "_id": report_id}}, {"document": sightings}]
            write_with_deliveries(es, self.cluster, write, deliveries)
            pending.written = True

    def get(self, report_id: str) -> Document | None:
        with self.cluster.session() as es:
            try:
                found: Document = es.get(index=self.alias, id=report_id)["_source"]["document"]
            except NotFoundError:
                return None
        return found

    def _stored(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the sightings are stored (a real-time read)."""
        return entry if es.exists(index=self.alias, id=probe["report_id"]) else None
