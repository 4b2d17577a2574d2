"""Description checks in the embedded engine: terms as hashed keywords, retrieved as ``search.text`` plans.

Every report's ``search.text.description_terms`` are stored, hashed, in the
clustered ``description_terms`` table (``index_rows``), the same shape as
lookup keys.  A check counts each of its terms' reports (up to the anchor
budget), lets ``plan_description_lookup`` split them into anchors and common
attributes, and retrieves what the plan defines, exactly as Elasticsearch
does.

Terms depend on the analysis code and vocabulary: a file indexed under another
``search.text.ANALYSIS_VERSION`` (or before description terms existed) has
every report's terms recomputed when it is opened (``ensure_description_terms``),
in one write transaction; other processes opening it meanwhile wait for it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from typing import Final

from registry.errors import StorageUnavailable
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.index_rows import term_hash
from search.policy import DESCRIPTION_ANCHOR_POSTINGS, TEXT_CANDIDATE_LIMIT
from search.text import (
    ANALYSIS_VERSION,
    DescriptionLookup,
    description_candidates,
    description_terms,
    plan_description_lookup,
    query_description_terms,
)

log = logging.getLogger(__name__)

ANALYSIS_META: Final = "description_analysis"  # the ANALYSIS_VERSION the stored terms were computed with
REBUILD_BATCH: Final = 2000  # reports re-analysed per round trip when description terms are rebuilt
REBUILD_WAIT_SECONDS: Final = 1800  # how long a process opening the file waits for another's rebuild
PROBE_CHUNK: Final = 200  # anchored candidates whose remaining terms are probed at once


def description_neighbours(db: sqlite3.Connection, description: str | None) -> list[int]:
    """The candidates ``search.text.plan_description_lookup`` defines for a description."""
    weights = query_description_terms(description) if description else {}
    if not weights:
        return []
    hashes = {t: term_hash(t) for t in weights}
    postings = {t: db.execute(
        "SELECT count(*) FROM (SELECT 1 FROM description_terms WHERE term = ? LIMIT ?)",
        (hashes[t], DESCRIPTION_ANCHOR_POSTINGS + 1)).fetchone()[0] for t in weights}
    plan = plan_description_lookup(weights, postings)
    anchored = _ranked_by_anchors(db, plan, hashes) if plan.anchors else []
    holding_all = _holding_all(db, [hashes[t] for t in plan.required]) if plan.required else []
    return description_candidates(anchored, holding_all)


def _ranked_by_anchors(db: sqlite3.Connection, plan: DescriptionLookup, hashes: dict[str, int]) -> list[int]:
    """Reports holding an anchor, best ``plan.weights`` sum first, then oldest: the top few, exactly.

    SQLite sums the anchors' weights per report (few postings, by
    construction) and orders the reports by that partial sum; the query's
    other terms are common, so rather than reading their postings, reports are
    probed for them in that order, a chunk at a time, until no report left
    could reach the last one kept.
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


def _holding_all(db: sqlite3.Connection, terms: list[int]) -> list[int]:
    """The oldest reports holding every one of ``terms``: the first one's postings walked in order."""
    probes = " ".join("AND EXISTS (SELECT 1 FROM description_terms e WHERE e.term = ? "
                      "AND e.report_seq = d.report_seq)" for _ in terms[1:])
    return [r[0] for r in db.execute(
        f"SELECT d.report_seq FROM description_terms d WHERE d.term = ? {probes} ORDER BY d.report_seq LIMIT ?",
        (*terms, TEXT_CANDIDATE_LIMIT))]


def ensure_description_terms(database: Database) -> None:
    """Recompute every report's description terms if they were computed by other analysis code.

    One write transaction: readers see the old terms until it commits.  A
    process that finds another rebuilding waits (the write lock) and then
    finds nothing left to do.
    """
    deadline = time.monotonic() + REBUILD_WAIT_SECONDS
    while _analysis_version(database.connection()) != ANALYSIS_VERSION:
        try:
            with database.transaction() as db:
                if _analysis_version(db) != ANALYSIS_VERSION:
                    _rebuild(db)
        except StorageUnavailable:
            if time.monotonic() > deadline:
                raise


def _analysis_version(db: sqlite3.Connection) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE name = ?", (ANALYSIS_META,)).fetchone()
    return row[0] if row else None


def _rebuild(db: sqlite3.Connection) -> None:
    started = time.monotonic()
    db.execute("DELETE FROM description_terms")
    last, rebuilt = 0, 0
    while rows := db.execute("SELECT seq, document FROM reports WHERE seq > ? ORDER BY seq LIMIT ?",
                             (last, REBUILD_BATCH)).fetchall():
        db.executemany("INSERT OR IGNORE INTO description_terms (term, report_seq) VALUES (?, ?)", sorted(
            (term_hash(t), seq) for seq, document in rows for t in description_terms(json.loads(document))))
        last, rebuilt = rows[-1][0], rebuilt + len(rows)
    db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (ANALYSIS_META, ANALYSIS_VERSION))
    if rebuilt:
        log.warning("Recomputed the description terms of %d reports (analysis %s) in %.1f s",
                    rebuilt, ANALYSIS_VERSION, time.monotonic() - started)


def _marks(values: list[int]) -> str:
    return ",".join("?" * len(values))
