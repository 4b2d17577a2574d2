"""Bulk-check jobs in the registry's Elasticsearch cluster.

Three indices of their own under the same prefix and alias scheme as the
reports: ``{prefix}-bulk-jobs``, ``{prefix}-bulk-rows`` and
``{prefix}-bulk-results`` (each ``-v1`` behind its alias).  Rows and results
have the ids ``{job}:{row}`` and are read back with ``mget``, which is
real-time, so nothing waits for a refresh.

A job changes only by compare-and-set (``if_seq_no``/``if_primary_term`` of a
real-time read), which makes claiming a job and moving its checkpoint safe
between any number of ``irontrace worker`` processes.  Elasticsearch has no
transaction spanning a batch's results and the checkpoint, so the results are
written first, under ids fixed by (job, row), and the checkpoint after: a
worker killed in between leaves results past the checkpoint that nobody reads
(results are read only up to it), and the worker that resumes writes the same
ids again.  Either way every row has exactly one result.

Audit.  Submitting a job, committing a batch and finishing or cancelling a
job each go through the engine's ``Outbox`` under ``job:<id>``; the probe
reads the job in real time: it exists, its checkpoint reached the batch's,
or it holds the changes (a final status never changes again).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import cast

from elasticsearch import ConflictError, Elasticsearch, NotFoundError

from registry.errors import NotFound, StorageUnavailable
from registry.records import AuditEntry, Delivery, Document, Job, Page
from registry.storage.chunks import numbered_chunks
from registry.storage.cursors import decode_pair, encode_cursor
from registry.storage.elasticsearch import retention
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, read_position, refusal
from registry.storage.elasticsearch.deliveries import delivery_operations, write_operations
from registry.storage.elasticsearch.outbox import Outbox
from registry.storage.elasticsearch.retention import AuditOf
from registry.storage.leases import at_checkpoint, claimable, holds_lease
from registry.vocabulary import ACTIVE_JOB_STATUSES, FINAL_JOB_STATUSES

ROWS_PER_REQUEST = 2000  # rows or results per bulk or mget call (an upload's rows: also at most a few MB)
CLAIM_CANDIDATES = 20  # active jobs looked at per claim, oldest first
ACTIVE_JOBS_MAX = 10_000  # active jobs read for the queue's metrics
NEWEST_FIRST = [{"created_at": "desc"}, {"job_id": "desc"}]
PURGE_BATCH = 500  # jobs purged per round at most (the next round takes the rest)
UPDATE_ATTEMPTS = 5  # an update racing another write to the job (a checkpoint, a cancel) re-reads and retries


def row_id(job_id: str, index: int) -> str:
    return f"{job_id}:{index}"


class ElasticsearchJobStore:
    """Jobs, rows and results on the cluster that holds the reports."""

    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        self.jobs_alias = cluster.jobs_alias
        self.rows_alias = cluster.job_rows_alias
        self.results_alias = cluster.job_results_alias
        outbox.register("job", self._stored)

    def create_job(self, job: Job, rows: Iterable[Document], audit: AuditEntry) -> None:
        with self.cluster.session() as es:
            for chunk in numbered_chunks(rows, ROWS_PER_REQUEST):
                self._write_rows(es, self.rows_alias, job["id"], chunk[0][0], [row for _, row, _ in chunk])
        with self.outbox.recorded(f"job:{job['id']}", "job", audit, {"job_id": job["id"]}) as pending, \
                self.cluster.session() as es:
            # Searchable at once, so the next worker polling finds it; its rows are already stored.
            es.create(index=self.jobs_alias, id=job["id"], document=_fields(job), refresh="wait_for",
                      require_alias=True)
            pending.written = True

    def get_job(self, job_id: str) -> Job:
        with self.cluster.session() as es:
            return cast(Job, self._read(es, job_id)["_source"]["document"])

    def claim_job(self, owner: str, lease_seconds: float, now: float) -> Job | None:
        with self.cluster.session() as es:
            hits = es.search(index=self.jobs_alias, query={"terms": {"status": list(ACTIVE_JOB_STATUSES)}},
                             sort=[{"created_at": "asc"}], size=CLAIM_CANDIDATES, source=False,
                             track_total_hits=False)["hits"]["hits"]
            for hit in hits:
                current = self._read(es, hit["_id"])  # the search may lag; the read does not
                job = cast(Job, current["_source"]["document"])
                if not claimable(job, now):
                    continue
                job.update({"status": "running", "lease_owner": owner, "lease_expires": now + lease_seconds})
                if self._replace(es, current, job):
                    return job
        return None

    def job_rows(self, job_id: str, start: int, count: int) -> list[Document]:
        with self.cluster.session() as es:
            return list(self._read_rows(es, self.rows_alias, job_id, start, start + count))

    def commit_batch(self, job: Job, owner: str, results: list[Document], lease_until: float,
                     audit: AuditEntry) -> bool:
        checkpoint = job["rows_done"] - len(results)
        probe = {"job_id": job["id"], "changes": {"rows_done": job["rows_done"]}}
        with self.outbox.recorded(f"job:{job['id']}", "job", audit, probe) as pending, \
                self.cluster.session() as es:
            current = self._read(es, job["id"])
            if not at_checkpoint(current["_source"]["document"], owner, checkpoint):
                pending.entry = None
                return False
            self._write_rows(es, self.results_alias, job["id"], checkpoint, results)
            pending.written = self._replace(es, current, {**job, "lease_expires": lease_until})
            if not pending.written:
                pending.entry = None
            return pending.written

    def update_job(self, job_id: str, owner: str | None, changes: Job,
                   audit: Callable[[Job], AuditEntry] | None = None,
                   deliveries: Sequence[Delivery] = ()) -> Job | None:
        """A lost compare-and-set is retried on a fresh read: a cancel racing a worker's
        checkpoint still applies, and the lease decides again who may write.  With ``audit``, each
        attempt goes through the outbox with the entry of the job it would write.  ``deliveries``
        are written right after the job (not in its request: a lost compare-and-set must not leave
        them), and travel in the intent, so recovery makes them if a crash came between the two."""
        follow_up = delivery_operations(self.cluster, deliveries)
        for _ in range(UPDATE_ATTEMPTS):
            with self.cluster.session() as es:
                current = self._read(es, job_id)
                job = cast(Job, current["_source"]["document"])
                if not holds_lease(job, owner):
                    return None
                job.update(changes)
                if audit is None:
                    if self._replace(es, current, job):
                        return job
                    continue
            probe = {"job_id": job_id, "changes": changes}
            with self.outbox.recorded(f"job:{job_id}", "job", audit(job), probe, follow_up) as pending, \
                    self.cluster.session() as es:
                pending.written = self._replace(es, current, job)
                if not pending.written:
                    pending.entry = None
                elif follow_up:
                    write_operations(es, follow_up)
            if pending.written:
                return job
        raise StorageUnavailable("The bulk check kept changing while it was being updated; retry.")

    def iter_results(self, job_id: str, count: int) -> Iterator[Document]:
        with self.cluster.session() as es:
            yield from self._read_rows(es, self.results_alias, job_id, 0, count)

    def list_jobs(self, owner: str, limit: int, cursor: str | None) -> Page[Job]:
        with self.cluster.session() as es:
            hits = es.search(index=self.jobs_alias, query={"term": {"owner": owner}}, sort=NEWEST_FIRST,
                             size=limit + 1, search_after=decode_pair(cursor) if cursor else None, source=False,
                             track_total_hits=False)["hits"]["hits"]
            more = len(hits) > limit
            hits = hits[:limit]
            if not hits:
                return Page([], None)
            # The search may lag behind the jobs' progress; a real-time read does not.
            docs = es.mget(index=self.jobs_alias, ids=[hit["_id"] for hit in hits])["docs"]
        jobs = [cast(Job, doc["_source"]["document"]) for doc in docs if doc.get("found")]
        return Page(jobs, encode_cursor(hits[-1]["sort"]) if more else None)

    def active_jobs(self) -> list[Job]:
        """Found by a search, read by id: the search lags a claim or a finish by up to a refresh, the read
        does not (a job claimed a moment ago is running, or stalled, not queued)."""
        with self.cluster.session() as es:
            hits = es.search(index=self.jobs_alias, query={"terms": {"status": list(ACTIVE_JOB_STATUSES)}},
                             size=ACTIVE_JOBS_MAX, source=False, track_total_hits=False)["hits"]["hits"]
            if not hits:
                return []
            docs = es.mget(index=self.jobs_alias, ids=[hit["_id"] for hit in hits])["docs"]
        jobs = [cast(Job, doc["_source"]["document"]) for doc in docs if doc.get("found")]
        return [job for job in jobs if job["status"] in ACTIVE_JOB_STATUSES]

    def purge_jobs(self, before: str, keep_jobs: bool, audit: AuditOf) -> int:
        """Finished jobs created before ``before``: their rows and results, and unless ``keep_jobs`` the
        jobs too (a kept job is marked ``results_purged``), through ``retention.purging``."""
        purged = [{"terms": {"status": list(FINAL_JOB_STATUSES)}}, {"range": {"created_at": {"lt": before}}}]
        query = {"bool": {"filter": purged, "must_not": [{"term": {"results_purged": True}}] if keep_jobs else []}}
        with self.cluster.session() as es:
            es.indices.refresh(index=self.jobs_alias)
            hits = es.search(index=self.jobs_alias, query=query, size=PURGE_BATCH, source_includes=["document"],
                             seq_no_primary_term=True, track_total_hits=False)["hits"]["hits"]
        if not hits:
            return 0
        ids = [hit["_id"] for hit in hits]
        rows = {"terms": {"job_id": ids}}
        indices = [self.rows_alias, self.results_alias] + ([] if keep_jobs else [self.jobs_alias])
        what = "bulk_check_results" if keep_jobs else "bulk_checks"
        with retention.purging(self.cluster, self.outbox, what, audit(len(ids)), indices, rows) as es:
            retention.delete_where(es, [self.rows_alias, self.results_alias], rows)
            if keep_jobs:
                operations: list[Document] = []
                for hit in hits:
                    marked: Job = {**hit["_source"]["document"], "results_purged": True}
                    operations += [{"index": {"_index": self.jobs_alias, "_id": hit["_id"], **read_position(hit)}},
                                   _fields(marked)]
                bulk_items(es, operations, refresh="wait_for")  # a job changed meanwhile is marked next round
            else:
                retention.delete_where(es, [self.jobs_alias], rows)
        return len(ids)

    def _stored(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe: the job exists and holds the changes written (a checkpoint at least as far)."""
        try:
            job = self._read(es, probe["job_id"])["_source"]["document"]
        except NotFound:
            return None
        for name, value in probe.get("changes", {}).items():
            if (job.get(name, 0) < value) if name == "rows_done" else (job.get(name) != value):
                return None
        return entry

    # -- internals -------------------------------------------------------------------

    def _read(self, es: Elasticsearch, job_id: str) -> Document:
        """The job document with its sequence number and primary term, read in real time."""
        try:
            return es.get(index=self.jobs_alias, id=job_id).body
        except NotFoundError as exc:
            raise NotFound(f"No bulk check with id {job_id}.") from exc

    def _replace(self, es: Elasticsearch, current: Document, job: Job) -> bool:
        """Write ``job`` if the stored one is still ``current``; ``False`` if another writer came first."""
        try:
            es.index(index=self.jobs_alias, id=job["id"], document=_fields(job), require_alias=True,
                     if_seq_no=current["_seq_no"], if_primary_term=current["_primary_term"])
        except ConflictError:
            return False
        return True

    @staticmethod
    def _write_rows(es: Elasticsearch, alias: str, job_id: str, start: int, rows: list[Document]) -> None:
        """Rows (or results) ``start``, ``start + 1``... under their fixed ids, a bulk call per chunk."""
        for offset in range(0, len(rows), ROWS_PER_REQUEST):
            chunk = rows[offset:offset + ROWS_PER_REQUEST]
            operations: list[Document] = []
            for i, row in enumerate(chunk, start=start + offset):
                operations += [{"index": {"_index": alias, "_id": row_id(job_id, i)}}, {"job_id": job_id, "data": row}]
            failed = [item for item in bulk_items(es, operations, require_alias=True) if item["status"] >= 300]
            if failed:
                error_type = (failed[0].get("error") or {}).get("type")
                raise refusal(failed, f"Elasticsearch refused {len(failed)} rows of a bulk check ({error_type}).")

    @staticmethod
    def _read_rows(es: Elasticsearch, alias: str, job_id: str, start: int, end: int) -> Iterator[Document]:
        for offset in range(start, end, ROWS_PER_REQUEST):
            ids = [row_id(job_id, i) for i in range(offset, min(end, offset + ROWS_PER_REQUEST))]
            for doc in es.mget(index=alias, ids=ids)["docs"]:
                if not doc.get("found"):
                    raise StorageUnavailable(f"Row {doc['_id']} of a bulk check is missing from {alias}.")
                yield doc["_source"]["data"]


def _fields(job: Job) -> Document:
    return {"status": job["status"], "created_at": job["created_at"], "owner": job["owner"]["principal"],
            "job_id": job["id"], **({"results_purged": True} if job.get("results_purged") else {}), "document": job}
