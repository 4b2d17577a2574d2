"""What the embedded engine indexes for one report, computed ahead of the write.

Candidates are found through lookup keys (``search.keys``) stored as 64-bit
hashes in a clustered ``WITHOUT ROWID`` table, trailing parts through an
ordered index of reversed skeletons, and descriptions through their terms
(``search.text.description_terms``), hashed in a table of the same shape
(FTS5 serves only the listing filter ``q``); a narrow table of identifier
skeletons lets a check screen candidates before loading any report.
Updating a report recomputes the stored version's rows and removes them, so
no reverse index is needed.
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass

from registry.records import Report, agency_key, manufacturer_key
from search.keys import report_keys
from search.text import description_terms, report_text

# Where a report's index rows are: table, its columns, and the column holding the report's ``seq``.
REPORT_INDEX_TABLES = (
    ("report_skeletons", "report_seq, skeletons", "report_seq"),
    ("identifier_terms", "term, report_seq", "report_seq"),
    ("identifier_suffixes", "suffix_key, report_seq", "report_seq"),
    ("description_terms", "term, report_seq", "report_seq"),
    ("report_text", "rowid, body", "rowid"),  # FTS5: the report's seq is the row id
)


def note_changes(db: sqlite3.Connection, report_ids: Iterable[str]) -> None:
    """Give each report written in this transaction the next change-feed position (``changes``)."""
    db.executemany("INSERT OR REPLACE INTO report_feed (report_id) VALUES (?)", ((i,) for i in report_ids))

def term_hash(term: str) -> int:
    """A stable signed 64-bit hash (Python's ``hash`` differs between processes).

    Two CRC-32s, of the term and of it reversed: several times cheaper than a
    cryptographic digest, and a collision only adds a candidate that the
    scorer then rejects, it never hides one.
    """
    data = term.encode()
    value = (zlib.crc32(data) << 32) | zlib.crc32(data[::-1])
    return value - (1 << 64) if value >= 1 << 63 else value


@dataclass(frozen=True)
class IndexedReport:
    """Every row the engine stores for one report.

    It carries the report as JSON text only: these cross from import workers
    to the writing process, and a nested dict costs far more to unpickle than
    the string that is stored anyway.
    """

    columns: tuple[object, ...]  # the ``reports`` row, report JSON last
    skeletons: str  # of its identifiers, space-separated, for screening candidates
    terms: frozenset[int]
    suffixes: frozenset[str]
    text: str
    description_terms: frozenset[int]

    @property
    def report_id(self) -> str:
        return str(self.columns[0])

    @property
    def agency_key(self) -> str:
        return str(self.columns[1])

    @property
    def external_ref(self) -> str:
        return str(self.columns[2])

    @property
    def report_json(self) -> str:
        return str(self.columns[-1])

    @classmethod
    def of(cls, report: Report) -> IndexedReport:
        keys = report_keys(i["value"] for i in report.get("identifiers", ()))
        columns = (
            report["id"],
            agency_key(report),
            report["external_ref"],
            report["status"],
            report["category"],
            manufacturer_key(report.get("manufacturer")),
            report["incident"]["country"],
            report["version"],
            json.dumps(report, ensure_ascii=False),
        )
        terms = frozenset(term_hash(t) for t in keys.terms)
        described = frozenset(term_hash(t) for t in description_terms(report))
        return cls(columns, " ".join(keys.skeletons), terms, keys.suffix_keys, report_text(report), described)


def prepare_reports(reports: list[Report]) -> list[IndexedReport]:
    """The import workers' share of an import: every row of every report, computed in a child process."""
    return [IndexedReport.of(r) for r in reports]


def insert_rows(db: sqlite3.Connection, reports: list[IndexedReport]) -> None:
    """Insert new reports, then all their index rows at once, sorted: a batch then
    touches each index page once instead of once per report."""
    indexed = [
        (
            db.execute(
                "INSERT INTO reports (id, agency_key, external_ref, status, category, manufacturer_key, "
                "country, version, document) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                report.columns,
            ).lastrowid,
            report,
        )
        for report in reports
    ]
    _index(db, indexed)
    note_changes(db, (report.report_id for report in reports))


def update_rows(db: sqlite3.Connection, seq: int, stored: Report, report: Report) -> None:
    """Replace the stored version's row and index rows with the new version's."""
    _unindex(db, seq, IndexedReport.of(stored))
    indexed = IndexedReport.of(report)
    db.execute(
        "UPDATE reports SET id = ?, agency_key = ?, external_ref = ?, status = ?, category = ?, "
        "manufacturer_key = ?, country = ?, version = ?, document = ? WHERE seq = ?",
        (*indexed.columns, seq),
    )
    _index(db, [(seq, indexed)])
    note_changes(db, [report["id"]])


def delete_rows(db: sqlite3.Connection, seq: int, stored: Report) -> None:
    """Remove a report and its index rows (a replica dropping a report it may no longer hold)."""
    _unindex(db, seq, IndexedReport.of(stored))
    db.execute("DELETE FROM reports WHERE seq = ?", (seq,))
    note_changes(db, [stored["id"]])


def _index(db: sqlite3.Connection, indexed: list[tuple[int | None, IndexedReport]]) -> None:
    db.executemany(
        "INSERT INTO report_skeletons (report_seq, skeletons) VALUES (?, ?)",
        [(seq, report.skeletons) for seq, report in indexed],
    )
    db.executemany(
        "INSERT OR IGNORE INTO identifier_terms (term, report_seq) VALUES (?, ?)",
        sorted((t, seq) for seq, report in indexed for t in report.terms),
    )
    db.executemany(
        "INSERT OR IGNORE INTO identifier_suffixes (suffix_key, report_seq) VALUES (?, ?)",
        sorted((s, seq) for seq, report in indexed for s in report.suffixes),
    )
    db.executemany(
        "INSERT OR IGNORE INTO description_terms (term, report_seq) VALUES (?, ?)",
        sorted((t, seq) for seq, report in indexed for t in report.description_terms),
    )
    db.executemany("INSERT INTO report_text (rowid, body) VALUES (?, ?)", [(seq, r.text) for seq, r in indexed])


def _unindex(db: sqlite3.Connection, seq: int, stored: IndexedReport) -> None:
    """Remove the keys of the stored version, recomputed: no reverse index needed."""
    db.executemany("DELETE FROM identifier_terms WHERE term = ? AND report_seq = ?", [(t, seq) for t in stored.terms])
    db.executemany(
        "DELETE FROM identifier_suffixes WHERE suffix_key = ? AND report_seq = ?",
        [(s, seq) for s in stored.suffixes],
    )
    db.executemany(
        "DELETE FROM description_terms WHERE term = ? AND report_seq = ?", [(t, seq) for t in stored.description_terms]
    )
    db.execute("DELETE FROM report_text WHERE rowid = ?", (seq,))
    db.execute("DELETE FROM report_skeletons WHERE report_seq = ?", (seq,))
