"""Candidate retrieval in the embedded engine: shared lookup keys, shared tails, description terms.

Identifier candidates are screened on their skeletons, kept in a narrow
table of their own (``search.scoring.reaches_any``), before their reports are
loaded: most reports that share one key are far from the reading, and
fetching and parsing them is the costly part.  A batch of checks (bulk
checks) screens and loads each report once, in one read transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any, cast

from registry.records import Report
from registry.storage.interfaces import Lookup
from registry.storage.sqlite.database import Database
from registry.storage.sqlite.descriptions import description_neighbours
from registry.storage.sqlite.index_rows import term_hash
from search.policy import KEY_CANDIDATE_LIMIT, MIN_PARTIAL_LENGTH, SUFFIX_CANDIDATE_LIMIT
from search.scoring import reaches_any

SUFFIX_RANGE_END = "\uffff"  # sorts after every character a skeleton can hold
SEQS_PER_QUERY = 10000  # well under SQLite's limit on parameters of one statement


class SQLiteCandidateIndex:
    """Reads the index rows ``index_rows`` writes with every report."""

    def __init__(self, database: Database) -> None:
        self.database = database

    def find_candidates_many(self, lookups: Sequence[Lookup]) -> list[list[Report]]:
        with self.database.snapshot() as db:
            nearby = _key_neighbours(db, lookups)
            skeletons = dict(_rows_by_seq(db, "SELECT report_seq, skeletons FROM report_skeletons "
                                              "WHERE report_seq IN ({})", {s for seqs in nearby for s in seqs}))
            found = [
                [s for s in seqs if keys is not None and reaches_any(keys.skeleton, skeletons[s].split())]
                + description_neighbours(db, description)
                for seqs, (keys, description) in zip(nearby, lookups)
            ]
            reports = {seq: cast(Report, json.loads(document)) for seq, document in _rows_by_seq(
                db, "SELECT seq, document FROM reports WHERE seq IN ({})", {s for seqs in found for s in seqs})}
        return [[reports[s] for s in dict.fromkeys(seqs)] for seqs in found]


def _key_neighbours(db: sqlite3.Connection, lookups: Sequence[Lookup]) -> list[list[int]]:
    """For each lookup, the reports sharing most keys with it (then oldest), and those sharing its tail.

    One statement per lookup with its keys inline: SQLite walks the key index
    once per key and counts in the same pass, twice as fast as filling a
    temporary table of every lookup's keys and joining it.
    """
    nearby: list[list[int]] = []
    for keys, _ in lookups:
        if keys is None:
            nearby.append([])
            continue
        hashes = sorted({term_hash(t) for t in keys.terms})
        seqs = [r[0] for r in db.execute(
            f"SELECT report_seq FROM identifier_terms WHERE term IN ({','.join('?' * len(hashes))}) "
            "GROUP BY report_seq ORDER BY count(*) DESC, report_seq LIMIT ?", (*hashes, KEY_CANDIDATE_LIMIT),
        )]
        if len(keys.skeleton) >= MIN_PARTIAL_LENGTH:
            seqs += [r[0] for r in db.execute(
                "SELECT report_seq FROM identifier_suffixes WHERE suffix_key >= ? AND suffix_key < ? LIMIT ?",
                (keys.suffix_key, keys.suffix_key + SUFFIX_RANGE_END, SUFFIX_CANDIDATE_LIMIT),
            )]
        nearby.append(list(dict.fromkeys(seqs)))
    return nearby


def _rows_by_seq(db: sqlite3.Connection, sql: str, seqs: set[int]) -> Iterator[Any]:
    """Rows of ``sql`` (an ``IN ({})`` over report seqs), asked in chunks that fit SQLite's parameter limit."""
    ordered = sorted(seqs)
    for start in range(0, len(ordered), SEQS_PER_QUERY):
        chunk = ordered[start:start + SEQS_PER_QUERY]
        yield from db.execute(sql.format(",".join("?" * len(chunk))), chunk)
