"""The rules of the registry, independent of HTTP and of the storage engine.

``ReportService`` owns what a valid report is and how versions move;
``CheckService`` turns a reading into a verdict and keeps a record of it.
"""

from __future__ import annotations

from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from marshmallow import ValidationError

from registry.access import CHECK, CONTACT_ONLY, FULL_DETAILS, READ_REPORTS, Actor
from registry.audit import AuditService
from registry.errors import Forbidden, IronTraceError, ValidationFailed, flatten_messages
from registry.stamps import new_id, utc_now
from registry.schemas import ReportInputSchema
from registry.storage.base import Document, ImportOutcome, Page, ReportFilter, Storage, agency_key
from search.keys import query_keys
from search.matching import HIT_MATCH_TYPES, CheckOutcome, CheckQuery, Match, rank
from search.vocabulary import SIMILAR

if TYPE_CHECKING:
    from integrations.federation import Federation, SourceAnswer

SERVER_FIELDS = ("id", "version", "created_at", "updated_at")
LOCAL_SOURCE = "local"  # the ``source`` of a match from this registry
IMPORT_BATCH_SIZE = 5000  # large batches let sorted index inserts share pages
IMPORT_BATCHES_IN_FLIGHT_PER_WORKER = 2


_input_schema = ReportInputSchema()


def validate_report(data: Any) -> Document:
    """A report as submitted, validated; ``ValidationFailed`` lists every bad field."""
    try:
        return _input_schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from exc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass(frozen=True)
class RowError:
    """An imported row that was rejected, and why."""

    row: int
    external_ref: str | None
    errors: list[dict[str, str]]


class ReportService:
    def __init__(self, storage: Storage, audit: AuditService) -> None:
        self.storage = storage
        self.audit = audit

    def create(self, report: Document, actor: Actor) -> Document:
        """Store a report already validated by ``ReportInputSchema``."""
        actor.require_write(report)
        actor.require_same_source(None, report)
        now = utc_now()
        document = {**report, "id": new_id(), "version": 1, "created_at": now, "updated_at": now}
        stored = self.storage.create_report(document)
        self.audit.record(actor, "report.create", stored["id"], {"before": None, "after": stored})
        return stored

    def get(self, report_id: str, actor: Actor) -> Document:
        actor.require(READ_REPORTS)
        return self.storage.get_report(report_id)

    def update(self, report_id: str, patch: Document, expected_version: int, actor: Actor) -> Document:
        """Apply a merge patch to the version the client saw; the whole result is revalidated.

        An agency must own the report both before and after: it can neither
        edit another agency's report nor hand its own to another agency.
        """
        stored = self.storage.get_report(report_id)
        actor.require_write(stored)
        editable = {k: v for k, v in stored.items() if k not in SERVER_FIELDS}
        merged = validate_report(merge_patch(editable, patch))
        document = {
            **merged,
            "id": stored["id"],
            "created_at": stored["created_at"],
            "version": expected_version + 1,
            "updated_at": utc_now(),
        }
        actor.require_write(document)
        actor.require_same_source(stored, document)
        updated = self.storage.replace_report(document, expected_version)
        self.audit.record(actor, "report.update", report_id, {"before": stored, "after": updated})
        return updated

    def record_import(self, actor: Actor, source: str, summary: ImportSummary, **counts: int) -> None:
        """One audit entry per import run (a file, a feed pull): a million rows are one act of one actor."""
        self.audit.record(actor, "reports.import", None, {
            "source": source, "created": summary.created, "updated": summary.updated,
            "unchanged": summary.unchanged, "rejected": len(summary.rejected), **counts,
        })

    def list(self, filters: ReportFilter, limit: int, cursor: str | None, actor: Actor) -> Page:
        """Listing and text search enumerate the registry: only roles that read reports may."""
        actor.require(READ_REPORTS)
        return self.storage.list_reports(filters, limit, cursor)

    def export(self) -> Iterator[Document]:
        return self.storage.iter_reports()

    def import_rows(
        self,
        rows: Iterable[tuple[int, Any]],
        on_batch: Callable[[], None] | None = None,
        workers: int = 0,
    ) -> ImportSummary:
        """Upsert rows by (agency, case number) in batches; a bad row never stops the rest.

        Validation and the engine's preparation are the costly part of an
        import; with ``workers`` > 0 they run in that many processes while
        this one writes the batches, in input order, to storage.
        """
        summary = ImportSummary()
        for prepared, rejected in _prepared_batches(rows, workers, self.storage.prepare_reports):
            summary.add(self.storage.upsert_prepared(prepared), rejected)
            if on_batch:
                on_batch()
        return summary


def prepare_import_batch(
    rows: list[tuple[int, Any]], prepare: Callable[[list[Document]], Any]
) -> tuple[Any, list[RowError]]:
    """Validate imported rows into new documents (the last row of a case number wins),
    then let the engine do its CPU-only preparation of them."""
    documents, rejected = [], []
    now = utc_now()
    for number, data in rows:
        try:
            if isinstance(data, IronTraceError):
                raise data
            report = validate_report(_without_server_fields(data))
        except ValidationFailed as exc:
            rejected.append(RowError(number, _ref_of(data), exc.extra["errors"]))
            continue
        except IronTraceError as exc:
            rejected.append(RowError(number, None, [{"field": "_row", "message": exc.detail}]))
            continue
        documents.append({**report, "id": new_id(), "version": 1, "created_at": now, "updated_at": now})
    return prepare(_last_of_each_ref(documents)), rejected


def _prepared_batches(
    rows: Iterable[tuple[int, Any]], workers: int, prepare: Callable[[list[Document]], Any]
) -> Iterator[tuple[Any, list[RowError]]]:
    """Prepared batches in input order, at most a few in flight so memory stays flat."""
    batches = _batches(rows, IMPORT_BATCH_SIZE)
    if workers < 1:
        yield from (prepare_import_batch(batch, prepare) for batch in batches)
        return
    with ProcessPoolExecutor(workers) as pool:
        pending: deque[Future] = deque()
        for batch in batches:
            pending.append(pool.submit(prepare_import_batch, batch, prepare))
            if len(pending) >= workers * IMPORT_BATCHES_IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


@dataclass
class ImportSummary:
    """Counts of what an import did, and every rejected row with its reasons."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def add(self, outcomes: list[ImportOutcome], rejected: list[RowError]) -> None:
        for outcome in outcomes:
            setattr(self, outcome.action, getattr(self, outcome.action) + 1)
        self.rejected.extend(rejected)


def _batches(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    batch = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _without_server_fields(data: Any) -> Any:
    """Exported reports carry id and version; an import matches by case number instead."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in SERVER_FIELDS}


def _ref_of(data: Any) -> str | None:
    return data.get("external_ref") if isinstance(data, dict) else None


def _last_of_each_ref(documents: list[Document]) -> list[Document]:
    """Within one batch a case number seen twice means its last row wins, as in a replay."""
    last: dict[tuple[str, str], Document] = {}
    for document in documents:
        last[(agency_key(document), document["external_ref"])] = document
    return list(last.values())


class CheckService:
    def __init__(self, storage: Storage, audit: AuditService, federation: Federation | None = None) -> None:
        self.storage = storage
        self.audit = audit
        self.federation = federation

    def check(self, query: CheckQuery, actor: Actor) -> tuple[Document, CheckOutcome]:
        """Check one reading, and record the check and who made it.

        With external sources configured, they are asked first and answer in
        parallel while the local registry is searched; their records join the
        local candidates in the same ranking.  Without, nothing else happens.
        """
        [(outcome, answers)] = self.decide([query], actor)
        record = {
            "check_id": new_id(),
            "checked_at": utc_now(),
            "query": {k: v for k, v in vars(query).items() if v is not None},
            "verdict": outcome.verdict,
            "matched_report_ids": [m.report["id"] for m in outcome.matches if not _external_source(m)],
            "hit_sources": hit_sources(outcome),
        }
        if answers:
            record["sources"] = [source_view(answer) for answer in answers]
            record["external_matches"] = [
                {"source": _external_source(m), "record_id": m.report["external_ref"]}
                for m in outcome.matches if _external_source(m)
            ]
        self.storage.save_check(record)
        self.audit.record(actor, "check", record["check_id"],
                          {k: v for k, v in record.items() if k not in ("check_id", "checked_at")})
        return record, outcome

    def decide(self, queries: list[CheckQuery], actor: Actor) -> list[tuple[CheckOutcome, list[SourceAnswer]]]:
        """Outcomes of a batch of checks, in order, with each external source's answer.

        Every external lookup is sent first, so a batch waits about one
        deadline, not one per reading; the local candidates of the whole batch
        come from one batched lookup; each reading is then ranked exactly as a
        single check ranks it.  Nothing is recorded here: a single check
        records itself, and a bulk check's job is the record of its rows.

        Searching descriptions is searching the registry's contents, which
        only roles that may read reports do: for anyone else a description
        can rank what the identifier found, never find anything itself.
        """
        actor.require(CHECK)
        may_search_text = actor.may(READ_REPORTS)
        if not may_search_text and any(not query.identifier for query in queries):
            raise Forbidden(f"The {actor.role} role checks by identifier; a description alone searches the registry.")
        pending = [self.federation.start(q, actor.role) for q in queries] if self.federation else [None] * len(queries)
        lookups = [(query_keys(q.identifier) if q.identifier else None, q.description if may_search_text else None)
                   for q in queries]
        decided = []
        for query, found, lookup in zip(queries, self.storage.find_candidates_many(lookups), pending):
            answers = lookup.collect() if lookup else []
            external = [match.as_report() for answer in answers for match in answer.matches]
            decided.append((rank(query, [*found, *external]), answers))
        return decided

    def sources_health(self, actor: Actor) -> list[Document]:
        """Health and circuit state of each external source, for those who check."""
        actor.require(CHECK)
        return self.federation.health() if self.federation else []


def _external_source(match: Match) -> str | None:
    return match.report.get("external_source")


def hit_sources(outcome: CheckOutcome) -> list[str]:
    """Where the hit came from: the sources of active matches equal to the reading."""
    return sorted({
        _external_source(m) or LOCAL_SOURCE
        for m in outcome.matches
        if m.active and m.match_type in HIT_MATCH_TYPES
    })


def source_view(answer: SourceAnswer) -> Document:
    """How one external source did for a check."""
    view: Document = {"name": answer.name, "status": answer.status, "elapsed_ms": answer.elapsed_ms,
                      "matches": len(answer.matches), "cached": answer.cached}
    if answer.detail:
        view["detail"] = answer.detail
    return view


def check_view(record: Document, outcome: CheckOutcome, detail: str = FULL_DETAILS) -> Document:
    """What a check answers: the verdict, its matches at the detail the asker's role may see,
    where hits came from and how each source did."""
    return {
        "check_id": record["check_id"],
        "checked_at": record["checked_at"],
        "verdict": outcome.verdict,
        "matches": [match_view(m, detail) for m in outcome.matches],
        "hit_sources": record["hit_sources"],
        "sources": record.get("sources", []),
    }


def match_view(match: Match, detail: str = FULL_DETAILS) -> Document:
    """What a check answers about one matched report, local or external, at the detail the
    asker's role may see."""
    report = match.report
    source = _external_source(match)
    if detail == CONTACT_ONLY:
        view = {"external_ref": report["external_ref"], "active": match.active, "tier": match.tier,
                "reporting_agency": report["reporting_agency"], "source": source or LOCAL_SOURCE}
        if source:
            view["reference"] = report.get("external_reference")  # what the dealer quotes to follow up
        return view
    identifier = match.identifier
    explanation = match.explanation
    if not match.active:
        explanation = f"report is {report['status']}: information only, not a hit; {explanation}"
    view = {
        "report_id": None if source else report["id"],
        "external_ref": report["external_ref"],
        "status": report["status"],
        "active": match.active,
        "identifier": {"type": identifier["type"], "value": identifier["value"]} if identifier else None,
        "score": match.score,
        "match_type": match.match_type,
        "tier": match.tier,
        "explanation": explanation,
        "category": report.get("category"),
        "manufacturer": report.get("manufacturer"),
        "model": report.get("model"),
        "year": report.get("year"),
        "color": report.get("color"),
        "description": report.get("description"),
        "incident": report.get("incident"),
        "value": report.get("value"),
        "reporting_agency": report["reporting_agency"],
        "source": source or LOCAL_SOURCE,
    }
    if source:
        view["reference"] = report.get("external_reference")
    return view


def bulk_row_result(row: Document, outcome: CheckOutcome | None, detail: str = FULL_DETAILS) -> Document:
    """What a bulk check answers about one uploaded row: its cells echoed, the verdict, the best
    match (``match_view``, at the detail the job's owner may see) and how many of the matches are
    similar serials rather than alarms, or the row's error."""
    matches = outcome.matches if outcome else []
    return {
        "row": row["number"],
        "input": row["cells"],
        "verdict": outcome.verdict if outcome else None,
        "match": match_view(matches[0], detail) if matches else None,
        "matches": len(matches),
        "similar_serials": sum(m.tier == SIMILAR for m in matches),
        "error": row["error"],
    }
