"""The change feed on Elasticsearch: the ``{prefix}-changes`` index, one shard, read in ``_seq_no`` order.

Writing.  After a report write is stored, its store *touches* the report's
feed document (``_id`` the report id, the report as stored) with the report's
version as an external version, so a slower writer of an older version can
never overwrite a newer one.  Every touch is a new operation on the index's
single shard and gets the next ``_seq_no`` of that shard: the feed's order is
the order in which touches were applied, and a report touched again moves to
the end.  The touch belongs to the write's outbox intent: if it fails, or the
process dies before it, the intent stays and recovery (``complete_pending``,
through the report store's probes) touches the feed before appending the
audit entry, so a stored write always reaches the feed.

Reading.  Sequence numbers are assigned before a write is visible, and a
refresh can show a later one before an earlier one that is still being
indexed.  A reader therefore first takes the shard's *global checkpoint*
(every operation at or below it is applied on every in-sync copy, and no
failover can take it back), then refreshes, then reads only up to that
checkpoint: nothing below the checkpoint can appear later, so a reader that
resumes after the last position it read misses nothing and repeats nothing.
Positions are ``_seq_no + 1`` (0 is the start).
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from typing import cast

from elasticsearch import Elasticsearch

from registry.records import Document, Report
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, refusal
from registry.storage.interfaces import Change


def touch(cluster: Cluster, es: Elasticsearch, reports: Sequence[Report]) -> None:
    """Put each report as stored in the feed (an older version than the feed holds is ignored);
    ``StorageUnavailable`` if the feed could not take one."""
    if not reports:
        return
    operations: list[Document] = []
    for report in reports:
        operations += [{"index": {"_index": cluster.changes_alias, "_id": report["id"], "version": report["version"],
                                  "version_type": "external"}},
                       {"report_id": report["id"], "report": report}]
    failed = [item for item in bulk_items(es, operations, require_alias=True) if item["status"] >= 300
              and item["status"] != 409]  # 409: the feed already holds this version or a newer one
    if failed:
        raise refusal(failed, "Elasticsearch refused to enter a report write in the change feed.")


class ElasticsearchChangeFeed:
    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def read(self, after: int, limit: int) -> builtins.list[Change]:
        with self.cluster.session() as es:
            checkpoint = self._shard_seq_no(es, "global_checkpoint")
            if checkpoint + 1 <= after:
                return []
            es.indices.refresh(index=self.cluster.changes_alias)
            hits = es.search(index=self.cluster.changes_alias,
                             query={"range": {"_seq_no": {"gte": after, "lte": checkpoint}}},
                             sort=[{"_seq_no": "asc"}], size=limit, seq_no_primary_term=True,
                             track_total_hits=False)["hits"]["hits"]
        return [Change(hit["_seq_no"] + 1, hit["_id"], cast(Report, hit["_source"]["report"])) for hit in hits]

    def head(self) -> int:
        with self.cluster.session() as es:
            return self._shard_seq_no(es, "max_seq_no") + 1

    def _shard_seq_no(self, es: Elasticsearch, which: str) -> int:
        """``max_seq_no`` or ``global_checkpoint`` of the feed's shard, as its primary copy knows it."""
        stats = es.indices.stats(index=self.cluster.changes_alias, level="shards",
                                 filter_path="indices.*.shards.*.seq_no,indices.*.shards.*.routing.primary")
        [index] = stats["indices"].values()
        [copies] = index["shards"].values()
        primary = next(copy for copy in copies if copy["routing"]["primary"])
        return int(primary["seq_no"][which])
