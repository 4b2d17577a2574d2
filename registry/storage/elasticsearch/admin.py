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

import time
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
IN_FLIGHT_TIMEOUT_SECONDS = 30.0  # how long the last round waits for writes admitted before the block
IN_FLIGHT_POLL_SECONDS = 0.05
MERGE_TIMEOUT_SECONDS = 3600.0  # a force merge answers when it is done: minutes for a large index


@dataclass(frozen=True)
class ReindexResult:
    old_index: str
    new_index: str
    copied: int


class ElasticsearchIndexAdmin:
    """``irontrace es init``, ``es reindex``, the merge after an import or a reindex, and (``snapshots``)
    ``es snapshot`` and ``es restore``."""

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
                marks = _checkpoints(es, old)
                es.indices.refresh(index=old)  # every write up to the marks is in the copy
                copied = self._copy(self.reports.scan(old), new)
                for _ in range(CATCH_UP_ROUNDS):  # while writers go on
                    if self._catch_up(old, new, marks) <= CATCH_UP_QUIET:
                        break
                es.indices.put_settings(index=old, settings={WRITE_BLOCK: True})
                _wait_for_writes_in_flight(es, old)
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

    def merge_segments(self, most: int) -> int:
        """Merge the reports index down to at most ``most`` segments a shard; the most a primary holds after.

        A bulk import leaves dozens of small segments, and a check looks each of
        its ~200 lookup keys up in every one of them: at a million reports the
        key search took 7.2 ms on the 43 segments an import left, 4.8 ms on 8.
        Only the smallest segments need merging for that, so it takes seconds.
        """
        es, alias = self.cluster.client, self.cluster.reports_alias
        with self.cluster.translate_errors():
            es.options(request_timeout=MERGE_TIMEOUT_SECONDS).indices.forcemerge(index=alias, max_num_segments=most)
            shards = es.indices.segments(index=alias)["indices"]
        return max((len(copy["segments"]) for index in shards.values() for copies in index["shards"].values()
                    for copy in copies if copy["routing"]["primary"]), default=0)

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
        """Copy the reports of ``source`` written since ``marks`` (each shard's checkpoint, moved on to
        the one taken now); how many were copied.

        Only up to a checkpoint taken before the refresh: a sequence number is given before its write
        is visible, so a later write can show while an earlier one is still being indexed, and a
        round that went past it would skip that one for good."""
        es = self.cluster.client
        now = _checkpoints(es, source)
        es.indices.refresh(index=source)
        copied = 0
        for shard, mark in marks.items():
            copied += self._copy(list(_written_between(es, source, shard, mark, now[shard])), target)
            marks[shard] = now[shard]
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


def _shard_seq_nos(es: Elasticsearch, index: str) -> dict[int, dict[str, int]]:
    """Each primary shard's sequence-number stats (``max_seq_no``, ``global_checkpoint``...)."""
    shards = es.indices.stats(index=index, level="shards")["indices"][index]["shards"]
    return {int(number): next(copy["seq_no"] for copy in copies if copy["routing"]["primary"])
            for number, copies in shards.items()}


def _checkpoints(es: Elasticsearch, index: str) -> dict[int, int]:
    """Each primary shard's global checkpoint: every write at or below it is done, on every copy."""
    return {shard: stats["global_checkpoint"] for shard, stats in _shard_seq_nos(es, index).items()}


def _wait_for_writes_in_flight(es: Elasticsearch, index: str) -> None:
    """Once writes are blocked: wait until the writes admitted before the block are done (each
    shard's checkpoint has reached its highest sequence number), so the last round copies them."""
    deadline = time.monotonic() + IN_FLIGHT_TIMEOUT_SECONDS
    while any(stats["global_checkpoint"] < stats["max_seq_no"] for stats in _shard_seq_nos(es, index).values()):
        if time.monotonic() > deadline:
            raise StorageUnavailable("Writes to the old reports index did not finish; the alias did not move.")
        time.sleep(IN_FLIGHT_POLL_SECONDS)


def _written_between(es: Elasticsearch, index: str, shard: int, mark: int, upto: int) -> Iterator[Document]:
    """The reports of one shard last written after sequence number ``mark`` and at or before ``upto``,
    in order, a page at a time."""
    after: list[Any] | None = None
    while True:
        hits = es.search(index=index, preference=f"_shards:{shard}",
                         query={"range": {"_seq_no": {"gt": mark, "lte": upto}}},
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
