"""The embedded default: the whole registry in one SQLite file.

Why it holds up at a million reports: candidates are found through an index
of lookup keys (``search.keys``) stored as 64-bit hashes in a clustered
``WITHOUT ROWID`` table, trailing parts through an ordered index of reversed
skeletons, and descriptions through their terms (``search.text``), hashed in
a table of the same shape (FTS5 serves only the listing filter ``q``).  A
check touches a few index pages instead of scanning identifiers.

Description terms depend on the analysis code and vocabulary: a file indexed
under another ``search.text.ANALYSIS_VERSION`` (or before description terms
existed) has every report's terms recomputed when it is opened, in one write
transaction; other processes opening it meanwhile wait for it.

Why it is safe with several gunicorn workers: WAL mode lets readers run
beside the single writer, every write is one ``BEGIN IMMEDIATE`` transaction
(so read-modify-write never deadlocks on a lock upgrade), and
``synchronous=FULL`` makes a committed report survive a power cut (check
records skip that fsync).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from registry.audit import GENESIS_HASH, seal
from registry.errors import Conflict, NotFound, PreconditionFailed, StorageUnavailable
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
from search.keys import report_keys
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
    plan_description_lookup,
    query_description_terms,
    report_text,
    text_terms,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
ANALYSIS_META = "description_analysis"  # the search.text.ANALYSIS_VERSION the description terms were computed with
REBUILD_BATCH = 2000  # reports re-analysed per round trip when description terms are rebuilt
REBUILD_WAIT_SECONDS = 1800  # how long a process opening the file waits for another's rebuild
PROBE_CHUNK = 200  # anchored candidates whose remaining terms are probed at once
BUSY_TIMEOUT_MS = 15000
SUFFIX_RANGE_END = "\uffff"  # sorts after every character a skeleton can hold
SOURCE_COLUMN = "json_extract(document, '$.source')"  # indexed as an expression: no column to migrate
SEQS_PER_QUERY = 10000  # well under SQLite's limit on parameters of one statement

SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    agency_key TEXT NOT NULL,
    external_ref TEXT NOT NULL,
    status TEXT NOT NULL,
    category TEXT NOT NULL,
    manufacturer_key TEXT,
    country TEXT,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    UNIQUE (agency_key, external_ref)
);
CREATE INDEX IF NOT EXISTS reports_by_status ON reports (status);
CREATE INDEX IF NOT EXISTS reports_by_category ON reports (category);
CREATE INDEX IF NOT EXISTS reports_by_manufacturer ON reports (manufacturer_key);
CREATE INDEX IF NOT EXISTS reports_by_country ON reports (country);
CREATE INDEX IF NOT EXISTS reports_by_source ON reports (json_extract(document, '$.source'))
    WHERE json_extract(document, '$.source') IS NOT NULL;
CREATE TABLE IF NOT EXISTS identifier_terms (
    term INTEGER NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (term, report_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS report_skeletons (
    report_seq INTEGER PRIMARY KEY,
    skeletons TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identifier_suffixes (
    suffix_key TEXT NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (suffix_key, report_seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS description_terms (
    term INTEGER NOT NULL,
    report_seq INTEGER NOT NULL,
    PRIMARY KEY (term, report_seq)
) WITHOUT ROWID;
CREATE VIRTUAL TABLE IF NOT EXISTS report_text USING fts5 (body, tokenize = 'unicode61 remove_diacritics 2');
CREATE TABLE IF NOT EXISTS checks (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    checked_at TEXT NOT NULL,
    verdict TEXT NOT NULL,
    document TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key_id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    action TEXT NOT NULL,
    principal TEXT NOT NULL,
    subject TEXT,
    entry TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_action ON audit_log (action, seq);
CREATE INDEX IF NOT EXISTS audit_by_principal ON audit_log (principal, seq);
CREATE INDEX IF NOT EXISTS audit_by_subject ON audit_log (subject, seq);
"""


def term_hash(term: str) -> int:
    """A stable signed 64-bit hash (Python's ``hash`` differs between processes).

    Two CRC-32s, of the term and of it reversed: several times cheaper than a
    cryptographic digest, and a collision only adds a candidate that the
    scorer then rejects, it never hides one.
    """
    data = term.encode()
    value = (zlib.crc32(data) << 32) | zlib.crc32(data[::-1])
    return value - (1 << 64) if value >= 1 << 63 else value


class SQLiteStorage(Storage):
    """Reports, lookup keys, description index, check records, API keys and the audit log in one file."""

    name = "sqlite"

    def __init__(self, path: str, cache_mb: int = 256) -> None:
        self.path = str(Path(path).expanduser())
        self.cache_mb = cache_mb
        self._local = threading.local()
        # executescript commits as it goes; every statement is idempotent, so
        # workers starting together on a new file cannot trip over each other.
        self.connection().executescript(SCHEMA)
        with self.transaction() as db:
            db.execute(
                "INSERT OR IGNORE INTO meta (name, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        self._ensure_description_terms()

    def _ensure_description_terms(self) -> None:
        """Recompute every report's description terms if they were computed by other analysis code.

        One write transaction: readers see the old terms until it commits.  A
        process that finds another rebuilding waits (the write lock) and then
        finds nothing left to do.
        """
        deadline = time.monotonic() + REBUILD_WAIT_SECONDS
        while self._analysis_version(self.connection()) != ANALYSIS_VERSION:
            try:
                with self.transaction() as db:
                    if self._analysis_version(db) != ANALYSIS_VERSION:
                        self._rebuild_description_terms(db)
            except StorageUnavailable:
                if time.monotonic() > deadline:
                    raise

    @staticmethod
    def _analysis_version(db: sqlite3.Connection) -> str | None:
        row = db.execute("SELECT value FROM meta WHERE name = ?", (ANALYSIS_META,)).fetchone()
        return row[0] if row else None

    @staticmethod
    def _rebuild_description_terms(db: sqlite3.Connection) -> None:
        started = time.monotonic()
        db.execute("DELETE FROM description_terms")
        last, rebuilt = 0, 0
        while True:
            rows = db.execute("SELECT seq, document FROM reports WHERE seq > ? ORDER BY seq LIMIT ?",
                              (last, REBUILD_BATCH)).fetchall()
            if not rows:
                break
            db.executemany("INSERT OR IGNORE INTO description_terms (term, report_seq) VALUES (?, ?)", sorted(
                (term_hash(t), seq) for seq, document in rows for t in description_terms(json.loads(document))))
            last, rebuilt = rows[-1][0], rebuilt + len(rows)
        db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (ANALYSIS_META, ANALYSIS_VERSION))
        if rebuilt:
            log.warning("Recomputed the description terms of %d reports (analysis %s) in %.1f s",
                        rebuilt, ANALYSIS_VERSION, time.monotonic() - started)

    # -- connections -----------------------------------------------------------------

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 connections must not cross threads); the job store
        beside the reports uses it too."""
        db = getattr(self._local, "db", None)
        if db is None:
            try:
                db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                db.execute(f"PRAGMA cache_size=-{self.cache_mb * 1024}")
            except sqlite3.Error as exc:
                raise StorageUnavailable(f"Cannot open the registry database: {exc}") from exc
            self._local.db = db
        return db

    @contextmanager
    def transaction(self, durable: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken before reading so read-modify-write is atomic.

        ``durable=False`` skips the fsync at commit: the transaction survives a
        crash of the process, though not a power cut of the machine.
        """
        db = self.connection()
        db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageUnavailable(f"The registry database is busy: {exc}") from exc
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    def ping(self) -> None:
        try:
            self.connection().execute("SELECT 1 FROM meta LIMIT 1").fetchone()
        except sqlite3.Error as exc:
            raise StorageUnavailable(f"The registry database cannot be read: {exc}") from exc

    # -- reports ---------------------------------------------------------------------

    def create_report(self, document: Document) -> Document:
        with self.transaction() as db:
            existing = self._seq_by_ref(db, document)
            if existing is not None:
                raise Conflict(
                    "A report with this external_ref already exists for this agency.",
                    existing_id=existing[1],
                )
            self._insert(db, [_IndexedReport.of(document)])
        return document

    def get_report(self, report_id: str) -> Document:
        row = self.connection().execute("SELECT document FROM reports WHERE id = ?", (report_id,)).fetchone()
        if row is None:
            raise NotFound(f"No report with id {report_id}.")
        return json.loads(row[0])

    def replace_report(self, document: Document, expected_version: int) -> Document:
        with self.transaction() as db:
            row = db.execute("SELECT seq, document FROM reports WHERE id = ?", (document["id"],)).fetchone()
            if row is None:
                raise NotFound(f"No report with id {document['id']}.")
            stored = json.loads(row[1])
            if stored["version"] != expected_version:
                raise PreconditionFailed(
                    f"The report is at version {stored['version']}, not {expected_version}.",
                    current_version=stored["version"],
                )
            clash = self._seq_by_ref(db, document)
            if clash is not None and clash[0] != row[0]:
                raise Conflict("Another report of this agency has this external_ref.", existing_id=clash[1])
            self._update(db, row[0], stored, document)
        return document

    def upsert_reports(self, documents: list[Document]) -> list[ImportOutcome]:
        return self.upsert_prepared(self.prepare_reports(documents))

    @staticmethod
    def prepare_reports(documents: list[Document]) -> list[_IndexedReport]:
        return [_IndexedReport.of(d) for d in documents]

    def upsert_prepared(self, prepared: list[_IndexedReport]) -> list[ImportOutcome]:
        outcomes: list[ImportOutcome] = []
        new: list[_IndexedReport] = []
        with self.transaction() as db:
            for report in prepared:
                row = db.execute(
                    "SELECT seq, document FROM reports WHERE agency_key = ? AND external_ref = ?",
                    (report.agency_key, report.external_ref),
                ).fetchone()
                if row is None:
                    new.append(report)
                    outcomes.append(ImportOutcome("created", report.report_id))
                    continue
                stored = json.loads(row[1])
                merged = {**json.loads(report.document_json), "id": stored["id"], "created_at": stored["created_at"]}
                if comparable(merged) == comparable(stored):
                    outcomes.append(ImportOutcome("unchanged", stored["id"]))
                    continue
                merged["version"] = stored["version"] + 1
                self._update(db, row[0], stored, merged)
                outcomes.append(ImportOutcome("updated", stored["id"]))
            self._insert(db, new)
        return outcomes

    def list_reports(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page:
        clauses, params = [], []
        for column, value in (
            ("status", filters.status),
            ("category", filters.category),
            ("manufacturer_key", manufacturer_key(filters.manufacturer)),
            ("country", filters.country),
            (SOURCE_COLUMN, filters.source),
        ):
            if value:
                clauses.append(f"{column} = ?")
                params.append(value)
        if filters.q:
            terms = text_terms(filters.q)
            if not terms:
                return Page([], None)
            clauses.append("seq IN (SELECT rowid FROM report_text WHERE report_text MATCH ?)")
            params.append(" AND ".join(_fts_quote(t) for t in sorted(terms)))
        if cursor:
            clauses.append("seq < ?")
            params.append(decode_cursor(cursor, int))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.connection().execute(
            f"SELECT seq, document FROM reports {where} ORDER BY seq DESC LIMIT ?", (*params, limit + 1)
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1][0]) if more else None
        return Page([json.loads(r[1]) for r in rows], next_cursor)

    def iter_reports(self) -> Iterator[Document]:
        last = 0
        db = self.connection()
        while True:
            rows = db.execute(
                "SELECT seq, document FROM reports WHERE seq > ? ORDER BY seq LIMIT 1000", (last,)
            ).fetchall()
            if not rows:
                return
            for seq, document in rows:
                last = seq
                yield json.loads(document)

    # -- checks ----------------------------------------------------------------------

    def find_candidates_many(self, lookups: list[Lookup]) -> list[list[Document]]:
        """Reports sharing a key or a trailing part, and reports sharing description words.

        Identifier candidates are screened on their skeletons, kept in a narrow
        table of their own (``within_reach``), before their documents are
        loaded: most reports that share one key are far from the reading, and
        fetching and parsing them is the costly part.  A batch of checks (bulk
        checks) looks up all its keys in one join, screens and loads each
        report once, in one read transaction.
        """
        db = self.connection()
        db.execute("BEGIN")
        try:
            nearby = self._key_neighbours(db, lookups)
            skeletons = dict(_rows_by_seq(db, "SELECT report_seq, skeletons FROM report_skeletons "
                                              "WHERE report_seq IN ({})", {s for seqs in nearby for s in seqs}))
            found = [
                [s for s in seqs if reaches_any(keys.skeleton, skeletons[s].split())]
                + self._description_neighbours(db, description)
                for seqs, (keys, description) in zip(nearby, lookups)
            ]
            documents = {seq: json.loads(document) for seq, document in _rows_by_seq(
                db, "SELECT seq, document FROM reports WHERE seq IN ({})", {s for seqs in found for s in seqs})}
        finally:
            db.execute("COMMIT")
        return [[documents[s] for s in dict.fromkeys(seqs)] for seqs in found]

    @staticmethod
    def _key_neighbours(db: sqlite3.Connection, lookups: list[Lookup]) -> list[list[int]]:
        """For each lookup, the reports sharing most keys with it (then oldest), and those sharing its tail."""
        db.execute("CREATE TEMP TABLE IF NOT EXISTS batch_terms (lookup INTEGER NOT NULL, term INTEGER NOT NULL)")
        db.execute("DELETE FROM batch_terms")
        db.executemany("INSERT INTO batch_terms (lookup, term) VALUES (?, ?)", {
            (i, term_hash(t)) for i, (keys, _) in enumerate(lookups) if keys is not None for t in keys.terms
        })
        shared: list[list[tuple[int, int]]] = [[] for _ in lookups]
        for lookup, seq, count in db.execute(
            "SELECT b.lookup, t.report_seq, count(*) FROM batch_terms b CROSS JOIN identifier_terms t "
            "ON t.term = b.term GROUP BY b.lookup, t.report_seq"
        ):
            shared[lookup].append((-count, seq))
        nearby = []
        for (keys, _), ranked in zip(lookups, shared):
            seqs = [seq for _, seq in sorted(ranked)[:KEY_CANDIDATE_LIMIT]]
            if keys is not None and len(keys.skeleton) >= MIN_PARTIAL_LENGTH:
                seqs += [r[0] for r in db.execute(
                    "SELECT report_seq FROM identifier_suffixes WHERE suffix_key >= ? AND suffix_key < ? LIMIT ?",
                    (keys.suffix_key, keys.suffix_key + SUFFIX_RANGE_END, SUFFIX_CANDIDATE_LIMIT),
                )]
            nearby.append(list(dict.fromkeys(seqs)))
        return nearby

    def _description_neighbours(self, db: sqlite3.Connection, description: str | None) -> list[int]:
        """The candidates ``search.text.plan_description_lookup`` defines for a description."""
        weights = query_description_terms(description) if description else {}
        if not weights:
            return []
        hashes = {t: term_hash(t) for t in weights}
        postings = {t: db.execute(
            "SELECT count(*) FROM (SELECT 1 FROM description_terms WHERE term = ? LIMIT ?)",
            (hashes[t], DESCRIPTION_ANCHOR_POSTINGS + 1)).fetchone()[0] for t in weights}
        plan = plan_description_lookup(weights, postings)
        found = self._ranked_by_anchors(db, plan, hashes) if plan.anchors else []
        if plan.required:
            found += self._holding_all(db, [hashes[t] for t in plan.required])
        return found

    @staticmethod
    def _ranked_by_anchors(db: sqlite3.Connection, plan: DescriptionLookup, hashes: dict[str, int]) -> list[int]:
        """Reports holding an anchor, best ``plan.weights`` sum first, then oldest: the top few, exactly.

        SQLite sums the anchors' weights per report (few postings, by
        construction) and orders the reports by that partial sum; the query's
        other terms are common, so rather than reading their postings, reports
        are probed for them in that order, a chunk at a time, until no report
        left could reach the last one kept.
        """
        weight_of = {hashes[t]: w for t, w in plan.weights.items()}
        anchors = [(hashes[t], weight_of[hashes[t]]) for t in plan.anchors]
        others = [hashes[t] for t in plan.weights if t not in plan.anchors]
        rest = sum(weight_of[h] for h in others)
        queue = db.execute(
            f"WITH anchor (term, weight) AS (VALUES {', '.join('(?, ?)' for _ in anchors)}) "
            "SELECT d.report_seq, sum(anchor.weight) AS partial FROM anchor CROSS JOIN description_terms d "
            "ON d.term = anchor.term GROUP BY d.report_seq ORDER BY partial DESC, d.report_seq",
            [value for pair in anchors for value in pair])
        best: list[tuple[int, int]] = []  # (-score, seq) of the best so far, at most TEXT_CANDIDATE_LIMIT
        while chunk := queue.fetchmany(PROBE_CHUNK):
            if len(best) == TEXT_CANDIDATE_LIMIT and (-(chunk[0][1] + rest), chunk[0][0]) > best[-1]:
                break  # not even the best partial sum left can beat the last one kept
            score = dict(chunk)
            if others:
                seqs = list(score)
                for seq, term in db.execute(
                        f"SELECT report_seq, term FROM description_terms WHERE term IN ({_marks(others)}) "
                        f"AND report_seq IN ({_marks(seqs)})", [*others, *seqs]):
                    score[seq] += weight_of[term]
            best = sorted(best + [(-total, seq) for seq, total in score.items()])[:TEXT_CANDIDATE_LIMIT]
        return [seq for _, seq in best]

    @staticmethod
    def _holding_all(db: sqlite3.Connection, terms: list[int]) -> list[int]:
        """The oldest reports holding every one of ``terms``: the first one's postings walked in order."""
        probes = " ".join("AND EXISTS (SELECT 1 FROM description_terms e WHERE e.term = ? "
                          "AND e.report_seq = d.report_seq)" for _ in terms[1:])
        return [r[0] for r in db.execute(
            f"SELECT d.report_seq FROM description_terms d WHERE d.term = ? {probes} ORDER BY d.report_seq LIMIT ?",
            (*terms, TEXT_CANDIDATE_LIMIT))]

    def save_check(self, record: Document) -> None:
        """Kept without an fsync of its own: a check record is not worth doubling a
        check's latency, and the next durable write flushes it to disk anyway."""
        with self.transaction(durable=False) as db:
            db.execute(
                "INSERT INTO checks (id, checked_at, verdict, document) VALUES (?, ?, ?, ?)",
                (record["check_id"], record["checked_at"], record["verdict"], json.dumps(record)),
            )

    def get_check(self, check_id: str) -> Document:
        row = self.connection().execute("SELECT document FROM checks WHERE id = ?", (check_id,)).fetchone()
        if row is None:
            raise NotFound(f"No check with id {check_id}.")
        return json.loads(row[0])

    # -- API keys --------------------------------------------------------------------

    def create_key(self, record: Document) -> None:
        with self.transaction() as db:
            try:
                db.execute("INSERT INTO api_keys (key_id, document) VALUES (?, ?)",
                           (record["key_id"], json.dumps(record)))
            except sqlite3.IntegrityError as exc:
                raise Conflict(f"A key with id {record['key_id']} exists.") from exc

    def get_key(self, key_id: str) -> Document:
        row = self.connection().execute("SELECT document FROM api_keys WHERE key_id = ?", (key_id,)).fetchone()
        if row is None:
            raise NotFound(f"No key with id {key_id}.")
        return json.loads(row[0])

    def replace_key(self, record: Document) -> None:
        with self.transaction() as db:
            db.execute("UPDATE api_keys SET document = ? WHERE key_id = ?", (json.dumps(record), record["key_id"]))

    def list_keys(self) -> list[Document]:
        rows = self.connection().execute("SELECT document FROM api_keys ORDER BY rowid")
        return [json.loads(r[0]) for r in rows]

    # -- audit log -------------------------------------------------------------------

    def append_audit(self, entry: Document) -> Document:
        """The write lock orders appenders from every process; entries of checks skip the
        fsync as check records do, the rest are as durable as the writes they record."""
        with self.transaction(durable=entry["action"] != "check") as db:
            last = db.execute("SELECT seq, json_extract(entry, '$.hash') FROM audit_log ORDER BY seq DESC LIMIT 1"
                              ).fetchone()
            seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
            sealed = seal(entry, seq, prev_hash)
            db.execute(
                "INSERT INTO audit_log (seq, at, action, principal, subject, entry) VALUES (?, ?, ?, ?, ?, ?)",
                (seq, sealed["at"], sealed["action"], sealed["actor"]["principal"], sealed["subject"],
                 json.dumps(sealed, ensure_ascii=False)),
            )
        return sealed

    def iter_audit(self) -> Iterator[tuple[int, Document]]:
        for seq, entry in self.connection().execute("SELECT seq, entry FROM audit_log ORDER BY seq"):
            yield seq, json.loads(entry)

    def list_audit(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page:
        clauses, params = ["seq > ?"], [decode_cursor(cursor, int) if cursor else 0]
        for column, value, operator in (
            ("action", filters.action, "="),
            ("principal", filters.principal, "="),
            ("subject", filters.subject, "="),
            ("at", filters.since, ">="),
            ("at", filters.until, "<"),
        ):
            if value is not None:
                clauses.append(f"{column} {operator} ?")
                params.append(value)
        rows = self.connection().execute(
            f"SELECT seq, entry FROM audit_log WHERE {' AND '.join(clauses)} ORDER BY seq LIMIT ?",
            (*params, limit + 1),
        ).fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        return Page([json.loads(r[1]) for r in rows], encode_cursor(rows[-1][0]) if more else None)

    # -- internals -------------------------------------------------------------------

    @staticmethod
    def _seq_by_ref(db: sqlite3.Connection, document: Document) -> tuple[int, str] | None:
        return db.execute(
            "SELECT seq, id FROM reports WHERE agency_key = ? AND external_ref = ?",
            (agency_key(document), document["external_ref"]),
        ).fetchone()

    def _insert(self, db: sqlite3.Connection, reports: list[_IndexedReport]) -> None:
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
        self._index(db, indexed)

    def _update(self, db: sqlite3.Connection, seq: int, stored: Document, document: Document) -> None:
        self._unindex(db, seq, _IndexedReport.of(stored))
        report = _IndexedReport.of(document)
        db.execute(
            "UPDATE reports SET id = ?, agency_key = ?, external_ref = ?, status = ?, category = ?, "
            "manufacturer_key = ?, country = ?, version = ?, document = ? WHERE seq = ?",
            (*report.columns, seq),
        )
        self._index(db, [(seq, report)])

    @staticmethod
    def _index(db: sqlite3.Connection, indexed: list[tuple[int, _IndexedReport]]) -> None:
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
        db.executemany(
            "INSERT INTO report_text (rowid, body) VALUES (?, ?)", [(seq, r.text) for seq, r in indexed]
        )

    @staticmethod
    def _unindex(db: sqlite3.Connection, seq: int, stored: _IndexedReport) -> None:
        """Remove the keys of the stored version, recomputed: no reverse index needed."""
        db.executemany(
            "DELETE FROM identifier_terms WHERE term = ? AND report_seq = ?", [(t, seq) for t in stored.terms]
        )
        db.executemany(
            "DELETE FROM identifier_suffixes WHERE suffix_key = ? AND report_seq = ?",
            [(s, seq) for s in stored.suffixes],
        )
        db.executemany(
            "DELETE FROM description_terms WHERE term = ? AND report_seq = ?",
            [(t, seq) for t in stored.description_terms],
        )
        db.execute("DELETE FROM report_text WHERE rowid = ?", (seq,))
        db.execute("DELETE FROM report_skeletons WHERE report_seq = ?", (seq,))


@dataclass(frozen=True)
class _IndexedReport:
    """Every row the engine stores for one report, computed ahead of the write.

    It carries the document as JSON text only: these cross from import
    workers to the writing process, and a nested dict costs far more to
    unpickle than the string that is stored anyway.
    """

    columns: tuple  # the ``reports`` row, document JSON last
    skeletons: str  # of its identifiers, space-separated, for screening candidates
    terms: frozenset[int]
    suffixes: frozenset[str]
    text: str
    description_terms: frozenset[int]

    @property
    def report_id(self) -> str:
        return self.columns[0]

    @property
    def agency_key(self) -> str:
        return self.columns[1]

    @property
    def external_ref(self) -> str:
        return self.columns[2]

    @property
    def document_json(self) -> str:
        return self.columns[-1]

    @classmethod
    def of(cls, document: Document) -> "_IndexedReport":
        keys = report_keys(i["value"] for i in document.get("identifiers", ()))
        columns = (
            document["id"],
            agency_key(document),
            document["external_ref"],
            document["status"],
            document["category"],
            manufacturer_key(document.get("manufacturer")),
            document["incident"]["country"],
            document["version"],
            json.dumps(document, ensure_ascii=False),
        )
        terms = frozenset(term_hash(t) for t in keys.terms)
        described = frozenset(term_hash(t) for t in description_terms(document))
        return cls(columns, " ".join(keys.skeletons), terms, keys.suffix_keys, report_text(document), described)


def _marks(values: list) -> str:
    return ",".join("?" * len(values))


def _rows_by_seq(db: sqlite3.Connection, sql: str, seqs: set[int]) -> Iterator[tuple]:
    """Rows of ``sql`` (an ``IN ({})`` over report seqs), asked in chunks that fit SQLite's parameter limit."""
    ordered = sorted(seqs)
    for start in range(0, len(ordered), SEQS_PER_QUERY):
        chunk = ordered[start:start + SEQS_PER_QUERY]
        yield from db.execute(sql.format(_marks(chunk)), chunk)


def _fts_quote(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'
