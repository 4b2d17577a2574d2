"""Operations on the Elasticsearch indices: create them, and rebuild them with a new mapping.

``reindex`` copies every report into ``{prefix}-reports-v{N+1}`` built from the
current mapping, then moves the alias in one atomic ``update_aliases`` call and
deletes the old index, so readers never see a missing or half-filled index.
The copy is done with ``search_after`` pages and ``bulk`` (this distribution
has no ``_reindex``), and every indexed field is recomputed from the stored
``document``, so new derived fields are filled in too.

Writes go on during the copy, to the old index (behind the alias), and are
not lost: each shard's sequence number is noted before the copy, and after it
every report written since (``_seq_no`` above the mark) is copied again,
round after round until few are left.  Then the old index is blocked for
writes (a writer meanwhile gets 503 and retries), the last changes are copied,
reports deleted meanwhile are deleted from the new index too, and the alias
moves.  If anything fails, the old index is unblocked and stays behind the
alias, and the new one is dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from elasticsearch import Elasticsearch

from registry.errors import Conflict, StorageUnavailable
from registry.records import Document, Report
from registry.storage.elasticsearch.changes import ElasticsearchChangeFeed, touch
from registry.storage.elasticsearch.cluster import Cluster, aliased_index, bulk_items, index_version, versioned_index
from registry.storage.elasticsearch.mappings import REPORTS_MAPPINGS
from registry.storage.elasticsearch.reports import SOURCE_FIELDS, ElasticsearchReportStore, ref_id, report_fields
from registry.storage.elasticsearch.snapshots import Snapshots

COPY_BATCH_SIZE = 1000  # reports per bulk request while copying
CATCH_UP_ROUNDS = 5  # copies of what was written meanwhile before writes are blocked for the last one
CATCH_UP_QUIET = 100  # ... or fewer once a round copies no more than this
WRITE_BLOCK = "index.blocks.write"


@dataclass(frozen=True)
class ReindexResult:
    old_index: str
    new_index: str
    copied: int


class ElasticsearchIndexAdmin:
    """``irontrace es init``, ``es reindex``, and (``snapshots``) ``es snapshot`` and ``es restore``."""

    def __init__(self, cluster: Cluster, reports: ElasticsearchReportStore, snapshots: Snapshots) -> None:
        self.cluster = cluster
        self.reports = reports
        self.snapshots = snapshots

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
        """Rebuild the reports index with the current mapping and switch the alias to it, carrying over
        the writes made while it runs."""
        self.cluster.init_indices()
        es, alias = self.cluster.client, self.cluster.reports_alias
        with self.cluster.translate_errors():
            old = aliased_index(es, alias)
            new = versioned_index(alias, index_version(old) + 1)
            if es.indices.exists(index=new):  # left by an interrupted reindex; never behind the alias
                es.indices.delete(index=new)
            es.indices.create(index=new, mappings=REPORTS_MAPPINGS, settings=self.cluster.index_settings)
            try:
                marks = _max_seq_nos(es, old)
                copied = self._copy(self.reports.scan(old), new)
                for _ in range(CATCH_UP_ROUNDS):  # while writers go on
                    if self._catch_up(old, new, marks) <= CATCH_UP_QUIET:
                        break
                es.indices.put_settings(index=old, settings={WRITE_BLOCK: True})
                self._catch_up(old, new, marks)
                self._drop_deleted(old, new)
                es.indices.refresh(index=new)
                if es.count(index=old)["count"] != es.count(index=new)["count"]:
                    raise Conflict("The new reports index does not hold what the old one does; the alias did not "
                                   "move. Run it again.")
                es.indices.update_aliases(
                    actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}])
            except BaseException:
                es.indices.put_settings(index=old, settings={WRITE_BLOCK: None})
                es.indices.delete(index=new)
                raise
            es.indices.delete(index=old)
        return ReindexResult(old, new, copied)

    def _copy(self, hits: Iterable[Document], target: str) -> int:
        """Copy reports (hits with ``document`` and ``seq``) into ``target``; how many were copied."""
        copied = 0
        operations: list[dict[str, Any]] = []
        for hit in hits:
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

    def _catch_up(self, source: str, target: str, marks: dict[int, int]) -> int:
        """Copy the reports of ``source`` written since ``marks`` (each shard's sequence number, moved on);
        how many were copied."""
        es = self.cluster.client
        es.indices.refresh(index=source)
        copied = 0
        for shard, mark in marks.items():
            changed = list(_written_since(es, source, shard, mark))
            copied += self._copy(changed, target)
            marks[shard] = max([mark, *(hit["_seq_no"] for hit in changed)])
        return copied

    def _drop_deleted(self, source: str, target: str) -> None:
        """Delete from ``target`` the reports no longer in ``source`` (deleted during the copy: a report
        whose agency or case number changed moves to a new ``_id``)."""
        es = self.cluster.client
        es.indices.refresh(index=target)
        if es.count(index=target)["count"] == es.count(index=source)["count"]:
            return
        ids = [hit["_id"] for hit in self.reports.scan(target)]
        for start in range(0, len(ids), COPY_BATCH_SIZE):
            chunk = ids[start:start + COPY_BATCH_SIZE]
            found = es.mget(index=source, ids=chunk, source=False)["docs"]
            gone = [doc["_id"] for doc in found if not doc.get("found")]
            if gone:
                _send(es, [{"delete": {"_index": target, "_id": doc_id}} for doc_id in gone])


def _max_seq_nos(es: Elasticsearch, index: str) -> dict[int, int]:
    """Each primary shard's highest sequence number: what the copy is sure to include."""
    shards = es.indices.stats(index=index, level="shards")["indices"][index]["shards"]
    return {int(number): next(copy["seq_no"]["max_seq_no"] for copy in copies if copy["routing"]["primary"])
            for number, copies in shards.items()}


def _written_since(es: Elasticsearch, index: str, shard: int, mark: int) -> Iterator[Document]:
    """The reports of one shard written after sequence number ``mark``, in order, a page at a time."""
    after: list[Any] | None = None
    while True:
        hits = es.search(index=index, preference=f"_shards:{shard}", query={"range": {"_seq_no": {"gt": mark}}},
                         sort=[{"_seq_no": "asc"}], seq_no_primary_term=True, size=COPY_BATCH_SIZE,
                         source_includes=SOURCE_FIELDS, search_after=after)["hits"]["hits"]
        yield from hits
        if len(hits) < COPY_BATCH_SIZE:
            return
        after = hits[-1]["sort"]


def _send(es: Elasticsearch, operations: list[dict[str, Any]]) -> None:
    """One bulk of copies; any refused one aborts the reindex (the alias has not moved)."""
    failed = [item for item in bulk_items(es, operations) if item["status"] >= 300]
    if failed:
        error = failed[0].get("error") or {}
        raise StorageUnavailable(
            f"Elasticsearch refused {len(failed)} reports while reindexing "
            f"(first: {error.get('type')}: {error.get('reason')}); the alias did not move."
        )
