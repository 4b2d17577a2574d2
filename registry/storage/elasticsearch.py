"""Elasticsearch as the registry's engine, for deployments that outgrow one file.

Layout.  Reports live in ``{prefix}-reports-v{N}`` behind the alias
``{prefix}-reports``, check records in ``{prefix}-checks-v1`` behind
``{prefix}-checks``, API keys and the audit log likewise in ``-keys`` and
``-audit`` (audit entry ``n`` is the document with ``_id`` n); code only ever names the aliases, so ``es_admin.reindex``
can build ``v{N+1}`` and swap the alias atomically.  Mappings are explicit and
``dynamic: strict``: the report itself is kept, unindexed, in ``document``;
beside it sit the fields queries need (keywords for filters, ``terms`` and
``suffix_keys`` from ``search.keys``, ``description_terms`` from
``search.text``, analysed ``text`` for the listing filter ``q``).
Candidates come from the SQLite engine's paths with its limits, in one
``msearch`` (a description check first counts its terms' reports in
another); only the order among more than 50 reports sharing a trailing part
differs (oldest first here, by suffix there).

Description terms depend on the analysis code and vocabulary: the reports
index records the ``search.text.ANALYSIS_VERSION`` it was built with in its
mapping's ``_meta``.  An index built by other code (or before description
terms existed) gets the field added to its mapping at start-up, so writes
keep working, and a warning until ``irontrace es reindex`` rebuilds it.

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

Ordering.  ``seq`` (creation time in nanoseconds, strictly increasing within a
process, kept across updates) with ``id`` as tie-break orders listings newest
first and exports oldest first; cursors are ``search_after`` positions, which
stay valid across a reindex because the alias' new index holds the same
values.

Availability.  Nothing touches the cluster at start-up: indices are created on
first use, so the service starts with the cluster down, answers 503 through
``StorageUnavailable`` and recovers by itself.  Every client failure
(connection, timeout, 5xx, refusal, red health) becomes ``StorageUnavailable``;
each request is bounded by ``ES_TIMEOUT_SECONDS`` and retried only on fast
failures.  Report writes use ``refresh=wait_for`` so a report is checkable as
soon as it is stored; check records do not wait, since nobody reads them at
once and a check would otherwise take up to a refresh interval longer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from contextlib import contextmanager
from typing import Any, Iterator

from elasticsearch import ApiError, BadRequestError, ConflictError, Elasticsearch, NotFoundError, TransportError

from registry.audit import GENESIS_HASH, seal
from registry.errors import Conflict, InvalidRequest, NotFound, PreconditionFailed, StorageUnavailable
from registry.storage.base import (
    AuditFilter,
    Document,
    ImportOutcome,
    Lookup,
    Page,
    ReportFilter,
    Storage,
    agency_key,
    comparable,
    decode_cursor,
    encode_cursor,
    manufacturer_key,
)
from search.keys import IdentifierKeys, report_keys
from search.policy import (
    DESCRIPTION_ANCHOR_POSTINGS,
    KEY_CANDIDATE_LIMIT,
    MIN_PARTIAL_LENGTH,
    SUFFIX_CANDIDATE_LIMIT,
    TEXT_CANDIDATE_LIMIT,
)
from search.scoring import reaches_any
from search.text import (
    ANALYSIS_VERSION,
    DescriptionLookup,
    description_terms,
    indexed_words,
    plan_description_lookup,
    query_description_terms,
    report_text,
    text_terms,
)

log = logging.getLogger(__name__)

FIRST_VERSION = 1
MAX_RETRIES = 2  # connection refused or 502/503/504 may succeed on another node; timeouts are never retried
PAGE_SIZE = 1000  # documents per search_after page when walking every report
UPSERT_ATTEMPTS = 5  # an import racing another writer re-reads and retries this often
MAX_COPIES = 10  # copies of one report that can coexist: the moved one plus crash leftovers
REF_SEPARATOR = "\x1f"
SOURCE_FIELDS = ["document", "seq"]
# Enough to screen a candidate before fetching it whole, read from doc values (no _source to load).
SKELETONS_ONLY = {"_source": False, "docvalue_fields": ["skeletons"]}
WHOLE_DOCUMENT = {"_source": ["document"]}
BAD_CURSOR = "The cursor is not one this service issued."
LOST_RACE = {"status": 409, "error": {"type": "version_conflict_engine_exception",
                                      "reason": "changed by another writer on every attempt"}}

INDEX_SETTINGS: dict[str, Any] = {
    # One shard keeps ranking (text relevance, key counts) the same as on one node;
    # a million reports fit one shard easily.  A replica wherever there is a second node.
    "number_of_shards": 1,
    "auto_expand_replicas": "0-1",
}
KEYWORD = {"type": "keyword"}
STORED_ONLY = {"type": "object", "enabled": False}

ANALYSIS_META = "description_analysis"
REPORTS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {ANALYSIS_META: ANALYSIS_VERSION},
    "properties": {
        "id": KEYWORD,
        "agency_key": KEYWORD,
        "external_ref": KEYWORD,
        "status": KEYWORD,
        "category": KEYWORD,
        "manufacturer_key": KEYWORD,
        "country": KEYWORD,
        "source": KEYWORD,
        "version": {"type": "integer"},
        "created_at": {"type": "date"},
        "seq": {"type": "long"},
        "terms": KEYWORD,
        "suffix_keys": KEYWORD,
        "skeletons": {"type": "keyword", "index": False},  # read from doc values to screen candidates
        "text": {"type": "text", "analyzer": "standard"},
        "description_terms": KEYWORD,
        "document": STORED_ONLY,
    },
}

CHECKS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "check_id": KEYWORD,
        "checked_at": {"type": "date"},
        "verdict": KEYWORD,
        "matched_report_ids": KEYWORD,
        "document": STORED_ONLY,
    },
}

KEYS_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {"key_id": KEYWORD, "created_at": {"type": "date"}, "document": STORED_ONLY},
}

AUDIT_MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "seq": {"type": "long"},
        "at": {"type": "date"},
        "action": KEYWORD,
        "principal": KEYWORD,
        "subject": KEYWORD,
        "entry": STORED_ONLY,
    },
}
AUDIT_APPEND_ATTEMPTS = 20  # appenders racing for the same position; each loss moves to the new head
AUDIT_PROBE_BATCH = 50  # entries fetched at once when walking forward to the newest one
MAX_KEYS_LISTED = 10000
SHARDS_READY_TIMEOUT = "30s"  # how long a process waits for another's new index to start serving


def versioned_index(alias: str, version: int) -> str:
    return f"{alias}-v{version}"


def create_aliased_index(client: Elasticsearch, alias: str, mappings: Document, settings: Document) -> str | None:
    """Create the first version of an index behind ``alias`` unless the alias exists; the index created.

    Safe when every worker does it at once: the loser of the race sees the index already there,
    and waits, as the creator did, until its primary shard can serve (a search of an index whose
    shard is still starting fails).
    """
    index = versioned_index(alias, FIRST_VERSION)
    if not client.indices.exists_alias(name=alias):
        try:
            client.indices.create(index=index, mappings=mappings, settings=settings, aliases={alias: {}})
            return index
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
    # Not ``wait_for_status``: a new index reports yellow before its primary has started.
    client.cluster.health(index=alias, wait_for_active_shards=str(INDEX_SETTINGS["number_of_shards"]),
                          timeout=SHARDS_READY_TIMEOUT)
    return None


def ref_id(document: Document) -> str:
    """The ``_id`` of a report: one per (agency, case number), so the index enforces uniqueness."""
    key = agency_key(document) + REF_SEPARATOR + document["external_ref"]
    return hashlib.sha256(key.encode()).hexdigest()


def report_fields(document: Document, seq: int, content: Document | None = None) -> Document:
    """What is indexed for one report: the document plus the fields queries use.

    ``content`` is ``content_fields(document)`` when already computed (in an
    import worker): an import's update changes only id, version and dates.
    """
    return {
        **(content or content_fields(document)),
        "id": document["id"],
        "version": document["version"],
        "created_at": document["created_at"],
        "seq": seq,
        "document": document,
    }


def content_fields(document: Document) -> Document:
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


def bulk_items(client: Elasticsearch, operations: list[Document], **params: Any) -> list[Document]:
    """One bulk call; the result of each operation (``status``, ``error``, ``_seq_no``...) in order."""
    response = client.bulk(operations=operations, **params)
    return [next(iter(item.values())) for item in response["items"]]


def describe_failure(document: Document, item: Document) -> dict[str, Any]:
    """One report a batch could not store (``item`` as bulk answers it), for the error's ``failures``."""
    error = item.get("error") or {}
    return {
        "external_ref": document["external_ref"],
        "agency": document["reporting_agency"]["name"],
        "status": item["status"],
        "error": f"{error.get('type')}: {error.get('reason')}",
    }


class ElasticsearchStorage(Storage):
    """Reports, check records, API keys and the audit log in Elasticsearch, behind versioned aliases."""

    name = "elasticsearch"

    def __init__(self, client: Elasticsearch, index_prefix: str, refresh_interval: str = "1s") -> None:
        self.client = client
        # How soon writes become searchable; ``refresh=wait_for`` writes wait up to this long.
        self.index_settings = {**INDEX_SETTINGS, "refresh_interval": refresh_interval}
        # Check records, like SQLite's, skip the fsync per write: a check is not worth doubling
        # its latency for, and the translog is flushed within seconds anyway.
        self.checks_settings = {**self.index_settings, "translog": {"durability": "async"}}
        self.reports_alias = f"{index_prefix}-reports"
        self.checks_alias = f"{index_prefix}-checks"
        self.keys_alias = f"{index_prefix}-keys"
        self.audit_alias = f"{index_prefix}-audit"
        self._audit_lock = threading.Lock()
        self._audit_head: tuple[int, str] | None = None  # (seq, hash) of the newest entry seen here
        self._indices_ready = False
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> "ElasticsearchStorage":
        """A client from the ``ES_*`` settings; it connects on first use, never here."""
        auth: dict[str, Any] = {}
        if settings.get("ES_API_KEY"):
            auth["api_key"] = settings["ES_API_KEY"]
        elif settings.get("ES_USERNAME"):
            auth["basic_auth"] = (settings["ES_USERNAME"], settings.get("ES_PASSWORD") or "")
        client = Elasticsearch(
            [url.strip() for url in settings["ES_URL"].split(",")],
            ca_certs=settings.get("ES_CA_CERTS"),
            request_timeout=settings["ES_TIMEOUT_SECONDS"],
            max_retries=MAX_RETRIES,
            retry_on_timeout=False,
            **auth,
        )
        return cls(client, settings["ES_INDEX_PREFIX"], settings["ES_REFRESH_INTERVAL"])

    # -- plumbing --------------------------------------------------------------------

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Every client failure leaves as ``StorageUnavailable`` (503 + Retry-After), chained."""
        try:
            yield
        except ApiError as exc:
            if exc.error == "index_not_found_exception":
                self._indices_ready = False  # deleted behind our back: recreated on the next call
            log.warning("Elasticsearch refused a request: %s", exc)
            detail = f"Elasticsearch cannot serve the request ({exc.status_code} {exc.error})."
            raise StorageUnavailable(detail) from exc
        except TransportError as exc:
            log.warning("Elasticsearch unreachable: %s", exc)
            raise StorageUnavailable(f"Elasticsearch cannot be reached ({type(exc).__name__}).") from exc

    @contextmanager
    def _session(self) -> Iterator[Elasticsearch]:
        """The client, with indices in place and failures translated.

        No lock around the lazy init: it is idempotent, and a lock would queue
        every request behind one attempt that may wait a whole timeout.
        """
        with self.translate_errors():
            if not self._indices_ready:
                self.init_indices()
            yield self.client

    def init_indices(self) -> list[str]:
        """Create each missing index with its alias; safe when every worker does it at once."""
        created = []
        with self.translate_errors():
            for alias, mappings, settings in (
                (self.reports_alias, REPORTS_MAPPINGS, self.index_settings),
                (self.checks_alias, CHECKS_MAPPINGS, self.checks_settings),
                (self.keys_alias, KEYS_MAPPINGS, self.index_settings),
                (self.audit_alias, AUDIT_MAPPINGS, self.index_settings),
            ):
                index = create_aliased_index(self.client, alias, mappings, settings)
                if index:
                    created.append(index)
            if versioned_index(self.reports_alias, FIRST_VERSION) not in created:
                self._check_analysis_version()
        self._indices_ready = True
        return created

    def _check_analysis_version(self) -> None:
        """An index built with other description analysis: add the field so writes keep working, and warn."""
        mapping = next(iter(self.client.indices.get_mapping(index=self.reports_alias).values()))["mappings"]
        if "description_terms" not in mapping.get("properties", {}):
            self.client.indices.put_mapping(index=self.reports_alias,
                                            properties={"description_terms": KEYWORD})
        built_with = mapping.get("_meta", {}).get(ANALYSIS_META)
        if built_with != ANALYSIS_VERSION:
            log.warning("The reports index was built with description analysis %s, this code uses %s: "
                        "description checks miss reports until `irontrace es reindex` rebuilds it.",
                        built_with, ANALYSIS_VERSION)

    def _next_seq(self) -> int:
        """Creation order: wall-clock nanoseconds, strictly increasing within this process."""
        with self._seq_lock:
            self._last_seq = max(time.time_ns(), self._last_seq + 1)
            return self._last_seq

    def close(self) -> None:
        self.client.close()

    def ping(self) -> None:
        with self._session() as es:
            health = es.cluster.health(index=[self.reports_alias, self.checks_alias, self.keys_alias,
                                              self.audit_alias])
        if health["status"] == "red":
            raise StorageUnavailable("Elasticsearch reports red health: some registry data is unavailable.")

    # -- reports ---------------------------------------------------------------------

    def create_report(self, document: Document) -> Document:
        with self._session() as es:
            self._create(es, ref_id(document), report_fields(document, self._next_seq()),
                         "A report with this external_ref already exists for this agency.")
        return document

    def get_report(self, report_id: str) -> Document:
        with self._session() as es:
            copies = self._copies(es, report_id)
        if not copies:
            raise NotFound(f"No report with id {report_id}.")
        return copies[0]["_source"]["document"]

    def replace_report(self, document: Document, expected_version: int) -> Document:
        with self._session() as es:
            copies = self._copies(es, document["id"])
            if not copies:
                raise NotFound(f"No report with id {document['id']}.")
            current = copies[0]
            _check_version(current["_source"]["document"]["version"], expected_version)
            target = ref_id(document)
            fields = report_fields(document, current["_source"]["seq"])
            if current["_id"] == target:
                try:
                    es.index(index=self.reports_alias, id=target, document=fields, refresh="wait_for",
                             require_alias=True, **_read_position(current))
                except ConflictError as exc:
                    raise self._stale(es, document["id"], expected_version) from exc
                self._delete_copies(es, copies[1:])
            else:
                # No refresh yet: the delete below waits for one that shows both changes.
                written = self._create(es, target, fields, "Another report of this agency has this external_ref.",
                                       refresh=False)
                if self._delete_copies(es, copies)[0] in (404, 409):
                    # The old copy changed or vanished since it was read: undo the move.
                    es.delete(index=self.reports_alias, id=target, refresh="wait_for", **_read_position(written))
                    raise self._stale(es, document["id"], expected_version)
        return document

    def upsert_reports(self, documents: list[Document]) -> list[ImportOutcome]:
        return self.upsert_prepared(self.prepare_reports(documents))

    @staticmethod
    def prepare_reports(documents: list[Document]) -> list[tuple[Document, Document]]:
        """Each document with its ``content_fields``, computed in an import worker."""
        return [(document, content_fields(document)) for document in documents]

    def upsert_prepared(self, prepared: list[tuple[Document, Document]]) -> list[ImportOutcome]:
        """One ``mget`` and one ``bulk`` per attempt; documents that raced another writer are retried."""
        outcomes: dict[int, ImportOutcome] = {}
        pending = list(range(len(prepared)))
        for _ in range(UPSERT_ATTEMPTS):
            if not pending:
                break
            pending = self._upsert_once(prepared, pending, outcomes)
        if pending:
            raise StorageUnavailable(
                "Some reports kept changing while they were imported; importing again is safe.",
                failures=[describe_failure(prepared[i][0], LOST_RACE) for i in pending],
            )
        return [outcomes[i] for i in range(len(prepared))]

    def _upsert_once(self, prepared: list[tuple[Document, Document]], pending: list[int],
                     outcomes: dict[int, ImportOutcome]) -> list[int]:
        """Write the pending documents; fill their outcomes; return those that hit a version conflict."""
        ids = [ref_id(prepared[i][0]) for i in pending]
        operations: list[Document] = []
        planned: list[tuple[int, ImportOutcome]] = []
        with self._session() as es:
            found = es.mget(index=self.reports_alias, ids=ids, source_includes=SOURCE_FIELDS)["docs"]
            for i, doc_id, hit in zip(pending, ids, found):
                document, content = prepared[i]
                if not hit["found"]:
                    operations += [{"create": {"_index": self.reports_alias, "_id": doc_id}},
                                   report_fields(document, self._next_seq(), content)]
                    planned.append((i, ImportOutcome("created", document["id"])))
                    continue
                stored = hit["_source"]["document"]
                merged = {**document, "id": stored["id"], "created_at": stored["created_at"]}
                if comparable(merged) == comparable(stored):
                    outcomes[i] = ImportOutcome("unchanged", stored["id"])
                    continue
                merged["version"] = stored["version"] + 1
                operations += [{"index": {"_index": self.reports_alias, "_id": doc_id, **_read_position(hit)}},
                               report_fields(merged, hit["_source"]["seq"], content)]
                planned.append((i, ImportOutcome("updated", merged["id"])))
            if not operations:
                return []
            items = bulk_items(es, operations, refresh="wait_for", require_alias=True)
        conflicts, failures = [], []
        for (i, outcome), item in zip(planned, items):
            if item["status"] < 300:
                outcomes[i] = outcome
            elif item["status"] == 409:
                conflicts.append(i)
            else:
                failures.append(describe_failure(prepared[i][0], item))
        if failures:
            raise StorageUnavailable(
                f"Elasticsearch refused {len(failures)} of {len(planned)} reports in a batch; "
                "the others were stored and importing again is safe.",
                failures=failures,
            )
        return conflicts

    def list_reports(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page:
        clauses: list[Document] = [
            {"term": {field: value}}
            for field, value in (
                ("status", filters.status),
                ("category", filters.category),
                ("manufacturer_key", manufacturer_key(filters.manufacturer)),
                ("country", filters.country),
                ("source", filters.source),
            )
            if value
        ]
        if filters.q:
            terms = text_terms(filters.q)
            if not terms:
                return Page([], None)
            clauses.append({"match": {"text": {"query": " ".join(sorted(terms)), "operator": "and"}}})
        after = _position(cursor) if cursor else None
        hits = self._page({"bool": {"filter": clauses}}, "desc", limit + 1, after)
        more = len(hits) > limit
        hits = hits[:limit]
        next_cursor = encode_cursor(hits[-1]["sort"]) if more else None
        return Page([h["_source"]["document"] for h in hits], next_cursor)

    def iter_reports(self) -> Iterator[Document]:
        for hit in self.scan(self.reports_alias):
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

    # -- checks ----------------------------------------------------------------------

    def find_candidates_many(self, lookups: list[Lookup]) -> list[list[Document]]:
        """The retrieval paths of the SQLite engine, with its limits and screening.

        One ``msearch`` returns only the identifier skeletons of identifier
        candidates (from doc values); those ``within_reach`` of the reading are
        then fetched whole with one ``mget``.  Loading and shipping every
        candidate's full document would dominate a check.  A batch of checks
        (bulk checks) sends the searches of all of them in that one
        ``msearch`` and fetches each screened report once.
        """
        with self._session() as es:
            plans = self._description_plans(es, [description for _, description in lookups])
            searches = [_candidate_searches(keys, plan) for (keys, _), plan in zip(lookups, plans)]
            flat = [body for bodies in searches for body in bodies]
            if not flat:
                return [[] for _ in lookups]
            responses = iter(self._msearch(es, flat))
            hits_per_lookup = [[h for _ in bodies for h in next(responses)["hits"]["hits"]] for bodies in searches]
            whole = {h["_id"]: h["_source"]["document"] for hits in hits_per_lookup for h in hits if "_source" in h}
            screened = [
                [h["_id"] for h in hits if "_source" in h or reaches_any(keys.skeleton, h["fields"]["skeletons"])]
                for hits, (keys, _) in zip(hits_per_lookup, lookups)
            ]
            wanted = list(dict.fromkeys(i for ids in screened for i in ids if i not in whole))
            if wanted:
                found = es.mget(index=self.reports_alias, ids=wanted, source_includes=["document"])["docs"]
                whole.update({d["_id"]: d["_source"]["document"] for d in found if d.get("found")})
        candidates = []
        for ids in screened:
            by_report: dict[str, Document] = {}
            for doc_id in ids:
                if doc_id in whole:
                    by_report.setdefault(whole[doc_id]["id"], whole[doc_id])
            candidates.append(list(by_report.values()))
        return candidates

    def _description_plans(self, es: Elasticsearch, descriptions: list[str | None]) -> list[DescriptionLookup | None]:
        """Each description's lookup plan, from one ``msearch`` counting its terms' reports (up to the cap)."""
        weights = [query_description_terms(d) if d else {} for d in descriptions]
        counted = sorted({t for w in weights for t in w})
        if not counted:
            return [None for _ in descriptions]
        counts = self._msearch(es, [{"size": 0, "track_total_hits": DESCRIPTION_ANCHOR_POSTINGS + 1,
                                     "query": {"term": {"description_terms": t}}} for t in counted])
        postings = {t: c["hits"]["total"]["value"] for t, c in zip(counted, counts)}
        return [plan_description_lookup(w, postings) if w else None for w in weights]

    def _msearch(self, es: Elasticsearch, searches: list[Document]) -> list[Document]:
        """Responses to searches of the reports, in order; a failed one fails them all."""
        responses = es.msearch(index=self.reports_alias, searches=[part for s in searches for part in ({}, s)])[
            "responses"]
        for response in responses:
            if "error" in response:
                error = response["error"]
                raise StorageUnavailable(f"Elasticsearch could not search for candidates ({error.get('type')}).")
        return responses

    def save_check(self, record: Document) -> None:
        """Kept without waiting for a refresh: nobody searches the record at once, and a check
        would otherwise take up to one refresh interval longer."""
        fields = {
            "check_id": record["check_id"],
            "checked_at": record["checked_at"],
            "verdict": record["verdict"],
            "matched_report_ids": record["matched_report_ids"],
            "document": record,
        }
        with self._session() as es:
            es.create(index=self.checks_alias, id=record["check_id"], document=fields, require_alias=True)

    def get_check(self, check_id: str) -> Document:
        with self._session() as es:
            try:
                return es.get(index=self.checks_alias, id=check_id, source_includes=["document"])["_source"][
                    "document"
                ]
            except NotFoundError as exc:
                raise NotFound(f"No check with id {check_id}.") from exc

    # -- API keys --------------------------------------------------------------------

    def create_key(self, record: Document) -> None:
        with self._session() as es:
            try:
                es.create(index=self.keys_alias, id=record["key_id"], document=_key_fields(record),
                          refresh="wait_for", require_alias=True)
            except ConflictError as exc:
                raise Conflict(f"A key with id {record['key_id']} exists.") from exc

    def get_key(self, key_id: str) -> Document:
        with self._session() as es:
            try:
                return es.get(index=self.keys_alias, id=key_id)["_source"]["document"]
            except NotFoundError as exc:
                raise NotFound(f"No key with id {key_id}.") from exc

    def replace_key(self, record: Document) -> None:
        with self._session() as es:
            es.index(index=self.keys_alias, id=record["key_id"], document=_key_fields(record),
                     refresh="wait_for", require_alias=True)

    def list_keys(self) -> list[Document]:
        with self._session() as es:
            hits = es.search(index=self.keys_alias, sort=[{"created_at": "asc"}, {"key_id": "asc"}],
                             size=MAX_KEYS_LISTED, source=["document"])["hits"]["hits"]
        return [hit["_source"]["document"] for hit in hits]

    # -- audit log -------------------------------------------------------------------

    def append_audit(self, entry: Document) -> Document:
        """Entry ``n`` is the document with ``_id`` n, created with ``op_type=create``: of two
        appenders (in any process) racing for a position, the index lets exactly one win; the
        other walks forward to the new head and tries the next position."""
        with self._session() as es, self._audit_lock:
            seq, prev_hash = self._audit_head or self._newest_audit_entry(es)
            for _ in range(AUDIT_APPEND_ATTEMPTS):
                sealed = seal(entry, seq + 1, prev_hash)
                try:
                    es.create(index=self.audit_alias, id=str(seq + 1), document=_audit_fields(sealed),
                              require_alias=True)
                except ConflictError:
                    seq, prev_hash = self._newest_audit_entry(es, known=(seq, prev_hash))
                    continue
                self._audit_head = (seq + 1, sealed["hash"])
                return sealed
        raise StorageUnavailable("The audit log is busy: other writers took every position tried; retry.")

    def _newest_audit_entry(self, es: Elasticsearch, known: tuple[int, str] = (0, GENESIS_HASH)) -> tuple[int, str]:
        """(seq, hash) of the newest entry: search (which may lag a refresh behind), then walk
        forward with real-time gets, which never lag."""
        hits = es.search(index=self.audit_alias, sort=[{"seq": "desc"}], size=1, source=["entry.hash"],
                         track_total_hits=False)["hits"]["hits"]
        seq, head_hash = known
        if hits and hits[0]["_source"]["entry"]["hash"] and int(hits[0]["_id"]) > seq:
            seq, head_hash = int(hits[0]["_id"]), hits[0]["_source"]["entry"]["hash"]
        while True:
            ids = [str(n) for n in range(seq + 1, seq + 1 + AUDIT_PROBE_BATCH)]
            found = es.mget(index=self.audit_alias, ids=ids, source=["entry.hash"])["docs"]
            for doc in found:
                if not doc.get("found"):
                    return seq, head_hash
                seq, head_hash = int(doc["_id"]), doc["_source"]["entry"]["hash"]

    def iter_audit(self) -> Iterator[tuple[int, Document]]:
        after = None
        while True:
            hits = self._audit_page({"match_all": {}}, PAGE_SIZE, after, refresh=after is None)
            for hit in hits:
                yield int(hit["_id"]), hit["_source"]["entry"]
            if len(hits) < PAGE_SIZE:
                return
            after = hits[-1]["sort"]

    def list_audit(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page:
        conditions: list[Document] = [
            {"term": {name: value}}
            for name, value in (("action", filters.action), ("principal", filters.principal),
                                ("subject", filters.subject))
            if value is not None
        ]
        period = {op: value for op, value in (("gte", filters.since), ("lt", filters.until)) if value}
        if period:
            conditions.append({"range": {"at": period}})
        after = [decode_cursor(cursor, int)] if cursor else None
        hits = self._audit_page({"bool": {"filter": conditions}}, limit + 1, after, refresh=cursor is None)
        more = len(hits) > limit
        hits = hits[:limit]
        return Page([hit["_source"]["entry"] for hit in hits], encode_cursor(hits[-1]["sort"][0]) if more else None)

    def _audit_page(self, query: Document, size: int, after: list | None, refresh: bool) -> list[Document]:
        """Entries by ``seq``; a reader asking first refreshes, so it sees every entry appended
        so far (appends themselves never wait for a refresh)."""
        with self._session() as es:
            if refresh:
                es.indices.refresh(index=self.audit_alias)
            return es.search(index=self.audit_alias, query=query, sort=[{"seq": "asc"}], size=size,
                             search_after=after, source=["entry"], track_total_hits=False)["hits"]["hits"]

    # -- internals -------------------------------------------------------------------

    def _create(self, es: Elasticsearch, doc_id: str, fields: Document, clash: str,
                refresh: str | bool = "wait_for") -> Document:
        """Index a report under a new ``_id``; ``Conflict`` naming the report already there."""
        try:
            return es.create(index=self.reports_alias, id=doc_id, document=fields, refresh=refresh,
                             require_alias=True).body
        except ConflictError as exc:
            existing = es.get(index=self.reports_alias, id=doc_id, source_includes=["id"])["_source"]["id"]
            raise Conflict(clash, existing_id=existing) from exc

    def _copies(self, es: Elasticsearch, report_id: str) -> list[Document]:
        """Every stored copy of a report, highest version first (more than one only mid-move)."""
        return es.search(
            index=self.reports_alias,
            query={"term": {"id": report_id}},
            sort=[{"version": "desc"}],
            size=MAX_COPIES,
            seq_no_primary_term=True,
            source=SOURCE_FIELDS,
            track_total_hits=False,
        )["hits"]["hits"]

    def _delete_copies(self, es: Elasticsearch, copies: list[Document]) -> list[int]:
        """Delete copies if still as read; the status of each delete.

        Any other failure leaves a copy of a lower version behind, which reads
        ignore and the report's next update removes: logged, not raised, since
        the new version is already stored.
        """
        if not copies:
            return []
        operations = [{"delete": {"_index": self.reports_alias, "_id": c["_id"], **_read_position(c)}}
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

    def _page(self, query: Document, order: str, size: int, after: list | None, index: str | None = None
              ) -> list[Document]:
        """One page in ``seq`` order; ``after`` is the sort position of the previous page's last hit."""
        with self._session() as es:
            return es.search(
                index=index or self.reports_alias,
                query=query,
                sort=[{"seq": order}, {"id": order}],
                size=size,
                search_after=after,
                source=SOURCE_FIELDS,
                track_total_hits=False,
            )["hits"]["hits"]


def _key_fields(record: Document) -> Document:
    return {"key_id": record["key_id"], "created_at": record["created_at"], "document": record}


def _audit_fields(entry: Document) -> Document:
    return {"seq": entry["seq"], "at": entry["at"], "action": entry["action"],
            "principal": entry["actor"]["principal"], "subject": entry["subject"], "entry": entry}


def _candidate_searches(keys: IdentifierKeys | None, plan: DescriptionLookup | None) -> list[Document]:
    """The searches of one check: shared keys, shared trailing part, description terms."""
    searches: list[Document] = []
    if keys is not None:
        # Each shared key adds exactly 1 to the score: best = most keys in common, then oldest.
        shared = [{"constant_score": {"filter": {"term": {"terms": t}}, "boost": 1}} for t in keys.terms]
        searches.append(_search({"bool": {"should": shared}}, KEY_CANDIDATE_LIMIT, SKELETONS_ONLY, ranked=True))
        if len(keys.skeleton) >= MIN_PARTIAL_LENGTH:
            searches.append(_search({"prefix": {"suffix_keys": keys.suffix_key}}, SUFFIX_CANDIDATE_LIMIT,
                                    SKELETONS_ONLY))
    if plan is not None and plan.anchors:
        # Each query term a report holds adds its weight: best = heaviest in common, then oldest.
        held = [{"constant_score": {"filter": {"term": {"description_terms": t}}, "boost": w}}
                for t, w in plan.weights.items()]
        anchored = {"bool": {"filter": [{"terms": {"description_terms": list(plan.anchors)}}], "should": held}}
        searches.append(_search(anchored, TEXT_CANDIDATE_LIMIT, WHOLE_DOCUMENT, ranked=True))
    if plan is not None and plan.required:
        holding_all = {"bool": {"filter": [{"term": {"description_terms": t}} for t in plan.required]}}
        searches.append(_search(holding_all, TEXT_CANDIDATE_LIMIT, WHOLE_DOCUMENT))
    return searches


def _search(query: Document, size: int, returned: Document, ranked: bool = False) -> Document:
    """One ``msearch`` body: best score first (then oldest) when ranked, else oldest first."""
    sort = [{"_score": "desc"}, {"seq": "asc"}] if ranked else [{"seq": "asc"}]
    return {"query": query, "size": size, "sort": sort, "track_total_hits": False, **returned}


def _read_position(hit: Document) -> dict[str, int]:
    """Optimistic concurrency: the write applies only if the document is still as read."""
    return {"if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}


def _check_version(stored: int, expected: int) -> None:
    if stored != expected:
        raise PreconditionFailed(f"The report is at version {stored}, not {expected}.", current_version=stored)


def _position(cursor: str) -> list:
    """A listing cursor is ``[seq, id]`` of the last report served."""
    position = decode_cursor(cursor, list)
    if len(position) != 2 or type(position[0]) is not int or not isinstance(position[1], str):
        raise InvalidRequest(BAD_CURSOR)
    return position

