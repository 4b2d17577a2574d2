"""Check records in Elasticsearch."""

from __future__ import annotations

from registry.records import Document
from registry.storage.elasticsearch.cluster import Cluster


class ElasticsearchCheckLog:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def save(self, record: Document) -> None:
        """Kept without waiting for a refresh: nobody searches the record at once, and a check
        would otherwise take up to one refresh interval longer."""
        fields = {
            "check_id": record["check_id"],
            "checked_at": record["checked_at"],
            "verdict": record["verdict"],
            "matched_report_ids": record["matched_report_ids"],
            "document": record,
        }
        with self.cluster.session() as es:
            es.create(index=self.cluster.checks_alias, id=record["check_id"], document=fields, require_alias=True)
