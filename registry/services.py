"""The rules of the registry, independent of HTTP and of the storage engine.

``ReportService`` owns what a valid report is and how versions move;
``CheckService`` turns a reading into a verdict and keeps a record of it.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator

from marshmallow import ValidationError

from registry.errors import IronTraceError, ValidationFailed, flatten_messages
from registry.schemas import ReportInputSchema
from registry.storage.base import Document, ImportOutcome, Page, ReportFilter, Storage, agency_key
from search.keys import query_keys
from search.matching import CheckOutcome, CheckQuery, Match, rank

SERVER_FIELDS = ("id", "version", "created_at", "updated_at")
IMPORT_BATCH_SIZE = 5000  # large batches let sorted index inserts share pages
IMPORT_BATCHES_IN_FLIGHT_PER_WORKER = 2


def utc_now() -> str:
    """Timestamps are UTC ISO 8601 with milliseconds, comparable as strings."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_id() -> str:
    """A UUIDv7 (RFC 9562): random, but time-ordered, so new ids append to an index
    instead of landing on a random page of it."""
    unix_ms = time.time_ns() // 1_000_000
    value = (unix_ms << 80) | (0x7 << 76) | (secrets.randbits(12) << 64) | (0b10 << 62) | secrets.randbits(62)
    return str(uuid.UUID(int=value))


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
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def create(self, report: Document) -> Document:
        """Store a report already validated by ``ReportInputSchema``."""
        now = utc_now()
        document = {**report, "id": new_id(), "version": 1, "created_at": now, "updated_at": now}
        return self.storage.create_report(document)

    def get(self, report_id: str) -> Document:
        return self.storage.get_report(report_id)

    def update(self, report_id: str, patch: Document, expected_version: int) -> Document:
        """Apply a merge patch to the version the client saw; the whole result is revalidated."""
        stored = self.storage.get_report(report_id)
        editable = {k: v for k, v in stored.items() if k not in SERVER_FIELDS}
        merged = validate_report(merge_patch(editable, patch))
        document = {
            **merged,
            "id": stored["id"],
            "created_at": stored["created_at"],
            "version": expected_version + 1,
            "updated_at": utc_now(),
        }
        return self.storage.replace_report(document, expected_version)

    def list(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page:
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
    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def check(self, query: CheckQuery) -> tuple[Document, CheckOutcome]:
        """Find candidates, rank them with the shared scorer, record the check."""
        keys = query_keys(query.identifier) if query.identifier else None
        candidates = self.storage.find_candidates(keys, query.description)
        outcome = rank(query, candidates)
        record = {
            "check_id": new_id(),
            "checked_at": utc_now(),
            "query": {k: v for k, v in vars(query).items() if v is not None},
            "verdict": outcome.verdict,
            "matched_report_ids": [m.report["id"] for m in outcome.matches],
        }
        self.storage.save_check(record)
        return record, outcome

    def check_many(self, queries: list[CheckQuery]) -> list[CheckOutcome]:
        """Outcomes of a batch of checks (a bulk check), in order, from one batched candidate
        lookup and the same ranking as ``check``, so each answer equals its single check.
        The bulk job is the record of these checks: none is saved one by one."""
        lookups = [(query_keys(q.identifier) if q.identifier else None, q.description) for q in queries]
        candidates = self.storage.find_candidates_many(lookups)
        return [rank(query, found) for query, found in zip(queries, candidates)]


def match_view(match: Match) -> Document:
    """What a check answers about one matched report."""
    report = match.report
    identifier = match.identifier
    explanation = match.explanation
    if not match.active:
        explanation = f"report is {report['status']}: information only, not a hit; {explanation}"
    return {
        "report_id": report["id"],
        "external_ref": report["external_ref"],
        "status": report["status"],
        "active": match.active,
        "identifier": {"type": identifier["type"], "value": identifier["value"]} if identifier else None,
        "score": match.score,
        "match_type": match.match_type,
        "explanation": explanation,
        "category": report["category"],
        "manufacturer": report.get("manufacturer"),
        "model": report.get("model"),
        "reporting_agency": report["reporting_agency"],
    }


def bulk_row_result(row: Document, outcome: CheckOutcome | None) -> Document:
    """What a bulk check answers about one uploaded row: its cells echoed, the verdict and
    the best match (``match_view``), or the row's error."""
    best = outcome.matches[0] if outcome and outcome.matches else None
    return {
        "row": row["number"],
        "input": row["cells"],
        "verdict": outcome.verdict if outcome else None,
        "match": match_view(best) if best else None,
        "matches": len(outcome.matches) if outcome else 0,
        "error": row["error"],
    }
