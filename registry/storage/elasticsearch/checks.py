"""Check records in Elasticsearch, each with its audit entry through the engine's ``Outbox``."""

from __future__ import annotations

from elasticsearch import Elasticsearch

from registry.records import AuditEntry, Document
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.outbox import Outbox


class ElasticsearchCheckLog:
    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        outbox.register("check", self._stored)

    def save(self, record: Document, audit: AuditEntry) -> None:
        """Kept without waiting for a refresh: nobody searches the record at once, and a check
        would otherwise take up to one refresh interval longer."""
        fields = {
            "check_id": record["check_id"],
            "checked_at": record["checked_at"],
            "verdict": record["verdict"],
            "matched_report_ids": record["matched_report_ids"],
            "document": record,
        }
        slot = f"check:{record['check_id']}"
        with self.outbox.recorded(slot, "check", audit, {"check_id": record["check_id"]}) as pending, \
                self.cluster.session() as es:
            es.create(index=self.cluster.checks_alias, id=record["check_id"], document=fields, require_alias=True)
            pending.written = True

    def _stored(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the check record exists (a real-time read)."""
        return entry if es.exists(index=self.cluster.checks_alias, id=probe["check_id"]) else None
