"""The rules of the hash-chained audit log: sealing an entry, reading it back, and verifying the chain.

Each entry carries its position (``seq``), the hash of the entry before it
(``prev_hash``) and its own ``hash``: SHA-256 over its canonical JSON with
``prev_hash`` included.  Editing an entry changes its hash; deleting or
reordering entries breaks a ``seq`` or a ``prev_hash`` link.  Engines keep
copies of a few fields beside each entry for filters (``indexed_fields``);
verification holds those copies to the sealed entry too, so changing one
(to hide an entry from ``/v1/audit?principal=``) is caught like an edit.

Removing the newest entries leaves a shorter chain that is still whole, so
the head (``seq`` and ``hash``) is published regularly outside the database
(``registry.files.heads``), and verification checks every anchor it is given:
the newest published head, and any head an operator recorded (``--anchor``).
Because each hash covers everything before it, one anchor proves the whole
prefix up to it.

Engines store entries and assign ``seq`` under their own concurrency control
(``registry.storage.interfaces.AuditLog``); the rules here are pure functions,
and ``registry.services.audit`` writes and reads the log.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from registry.records import AuditEntry, ImportOutcome, StoredAuditEntry

GENESIS_HASH = "0" * 64  # the ``prev_hash`` of the first entry
IMPORT_BATCH_ACTION = "reports.import.batch"
# What a readable entry holds, and of which type: anything else is reported, never trusted.
ENTRY_FIELDS: dict[str, tuple[type, ...]] = {
    "seq": (int,), "at": (str,), "action": (str,), "actor": (dict,), "subject": (str, type(None)),
    "details": (dict,), "prev_hash": (str,), "hash": (str,),
}


def entry_hash(entry: Mapping[str, Any]) -> str:
    """SHA-256 of the entry's canonical JSON, everything but its own hash."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def seal(entry: AuditEntry, seq: int, prev_hash: str) -> AuditEntry:
    """The entry as stored at position ``seq`` after an entry whose hash is ``prev_hash``."""
    placed: AuditEntry = {**entry, "seq": seq, "prev_hash": prev_hash}
    return {**placed, "hash": entry_hash(placed)}


def indexed_fields(entry: AuditEntry) -> dict[str, Any]:
    """The fields an engine keeps beside an entry for filtering and ordering: always copied from
    the sealed entry, and held to it by ``verify_chain``."""
    return {"seq": entry["seq"], "at": entry["at"], "action": entry["action"],
            "principal": entry["actor"]["principal"], "subject": entry["subject"]}


def decode(stored: Any) -> tuple[AuditEntry | None, str | None]:
    """An entry as an engine returned it (JSON text, or an object): the entry, or what is wrong with it."""
    value = stored
    if isinstance(stored, (str, bytes)):
        try:
            value = json.loads(stored)
        except ValueError:
            return None, "not valid JSON"
    if not isinstance(value, dict):
        return None, f"a JSON {type(value).__name__}, not an object"
    for name, types in ENTRY_FIELDS.items():
        if name not in value:
            return None, f"no {name}"
        if not isinstance(value[name], types) or isinstance(value[name], bool):
            return None, f"{name} is a {type(value[name]).__name__}"
    if not isinstance(value["actor"].get("principal"), str):
        return None, "no actor.principal"
    return cast(AuditEntry, value), None


def readable(position: int, stored: Any) -> AuditEntry:
    """The entry to show a reader: the stored one, or a stand-in saying it is corrupt, so one bad
    entry never breaks a listing or an export."""
    entry, problem = decode(stored)
    if entry is not None:
        return entry
    return {"seq": position, "corrupt": f"entry {position} cannot be read: {problem}"}


def import_batch_entry(base: AuditEntry, outcomes: Sequence[ImportOutcome]) -> AuditEntry | None:
    """The entry of one committed import batch: which reports it created and updated (by id).

    Engines build it from what the batch actually changed, in the same
    transaction (SQLite) or from what recovery finds stored (Elasticsearch);
    a batch that changed nothing has no entry.
    """
    created = [o.report_id for o in outcomes if o.action == "created"]
    updated = [o.report_id for o in outcomes if o.action == "updated"]
    if not created and not updated:
        return None
    details = {**base.get("details", {}), "created": created, "updated": updated}
    return {**base, "action": IMPORT_BATCH_ACTION, "details": details}


@dataclass(frozen=True)
class Anchor:
    """A head known from outside the log (published, or recorded by an operator) that must still be in it."""

    seq: int
    hash: str
    label: str  # says where it comes from, in the report


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


def verify_chain(stored: Iterable[StoredAuditEntry], anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Walk the stored entries oldest first and find the first break.

    The storage position is where the engine keeps the entry (a row key, a
    document id); it must agree with the ``seq`` sealed inside the entry.
    Every anchor must be found, with its hash: a missing one means entries
    were cut off the end (or the whole log emptied).
    """
    expected: dict[int, Anchor] = {a.seq: a for a in sorted(anchors, key=lambda a: a.seq)}
    expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
    for item in stored:
        count += 1
        entry, problem = _entry_problem(item, expected_seq, prev_hash)
        if problem or entry is None:
            return ChainReport(count - 1, expected_seq - 1, prev_hash, broken_at=min(item.position, expected_seq),
                               reason=problem)
        anchor = expected.pop(entry["seq"], None)
        if anchor and entry["hash"] != anchor.hash:
            return ChainReport(count - 1, expected_seq - 1, prev_hash, broken_at=item.position,
                               reason=f"entry differs from {anchor.label}")
        expected_seq, prev_hash = expected_seq + 1, entry["hash"]
    if expected:
        missing = min(expected.values(), key=lambda a: a.seq)
        return ChainReport(count, expected_seq - 1, prev_hash, broken_at=missing.seq,
                           reason=f"entry {missing.seq} ({missing.label}) is missing: entries were removed from "
                                  f"the end, or the log was emptied")
    return ChainReport(count, expected_seq - 1, prev_hash)


def _entry_problem(item: StoredAuditEntry, expected_seq: int, prev_hash: str
                   ) -> tuple[AuditEntry | None, str | None]:
    position = item.position
    if position != expected_seq:
        return None, (f"entry {expected_seq} is missing (next stored entry is {position})" if position > expected_seq
                      else f"entry {position} is out of order")
    entry, unreadable = decode(item.stored)
    if entry is None:
        return None, f"entry {position} cannot be read: {unreadable}"
    if entry["seq"] != position:
        return None, f"entry stored at {position} says it is entry {entry['seq']}"
    if entry["prev_hash"] != prev_hash:
        return None, "prev_hash does not match the entry before it"
    if entry["hash"] != entry_hash(entry):
        return None, "content does not match its hash (edited)"
    sealed = indexed_fields(entry)
    for name, value in item.indexed.items():
        if sealed.get(name) != value:
            return None, (f"the {name} kept for filters ({value!r}) differs from the sealed entry "
                          f"({sealed.get(name)!r})")
    return entry, None
