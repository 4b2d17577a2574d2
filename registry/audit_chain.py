"""The rules of the hash-chained audit log: sealing an entry, and verifying the chain.

Each entry carries its position (``seq``), the hash of the entry before it
(``prev_hash``) and its own ``hash``: SHA-256 over its canonical JSON with
``prev_hash`` included.  Editing an entry changes its hash; deleting or
reordering entries breaks a ``seq`` or a ``prev_hash`` link.  Removing the
newest entries leaves a shorter chain that is still whole, so ``verify``
prints the head (``seq:hash``) for operators to record elsewhere, and checks a
recorded head when given one (``--anchor``).

Engines store entries and assign ``seq`` under their own concurrency control
(``registry.storage.interfaces.AuditLog``); the chain rules here are pure
functions, and ``registry.services.audit`` writes and reads the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from registry.records import AuditEntry

GENESIS_HASH = "0" * 64  # the ``prev_hash`` of the first entry


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON, everything but its own hash."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(entry: AuditEntry, seq: int, prev_hash: str) -> AuditEntry:
    """The entry as stored at position ``seq`` after an entry whose hash is ``prev_hash``."""
    placed: AuditEntry = {**entry, "seq": seq, "prev_hash": prev_hash}
    return {**placed, "hash": entry_hash(placed)}


@dataclass(frozen=True)
class ChainReport:
    """What ``verify_chain`` found: intact, or the first entry where the chain breaks, and why."""

    entries: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


def verify_chain(stored: Iterable[tuple[int, AuditEntry]], anchor: tuple[int, str] | None = None) -> ChainReport:
    """Walk ``(storage position, entry)`` pairs oldest first and find the first break.

    The storage position is where the engine keeps the entry (a row key, a
    document id); it must agree with the ``seq`` sealed inside the entry.
    """
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    anchored = anchor is None
    for position, entry in stored:
        count += 1
        problem = _entry_problem(position, entry, expected_seq, prev_hash)
        if problem:
            return ChainReport(count - 1, expected_seq - 1, prev_hash, broken_at=min(position, expected_seq),
                               reason=problem)
        if anchor and entry["seq"] == anchor[0]:
            if entry["hash"] != anchor[1]:
                return ChainReport(count - 1, expected_seq - 1, prev_hash, broken_at=position,
                                   reason="entry differs from the recorded anchor")
            anchored = True
        expected_seq, prev_hash = expected_seq + 1, entry["hash"]
    if anchor is not None and not anchored:
        return ChainReport(count, expected_seq - 1, prev_hash, broken_at=anchor[0],
                           reason="the anchored entry is missing: entries were removed from the end")
    return ChainReport(count, expected_seq - 1, prev_hash)


def _entry_problem(position: int, entry: AuditEntry, expected_seq: int, prev_hash: str) -> str | None:
    if position != expected_seq:
        return f"entry {expected_seq} is missing (next stored entry is {position})" if position > expected_seq \
            else f"entry {position} is out of order"
    if entry.get("seq") != position:
        return f"entry stored at {position} says it is entry {entry.get('seq')}"
    if entry.get("prev_hash") != prev_hash:
        return "prev_hash does not match the entry before it"
    if entry.get("hash") != entry_hash(entry):
        return "content does not match its hash (edited)"
    return None
