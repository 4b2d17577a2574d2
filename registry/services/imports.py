"""Imports: many reports at once, upserted by (agency, case number), audited batch by batch.

Validation and the engine's preparation of a batch (lookup keys,
serialization) are the costly part of an import; with ``workers`` > 0 they run
in that many processes while this one writes the batches, in input order.

Each batch is written with its own ``reports.import.batch`` entry naming the
reports it created and updated (``audit_chain.import_batch_entry``), together
or not at all, so an import killed halfway leaves no report without its
entry; the run's ``reports.import`` entry (the file and the counts) follows
at the end, and both carry the run's id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from registry.access import WRITE_REPORTS, Actor
from registry.audit_chain import IMPORT_BATCH_ACTION
from registry.errors import IronTraceError, ValidationFailed
from registry.records import ImportOutcome, Report, agency_key
from registry.services.audit import AuditService
from registry.services.batches import batched
from registry.services.pools import child_pool
from registry.services.reports import without_server_fields
from registry.stamps import new_id, utc_now
from registry.storage.interfaces import PreparedBatch, ReportStore
from registry.validation import validate_report

IMPORT_BATCH_SIZE = 5000  # large batches let sorted index inserts share pages
IMPORT_BATCHES_IN_FLIGHT_PER_WORKER = 2
Row = tuple[int, Any]  # (row number in the file, the parsed row or the error reading it)


@dataclass(frozen=True)
class RowError:
    """An imported row that was rejected, and why."""

    row: int
    external_ref: str | None
    errors: list[dict[str, str]]


@dataclass
class ImportSummary:
    """Counts of what an import did, and every rejected row with its reasons."""

    run: str = field(default_factory=new_id)  # ties the run's batch entries to its summary entry
    source: str | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: list[RowError] = field(default_factory=list)

    def add(self, outcomes: list[ImportOutcome], rejected: list[RowError]) -> None:
        for outcome in outcomes:
            setattr(self, outcome.action, getattr(self, outcome.action) + 1)
        self.rejected.extend(rejected)

    def counts(self) -> dict[str, int]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "rejected": len(self.rejected)}


class ImportService:
    """Upserts rows of files and feeds as one actor."""

    def __init__(self, reports: ReportStore, audit: AuditService) -> None:
        self.reports = reports
        self.audit = audit

    def import_rows(self, actor: Actor, rows: Iterable[Row], on_batch: Callable[[], None] | None = None,
                    workers: int = 0, source: str | None = None) -> ImportSummary:
        """Upsert rows in batches, each with its entry; a bad row never stops the rest.  The caller
        records the run (``record``) once it knows everything the run did.  ``source``: the file or
        feed the rows come from, as the entries name it."""
        actor.require(WRITE_REPORTS)
        summary = ImportSummary(source=source)
        for prepared, rejected in _prepared_batches(rows, workers, self.reports.prepare):
            batch = self.audit.entry(actor, IMPORT_BATCH_ACTION, None, {"source": source, "run": summary.run})
            summary.add(self.reports.upsert_prepared(prepared, batch), rejected)
            if on_batch:
                on_batch()
        return summary

    def record(self, actor: Actor, summary: ImportSummary, **counts: int) -> None:
        """One summary entry per import run (a file, a feed pull), after its batches' entries."""
        self.audit.record(actor, "reports.import", None,
                          {"source": summary.source, "run": summary.run, **summary.counts(), **counts})


def prepare_import_batch(rows: list[Row], prepare: Callable[[list[Report]], PreparedBatch]
                         ) -> tuple[PreparedBatch, list[RowError]]:
    """Validate imported rows into new reports (the last row of a case number wins),
    then let the engine do its CPU-only preparation of them."""
    reports: list[Report] = []
    rejected = []
    now = utc_now()
    for number, data in rows:
        try:
            if isinstance(data, IronTraceError):
                raise data
            report = validate_report(without_server_fields(data))
        except ValidationFailed as exc:
            rejected.append(RowError(number, _ref_of(data), exc.extra["errors"]))  # type: ignore[arg-type]
            continue
        except IronTraceError as exc:
            rejected.append(RowError(number, None, [{"field": "_row", "message": exc.detail}]))
            continue
        reports.append({**report, "id": new_id(), "version": 1, "created_at": now, "updated_at": now})
    return prepare(_last_of_each_ref(reports)), rejected


def _prepared_batches(rows: Iterable[Row], workers: int, prepare: Callable[[list[Report]], PreparedBatch]
                      ) -> Iterator[tuple[PreparedBatch, list[RowError]]]:
    """Prepared batches in input order, at most a few in flight so memory stays flat."""
    batches = batched(rows, IMPORT_BATCH_SIZE)
    if workers < 1:
        yield from (prepare_import_batch(batch, prepare) for batch in batches)
        return
    with child_pool(workers) as pool:
        pending: deque[Future[tuple[PreparedBatch, list[RowError]]]] = deque()
        for batch in batches:
            pending.append(pool.submit(prepare_import_batch, batch, prepare))
            if len(pending) >= workers * IMPORT_BATCHES_IN_FLIGHT_PER_WORKER:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def _ref_of(data: Any) -> str | None:
    return data.get("external_ref") if isinstance(data, dict) else None


def _last_of_each_ref(reports: list[Report]) -> list[Report]:
    """Within one batch a case number seen twice means its last row wins, as in a replay."""
    last: dict[tuple[str, str], Report] = {}
    for report in reports:
        last[(agency_key(report), report["external_ref"])] = report
    return list(last.values())
