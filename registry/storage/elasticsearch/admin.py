"""Operations on the Elasticsearch indices: create them, and rebuild them with a new mapping.

``reindex`` copies every report into ``{prefix}-reports-v{N+1}`` built from the
current mapping, then moves the alias in one atomic ``update_aliases`` call and
deletes the old index, so readers never see a missing or half-filled index.
The copy is done with ``search_after`` pages and ``bulk`` (this distribution
has no ``_reindex``), and every indexed field is recomputed from the stored
``document``, so new derived fields are filled in too.

Known limitation: writes made while the copy runs are not carried over.  A
report created or deleted meanwhile makes the counts differ and the reindex
aborts (the alias does not move; run it again); an update of an existing
report meanwhile is lost from the new index.  Run it when imports and edits
are paused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from registry.errors import Conflict, StorageUnavailable
from registry.records import Report
from registry.storage.elasticsearch.changes import ElasticsearchChangeFeed, touch
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, versioned_index
from registry.storage.elasticsearch.mappings import REPORTS_MAPPINGS
from registry.storage.elasticsearch.reports import ElasticsearchReportStore, ref_id, report_fields

INDEX_VERSION = re.compile(r"-v(\d+)$")
COPY_BATCH_SIZE = 1000  # reports per bulk request while copying


@dataclass(frozen=True)
class ReindexResult:
    old_index: str
    new_index: str
    copied: int


class ElasticsearchIndexAdmin:
    """``irontrace es init`` and ``irontrace es reindex``."""

    def __init__(self, cluster: Cluster, reports: ElasticsearchReportStore) -> None:
        self.cluster = cluster
        self.reports = reports

    def init(self) -> list[str]:
        """Create the missing indices and aliases (idempotent); the names of those created.  An empty
        change feed of a registry that holds reports (made before the feed existed) gets every report
        entered (``changes.touch``: safe beside writers, and to repeat)."""
        created = self.cluster.init_indices()
        if ElasticsearchChangeFeed(self.cluster).head() == 0:
            with self.cluster.session() as es:
                batch: list[Report] = []
                for report in self.reports.iter_all():
                    batch.append(report)
                    if len(batch) == COPY_BATCH_SIZE:
                        touch(self.cluster, es, batch)
                        batch = []
                touch(self.cluster, es, batch)
        return created

    def reindex(self) -> ReindexResult:
        """Rebuild the reports index with the current mapping and switch the alias to it."""
        self.cluster.init_indices()
        es, alias = self.cluster.client, self.cluster.reports_alias
        with self.cluster.translate_errors():
            old = aliased_index(es, alias)
            new = versioned_index(alias, index_version(old) + 1)
            if es.indices.exists(index=new):  # left by an interrupted reindex; never behind the alias
                es.indices.delete(index=new)
            es.indices.create(index=new, mappings=REPORTS_MAPPINGS, settings=self.cluster.index_settings)
            copied = self._copy(old, new)
            es.indices.refresh(index=new)
            if es.count(index=old)["count"] != copied or es.count(index=new)["count"] != copied:
                es.indices.delete(index=new)
                raise Conflict("Reports were created or deleted during the reindex; the alias did not move. "
                               "Run it again.")
            es.indices.update_aliases(
                actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
            )
            es.indices.delete(index=old)
        return ReindexResult(old, new, copied)

    def _copy(self, source: str, target: str) -> int:
        """Copy every report of ``source`` into ``target`` page by page; how many were copied."""
        copied = 0
        operations: list[dict[str, Any]] = []
        for hit in self.reports.scan(source):
            report = hit["_source"]["document"]
            operations += [{"index": {"_index": target, "_id": ref_id(report)}},
                           report_fields(report, hit["_source"]["seq"])]
            copied += 1
            if len(operations) >= 2 * COPY_BATCH_SIZE:  # an action line and a source line per report
                _send(self.cluster.client, operations)
                operations = []
        if operations:
            _send(self.cluster.client, operations)
        return copied


def aliased_index(es: Elasticsearch, alias: str) -> str:
    """The one concrete index behind ``alias``."""
    indices = list(es.indices.get_alias(name=alias))
    if len(indices) != 1:
        raise StorageUnavailable(f"Alias {alias} points to {len(indices)} indices, not one: {sorted(indices)}.")
    return indices[0]


def index_version(index: str) -> int:
    """The N of ``{alias}-v{N}``."""
    match = INDEX_VERSION.search(index)
    if match is None:
        raise StorageUnavailable(f"Index {index} is not named {{alias}}-v{{N}}; cannot tell its version.")
    return int(match[1])


def _send(es: Elasticsearch, operations: list[dict[str, Any]]) -> None:
    """One bulk of copies; any refused one aborts the reindex (the alias has not moved)."""
    failed = [item for item in bulk_items(es, operations) if item["status"] >= 300]
    if failed:
        error = failed[0].get("error") or {}
        raise StorageUnavailable(
            f"Elasticsearch refused {len(failed)} reports while reindexing "
            f"(first: {error.get('type')}: {error.get('reason')}); the alias did not move."
        )
