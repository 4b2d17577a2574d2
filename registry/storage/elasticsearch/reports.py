"""Reports in Elasticsearch, each with the fields queries use beside it.

Uniqueness.  A report's ``_id`` is a hash of (agency key, case number), so the
index itself refuses a second report for the same case (``op_type=create``)
and an import finds existing reports with one ``mget``.  A report is found by
its public id through a ``term`` query.  Updates are optimistic
(``if_seq_no``/``if_primary_term`` from the read).  Changing the agency or the
case number moves the report to a new ``_id``: the new copy is created first
and the old one deleted after, so the report is never lost; if the old copy
changed in between, the new copy is removed again and the update fails with
``PreconditionFailed``.  A crash between those two writes leaves the old copy
behind: reads pick the highest version and the report's next update removes
it.

Audit.  Every write goes through the engine's ``Outbox``: an intent under
``report:<id>`` (an import batch: ``import:<random id>``) before the write,
the entry after it.  The probes below tell recovery, from real-time reads of
the documents an intent names, whether its write is stored.

Ordering.  ``seq`` (creation time in nanoseconds, strictly increasing within a
process, kept across updates) with ``id`` as tie-break orders listings newest
first and exports oldest first; cursors are ``search_after`` positions, which
stay valid across a reindex because the alias' new index holds the same
values.  Report writes use ``refresh=wait_for`` so a report is checkable as
soon as it is stored.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import Any, cast

from elasticsearch import ConflictError, Elasticsearch

from registry.audit_chain import import_batch_entry
from registry.errors import Conflict, NotFound, PreconditionFailed, StorageUnavailable
from registry.records import (
    AuditEntry,
    Document,
    ImportOutcome,
    Page,
    Report,
    ReportFilter,
    agency_key,
    imported_version,
    manufacturer_key,
    name_key,
)
from registry.storage.cursors import decode_pair, encode_cursor
from registry.storage.elasticsearch.changes import touch
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, read_position, refusal, retried_create
from registry.storage.elasticsearch.outbox import Outbox, Pending, digest
from search.keys import report_keys
from search.text import description_terms, indexed_words, report_text, text_terms

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # reports per search_after page when walking every report
UPSERT_ATTEMPTS = 5  # an import racing another writer re-reads and retries this often
MAX_COPIES = 10  # copies of one report that can coexist: the moved one plus crash leftovers
REF_SEPARATOR = "\x1f"
SOURCE_FIELDS = ["document", "seq"]
LOST_RACE = {"status": 409, "error": {"type": "version_conflict_engine_exception",
                                      "reason": "changed by another writer on every attempt"}}

def ref_id(document: Report) -> str:
    """The ``_id`` of a report: one per (agency, case number), so the index enforces uniqueness."""
    return ref_id_of(agency_key(document), document["external_ref"])


def ref_id_of(agency: str, external_ref: str) -> str:
    """The ``_id`` of the report an agency (its ``agency_key``) filed under this case number.

    Also computed from a hit's ``agency_key`` and ``external_ref`` doc values:
    a search that asks for no stored field cannot return ``_id``.
    """
    return hashlib.sha256((agency + REF_SEPARATOR + external_ref).encode()).hexdigest()


def report_fields(document: Report, seq: int, content: Document | None = None) -> Document:
    """What is indexed for one report: the document plus the fields queries use.

    ``content`` is ``content_fields(document)`` when already computed (in an
    import worker): an import's update changes only id, version and dates.
    """
    return {
        **(content or content_fields(document)),
        "id": document["id"],
        "version": document["version"],
        "created_at": document["created_at"],
        **({"validated_at": document["validated_at"]} if document.get("validated_at") else {}),
        "seq": seq,
        "document": document,
    }


def unreviewed_since(moment: str) -> Document:
    """Reports last validated at or before ``moment``, or never validated and registered at or before it."""
    return {"bool": {"minimum_should_match": 1, "should": [
        {"range": {"validated_at": {"lte": moment}}},
        {"bool": {"must_not": {"exists": {"field": "validated_at"}},
                  "filter": {"range": {"created_at": {"lte": moment}}}}},
    ]}}


def content_fields(document: Report) -> Document:
    """The indexed fields that follow from what a report says: the costly part is the lookup keys."""
    keys = report_keys(i["value"] for i in document.get("identifiers", ()))
    return {
        "agency_key": agency_key(document),
        "external_ref": document["external_ref"],
        "status": document["status"],
        "category": document["category"],
        "manufacturer_key": manufacturer_key(document.get("manufacturer")),
        "country": document["incident"]["country"],
        "terms": sorted(keys.terms),
        "suffix_keys": sorted(keys.suffix_keys),
        "skeletons": list(keys.skeletons),
        "text": indexed_words(report_text(document)),
        "description_terms": description_terms(document),
        # Only when set, so an index created before feeds existed keeps taking every other report.
        **({"source": document["source"]} if document.get("source") else {}),
    }


def describe_failure(document: Report, item: Document) -> dict[str, Any]:
    """One report a batch could not store (``item`` as bulk answers it), for the error's ``failures``."""
    error = item.get("error") or {}
    return {
        "external_ref": document["external_ref"],
        "agency": document["reporting_agency"]["name"],
        "status": item["status"],
        "error": f"{error.get('type')}: {error.get('reason')}",
    }



def prepare_reports(reports: list[Report]) -> list[tuple[Report, Document]]:
    """Each report with its ``content_fields``, computed in an import worker."""
    return [(report, content_fields(report)) for report in reports]


class ElasticsearchReportStore:
    """Reports behind the ``{prefix}-reports`` alias."""

    def __init__(self, cluster: Cluster, outbox: Outbox) -> None:
        self.cluster = cluster
        self.outbox = outbox
        outbox.register("report.create", self._stored_report)
        outbox.register("report.update", self._stored_report)
        outbox.register("reports.import", self._stored_imports)

    def create(self, report: Report, audit: AuditEntry) -> Report:
        with self.outbox.recorded(f"report:{report['id']}", "report.create", audit, _write(report)) as pending, \
                self.cluster.session() as es:
            self._create(es, ref_id(report), report_fields(report, self.cluster.next_seq()),
                         "A report with this external_ref already exists for this agency.")
            pending.written = True
            self._enter_in_feed(es, pending, [report])
        return report

    def get(self, report_id: str) -> Report:
        with self.cluster.session() as es:
            copies = self._copies(es, report_id)
        if not copies:
            raise NotFound(f"No report with id {report_id}.")
        return cast(Report, copies[0]["_source"]["document"])

    def replace(self, report: Report, expected_version: int, audit: AuditEntry) -> Report:
        with self.outbox.recorded(f"report:{report['id']}", "report.update", audit, _write(report)) as pending, \
                self.cluster.session() as es:
            copies = self._copies(es, report["id"])
            if not copies:
                raise NotFound(f"No report with id {report['id']}.")
            current = copies[0]
            _check_version(current["_source"]["document"]["version"], expected_version)
            target = ref_id(report)
            fields = report_fields(report, current["_source"]["seq"])
            if current["_id"] == target:
                try:
                    es.index(index=self.cluster.reports_alias, id=target, document=fields, refresh="wait_for",
                             require_alias=True, **read_position(current))
                except ConflictError as exc:
                    raise self._stale(es, report["id"], expected_version) from exc
                self._delete_copies(es, copies[1:])
            else:
                # No refresh yet: the delete below waits for one that shows both changes.
                written = self._create(es, target, fields, "Another report of this agency has this external_ref.",
                                       refresh=False)
                if self._delete_copies(es, copies)[0] in (404, 409):
                    # The old copy changed or vanished since it was read: undo the move.
                    es.delete(index=self.cluster.reports_alias, id=target, refresh="wait_for", **read_position(written))
                    raise self._stale(es, report["id"], expected_version)
            pending.written = True
            self._enter_in_feed(es, pending, [report])
        return report

    @property
    def prepare(self) -> Callable[[list[Report]], list[tuple[Report, Document]]]:
        return prepare_reports

    def upsert_prepared(self, prepared: list[tuple[Report, Document]], audit: AuditEntry) -> list[ImportOutcome]:
        """One ``mget`` and one ``bulk`` per attempt, each attempt with the entry of what it wrote;
        documents that raced another writer are retried."""
        outcomes: dict[int, ImportOutcome] = {}
        pending = list(range(len(prepared)))
        for _ in range(UPSERT_ATTEMPTS):
            if not pending:
                break
            pending = self._upsert_once(prepared, pending, outcomes, audit)
        if pending:
            raise StorageUnavailable(
                "Some reports kept changing while they were imported; importing again is safe.",
                failures=[describe_failure(prepared[i][0], LOST_RACE) for i in pending],
            )
        return [outcomes[i] for i in range(len(prepared))]

    def _upsert_once(self, prepared: list[tuple[Report, Document]], pending: list[int],
                     outcomes: dict[int, ImportOutcome], audit: AuditEntry) -> list[int]:
        """Write the pending documents with the entry of what was written; fill their outcomes;
        return those that hit a version conflict."""
        ids = [ref_id(prepared[i][0]) for i in pending]
        operations: list[Document] = []
        planned: list[tuple[int, ImportOutcome]] = []
        writes: list[Document] = []  # what the intent says this attempt writes
        with self.cluster.session() as es:
            found = es.mget(index=self.cluster.reports_alias, ids=ids, source_includes=SOURCE_FIELDS)["docs"]
        for i, doc_id, hit in zip(pending, ids, found):
            document, content = prepared[i]
            if not hit["found"]:
                operations += [{"create": {"_index": self.cluster.reports_alias, "_id": doc_id}},
                               report_fields(document, self.cluster.next_seq(), content)]
                planned.append((i, ImportOutcome("created", document["id"])))
                writes.append({**_write(document), "action": "created"})
                continue
            action, merged = imported_version(hit["_source"]["document"], document)
            if action == "unchanged":
                outcomes[i] = ImportOutcome(action, merged["id"])
                continue
            operations += [{"index": {"_index": self.cluster.reports_alias, "_id": doc_id, **read_position(hit)}},
                           report_fields(merged, hit["_source"]["seq"], content)]
            planned.append((i, ImportOutcome(action, merged["id"])))
            writes.append({**_write(merged), "action": action})
        if not operations:
            return []
        with self.outbox.recorded(f"import:{uuid.uuid4().hex}", "reports.import", audit, {"writes": writes}
                                  ) as recorded, self.cluster.session() as es:
            items = bulk_items(es, operations, refresh="wait_for", require_alias=True)
            conflicts: list[int] = []
            refused: list[Document] = []
            failures: list[dict[str, Any]] = []
            written: list[ImportOutcome] = []
            stored: list[Report] = []
            for (i, outcome), item, operation in zip(planned, items, operations[1::2]):
                if item["status"] < 300:
                    outcomes[i] = outcome
                    written.append(outcome)
                    stored.append(operation["document"])
                elif item["status"] == 409:
                    conflicts.append(i)
                else:
                    refused.append(item)
                    failures.append(describe_failure(prepared[i][0], item))
            recorded.entry, recorded.written = import_batch_entry(audit, written), bool(written)
            self._enter_in_feed(es, recorded, stored)
            if failures:
                raise refusal(refused, f"Elasticsearch refused {len(failures)} of {len(planned)} reports in a "
                              "batch; the others were stored and importing again is safe.", failures=failures)
        return conflicts

    def _enter_in_feed(self, es: Elasticsearch, pending: Pending, reports: builtins.list[Report]) -> None:
        """Touch the change feed for reports just stored; if it cannot take them now, the write's intent
        stays and recovery enters them (``_stored`` touches what it finds stored)."""
        try:
            with self.cluster.translate_errors():  # a lost connection too, not only a refusal
                touch(self.cluster, es, reports)
        except StorageUnavailable as exc:
            pending.unfinished = exc.detail

    def _stored_report(self, es: Elasticsearch, write: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe of a report write: its entry if the report is stored as written."""
        return entry if self._stored([write], es) else None

    def _stored_imports(self, es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
        """Probe of an import batch: its entry, listing the writes that are stored."""
        writes = probe["writes"]
        stored = self._stored(writes, es)
        return import_batch_entry(entry, [ImportOutcome(w["action"], w["report_id"]) for w in writes
                                          if w["doc_id"] in stored])

    def _stored(self, writes: builtins.list[Document], es: Elasticsearch) -> set[str]:
        """The document ids of the writes found stored (real-time reads): at the version written with
        the content written, or at a later version, which only a write after it can have made.  The
        reports found are entered in the change feed (the write's own touch may not have happened)."""
        found = es.mget(index=self.cluster.reports_alias, ids=[w["doc_id"] for w in writes],
                        source_includes=["document"])["docs"]
        stored = set()
        documents: builtins.list[Report] = []
        for write, doc in zip(writes, found):
            document = doc["_source"]["document"] if doc.get("found") else None
            if document is None or document["id"] != write["report_id"]:
                continue
            if document["version"] > write["version"] or (
                    document["version"] == write["version"] and digest(document) == write["digest"]):
                stored.add(write["doc_id"])
                documents.append(document)
        touch(self.cluster, es, documents)
        return stored

    def list(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page[Report]:
        clauses: list[Document] = [
            {"term": {field: value}}
            for field, value in (
                ("status", filters.status),
                ("category", filters.category),
                ("manufacturer_key", manufacturer_key(filters.manufacturer)),
                ("country", filters.country),
                ("source", filters.source),
                ("agency_key", name_key(filters.agency) if filters.agency else None),
            )
            if value
        ]
        if filters.unreviewed_since:
            clauses.append(unreviewed_since(filters.unreviewed_since))
        if filters.q:
            terms = text_terms(filters.q)
            if not terms:
                return Page([], None)
            clauses.append({"match": {"text": {"query": " ".join(sorted(terms)), "operator": "and"}}})
        after = decode_pair(cursor) if cursor else None  # [seq, id] of the last report served
        hits = self._page({"bool": {"filter": clauses}}, "desc", limit + 1, after)
        more = len(hits) > limit
        hits = hits[:limit]
        next_cursor = encode_cursor(hits[-1]["sort"]) if more else None
        return Page([h["_source"]["document"] for h in hits], next_cursor)

    def iter_all(self) -> Iterator[Report]:
        for hit in self.scan(self.cluster.reports_alias):
            yield hit["_source"]["document"]

    def scan(self, index: str) -> Iterator[Document]:
        """Every hit of ``index`` (``document`` and ``seq``), oldest first, one page at a time."""
        after = None
        while True:
            hits = self._page({"match_all": {}}, "asc", PAGE_SIZE, after, index)
            yield from hits
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def _create(self, es: Elasticsearch, doc_id: str, fields: Document, clash: str,
                refresh: str | bool = "wait_for") -> Document:
        """Index a report under a new ``_id``; ``Conflict`` naming the report already there, unless it is
        this very write, carried out by an attempt whose node went away before it answered."""
        alias = self.cluster.reports_alias
        try:
            return es.create(index=alias, id=doc_id, document=fields, refresh=refresh, require_alias=True).body
        except ConflictError as exc:
            mine = retried_create(es, alias, doc_id, lambda stored: stored["document"] == fields["document"])
            if mine is not None:
                if refresh:
                    es.indices.refresh(index=alias)  # the first attempt's wait for a refresh was cut off
                return mine
            existing = es.get(index=alias, id=doc_id, source_includes=["id"])["_source"]["id"]
            raise Conflict(clash, existing_id=existing) from exc

    def _copies(self, es: Elasticsearch, report_id: str) -> builtins.list[Document]:
        """Every stored copy of a report, highest version first (more than one only mid-move)."""
        return es.search(
            index=self.cluster.reports_alias,
            query={"term": {"id": report_id}},
            sort=[{"version": "desc"}],
            size=MAX_COPIES,
            seq_no_primary_term=True,
            source_includes=SOURCE_FIELDS,
            track_total_hits=False,
        )["hits"]["hits"]

    def _delete_copies(self, es: Elasticsearch, copies: builtins.list[Document]) -> builtins.list[int]:
        """Delete copies if still as read; the status of each delete.

        Any other failure leaves a copy of a lower version behind, which reads
        ignore and the report's next update removes: logged, not raised, since
        the new version is already stored.
        """
        if not copies:
            return []
        operations = [{"delete": {"_index": self.cluster.reports_alias, "_id": c["_id"], **read_position(c)}}
                      for c in copies]
        statuses = [item["status"] for item in bulk_items(es, operations, refresh="wait_for")]
        for copy, status in zip(copies, statuses):
            if status >= 300 and status not in (404, 409):
                log.warning("Could not delete copy %s of a report (%s)", copy["_id"], status)
        return statuses

    def _stale(self, es: Elasticsearch, report_id: str, expected_version: int) -> PreconditionFailed:
        """The error for a write that lost a race: names the version stored now."""
        copies = self._copies(es, report_id)
        if not copies:
            raise NotFound(f"No report with id {report_id}.")
        current = copies[0]["_source"]["document"]["version"]
        return PreconditionFailed(
            f"The report changed while it was being updated (now version {current}, expected {expected_version}).",
            current_version=current,
        )

    def _page(self, query: Document, order: str, size: int, after: builtins.list[int | str] | None,
              index: str | None = None) -> builtins.list[Document]:
        """One page in ``seq`` order; ``after`` is the sort position of the previous page's last hit."""
        with self.cluster.session() as es:
            return es.search(
                index=index or self.cluster.reports_alias,
                query=query,
                sort=[{"seq": order}, {"id": order}],
                size=size,
                search_after=after,
                source_includes=SOURCE_FIELDS,
                track_total_hits=False,
            )["hits"]["hits"]



def _write(report: Report) -> Document:
    """What an intent says a report write stores: where, which report, at which version, with what."""
    return {"doc_id": ref_id(report), "report_id": report["id"], "version": report["version"],
            "digest": digest(report)}


def _check_version(stored: int, expected: int) -> None:
    if stored != expected:
        raise PreconditionFailed(f"The report is at version {stored}, not {expected}.", current_version=stored)
