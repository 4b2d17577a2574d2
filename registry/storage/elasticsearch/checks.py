"""Check records in Elasticsearch, each with its audit entry through the engine's ``Outbox`` and
its events' deliveries in the same request."""

from __future__ import annotations

from collections.abc import Sequence

from elasticsearch import Elasticsearch, NotFoundError

from registry.errors import NotFound
from registry.records import AuditEntry, Delivery, Document
from registry.storage.elasticsearch import retention
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.deliveries import write_with_deliveries
from registry.storage.elasticsearch.outbox import Outbox
from registry.storage.elasticsearch.retention import AuditOf


class ElasticsearchCheckLog:
    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        outbox.register("check", self._stored)

    def save(self, record: Document, audit: AuditEntry, deliveries: Sequence[Delivery] = ()) -> None:
        """Kept without waiting for a refresh: nobody searches the record at once, and a check
        would otherwise take up to one refresh interval longer."""
        fields = {
            "check_id": record["check_id"],
            "checked_at": record["checked_at"],
            "verdict": record["verdict"],
            "matched_report_ids": record["matched_report_ids"],
            "terms": list(record.get("terms", ())),
            "document": record,
        }
        slot = f"check:{record['check_id']}"
        with self.outbox.recorded(slot, "check", audit, {"check_id": record["check_id"]}) as pending, \
                self.cluster.session() as es:
            write = [{"create": {"_index": self.cluster.checks_alias, "_id": record["check_id"]}}, fields]
            write_with_deliveries(es, self.cluster, write, deliveries)
            pending.written = True

    def get(self, check_id: str) -> Document:
        with self.cluster.session() as es:
            try:
                found: Document = es.get(index=self.cluster.checks_alias, id=check_id)["_source"]["document"]
            except NotFoundError as exc:
                raise NotFound(f"No check with id {check_id}.") from exc
        return found

    def sightings(self, terms: Sequence[str], since: str, limit: int) -> list[Document]:
        query = {"bool": {"filter": [{"terms": {"terms": list(terms)}}, {"range": {"checked_at": {"gte": since}}}]}}
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.checks_alias)  # checks made just before the report count
            hits = es.search(index=self.cluster.checks_alias, query=query, sort=[{"checked_at": "desc"}], size=limit,
                             source_includes=["document"], track_total_hits=False)["hits"]["hits"]
        return [hit["_source"]["document"] for hit in hits]

    def purge(self, before: str, audit: AuditOf) -> int:
        """Check records made before ``before``, through ``retention.purging``."""
        query = {"range": {"checked_at": {"lt": before}}}
        indices = [self.cluster.checks_alias]
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.checks_alias)
            count = retention.count_where(es, indices, query)
        if not count:
            return 0
        with retention.purging(self.cluster, self.outbox, "checks", audit(count), indices, query) as es:
            retention.delete_where(es, indices, query)
        return count

    def _stored(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the check record exists (a real-time read)."""
        return entry if es.exists(index=self.cluster.checks_alias, id=probe["check_id"]) else None
