"""Reports in the embedded engine: each write stores the report, its index rows and its audit entry
in one transaction."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any, cast

from registry.audit_chain import import_batch_entry
from registry.errors import Conflict, NotFound, PreconditionFailed
from registry.records import (
    AuditEntry,
    ImportOutcome,
    Page,
    Report,
    ReportFilter,
    agency_key,
    imported_version,
    manufacturer_key,
    name_key,
)
from registry.storage.cursors import decode_cursor, encode_cursor
from registry.storage.sqlite.audit import append_in
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.index_rows import IndexedReport, insert_rows, prepare_reports, update_rows
from registry.storage.sqlite.text_search import fts_all_terms
from search.text import text_terms

SOURCE_COLUMN = "json_extract(document, '$.source')"  # indexed as an expression: no column to migrate
# When a report was last validated, or registered if never: its review date counts from here (indexed too).
REVIEW_BASIS = "coalesce(json_extract(document, '$.validated_at'), json_extract(document, '$.created_at'))"
EXPORT_PAGE_SIZE = 1000


class SQLiteReportStore:
    """Reports in the ``reports`` table, unique per (agency key, case number)."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def create(self, report: Report, audit: AuditEntry) -> Report:
        with self.database.transaction() as db:
            existing = _seq_by_ref(db, agency_key(report), report["external_ref"])
            if existing is not None:
                raise Conflict(
                    "A report with this external_ref already exists for this agency.", existing_id=existing[1]
                )
            insert_rows(db, [IndexedReport.of(report)])
            append_in(db, audit)
        return report

    def get(self, report_id: str) -> Report:
        row = self.database.connection().execute("SELECT document FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            raise NotFound(f"No report with id {report_id}.")
        return _report(row[0])

    def replace(self, report: Report, expected_version: int, audit: AuditEntry) -> Report:
        with self.database.transaction() as db:
            row = db.execute("SELECT seq, document FROM reports WHERE id = ?", (report["id"],)).fetchone()
            if row is None:
                raise NotFound(f"No report with id {report['id']}.")
            stored = _report(row[1])
            if stored["version"] != expected_version:
                raise PreconditionFailed(
                    f"The report is at version {stored['version']}, not {expected_version}.",
                    current_version=stored["version"],
                )
            clash = _seq_by_ref(db, agency_key(report), report["external_ref"])
            if clash is not None and clash[0] != row[0]:
                raise Conflict("Another report of this agency has this external_ref.", existing_id=clash[1])
            update_rows(db, row[0], stored, report)
            append_in(db, audit)
        return report

    @property
    def prepare(self) -> Callable[[list[Report]], list[IndexedReport]]:
        return prepare_reports

    def upsert_prepared(self, prepared: list[IndexedReport], audit: AuditEntry) -> list[ImportOutcome]:
        outcomes: list[ImportOutcome] = []
        new: list[IndexedReport] = []
        with self.database.transaction() as db:
            for indexed in prepared:
                row = db.execute(
                    "SELECT seq, document FROM reports WHERE agency_key = ? AND external_ref = ?",
                    (indexed.agency_key, indexed.external_ref),
                ).fetchone()
                if row is None:
                    new.append(indexed)
                    outcomes.append(ImportOutcome("created", indexed.report_id))
                    continue
                stored = _report(row[1])
                action, report = imported_version(stored, _report(indexed.report_json))
                if action == "updated":
                    update_rows(db, row[0], stored, report)
                outcomes.append(ImportOutcome(action, report["id"]))
            insert_rows(db, new)
            entry = import_batch_entry(audit, outcomes)
            if entry is not None:
                append_in(db, entry)
        return outcomes

    def list(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page[Report]:
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("status", filters.status),
            ("category", filters.category),
            ("manufacturer_key", manufacturer_key(filters.manufacturer)),
            ("country", filters.country),
            (SOURCE_COLUMN, filters.source),
            ("agency_key", name_key(filters.agency) if filters.agency else None),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if filters.unreviewed_since:
            clauses.append(f"{REVIEW_BASIS} <= ?")
            params.append(filters.unreviewed_since)
        if filters.q:
            terms = text_terms(filters.q)
            if not terms:
                return Page([], None)
            clauses.append("seq IN (SELECT rowid FROM report_text WHERE report_text MATCH ?)")
            params.append(fts_all_terms(terms))
        if cursor:
            clauses.append("seq < ?")
            params.append(decode_cursor(cursor, int))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.database.connection().execute(
            f"SELECT seq, document FROM reports {where} ORDER BY seq DESC LIMIT ?", (*params, limit + 1)
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][0]) if more else None
        return Page([_report(r[1]) for r in rows], next_cursor)

    def iter_all(self) -> Iterator[Report]:
        last = 0
        db = self.database.connection()
        while True:
            rows = db.execute(
                "SELECT seq, document FROM reports WHERE seq > ? ORDER BY seq LIMIT ?", (last, EXPORT_PAGE_SIZE)
            ).fetchall()
            if not rows:
                return
            for seq, document in rows:
                last = seq
                yield _report(document)


def _seq_by_ref(db: sqlite3.Connection, agency: str, external_ref: str) -> tuple[int, str] | None:
    return cast(tuple[int, str] | None, db.execute(
        "SELECT seq, id FROM reports WHERE agency_key = ? AND external_ref = ?", (agency, external_ref)
    ).fetchone())


def _report(text: str) -> Report:
    return cast(Report, json.loads(text))
