"""Writes and their audit entries on Elasticsearch: a durable intent first, then the write, then the entry.

Elasticsearch has no transaction spanning two documents, so every audited
write goes through ``Outbox.recorded``:

1. an *intent* is created in ``{prefix}-audit-outbox`` (durable, like every
   write here), under the id of the subject being written (``report:<id>``,
   ``job:<id>``...): a second writer of the same subject waits until the first
   is done, so nothing else changes the subject while an intent stands;
2. the write is made;
3. the entry is appended, tagged with the intent's id.  Writes that must
   follow the first (the deliveries of the events it raised, when they
   cannot share its request) travel in the intent as ``follow_up``
   operations that create documents under fixed ids: recovery replays them
   when it finds the write stored, and a replay of one already made is a
   harmless conflict.  The finished intent is
   dropped in the same request that announces this process's next write (a
   bulk call: one fsync for both), so a write costs two more durable writes
   than it did, not three; a writer of the same subject in another process
   that finds a finished intent (its entry is in the log) drops it itself.

A write that is refused (a conflict, a stale version, a blocked index) drops
its intent: nothing to record.  A crash, or an audit log that cannot take
the entry, leaves the intent behind; ``complete_pending`` (at start-up and
every few minutes, from each process) takes intents older than the grace
period, asks the store that wrote whether the write is stored (its *probe*),
and appends the entry exactly then, never twice (the log is searched for the
intent first).  A live writer never appends once half the grace period has
passed since its intent, which leaves the other half as margin for clocks
that disagree between hosts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from elasticsearch import ConflictError, Elasticsearch, NotFoundError, TransportError

from registry.errors import IronTraceError, StorageUnavailable
from registry.metrics import AUDIT_APPEND_FAILURES
from registry.records import AuditEntry, Document
from registry.stamps import Clock
from registry.storage.elasticsearch.audit import ElasticsearchAuditLog
from registry.storage.elasticsearch.cluster import Cluster, ReadPosition, bulk_items, read_position, refusal

log = logging.getLogger(__name__)

# A probe: given the cluster, what the intent says was to be written, and the entry to append,
# the entry to append now (the write is stored), or None (it is not).
Probe = Callable[[Elasticsearch, Document, AuditEntry], AuditEntry | None]

SLOT_WAIT_SECONDS = 5.0  # how long a writer waits for another writer of the same subject
SLOT_POLL_SECONDS = 0.02
RECOVERY_PAGE = 200  # old intents completed per round
PENDING_COUNTED = 10_000  # intents looked at when counting the pending ones


def digest(document: Any) -> str:
    """A fingerprint of a document as written, for probes to compare with what is stored."""
    return hashlib.sha256(json.dumps(document, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass
class Pending:
    """The write under way: the entry to append (the block may replace it, or set it to ``None``
    when nothing changed), and whether anything was written yet."""

    entry: AuditEntry | None
    written: bool = False
    unfinished: str | None = None  # why a stored write's follow-up failed: the intent stays for recovery


class Outbox:
    def __init__(self, cluster: Cluster, audit: ElasticsearchAuditLog, clock: Clock, grace_seconds: float) -> None:
        self.cluster = cluster
        self.audit = audit
        self.clock = clock
        self.grace_seconds = grace_seconds
        self.probes: dict[str, Probe] = {}
        self._lock = threading.Lock()
        self._finished: list[tuple[str, ReadPosition]] = []  # intents done with, dropped with the next announcement

    def register(self, kind: str, probe: Probe) -> None:
        """How recovery tells whether a write of ``kind`` is stored."""
        self.probes[kind] = probe

    @contextmanager
    def recorded(self, slot: str, kind: str, entry: AuditEntry, probe: Document,
                 follow_up: Sequence[Document] = ()) -> Iterator[Pending]:
        """Announce a write of ``slot`` (a subject) and its entry, let the block write (and make the
        ``follow_up`` bulk operations once it wrote), then append the entry; see the module docstring
        for every way this can end."""
        intent = uuid.uuid4().hex
        position = self._announce(slot, {"intent": intent, "kind": kind, "created": self.clock(),
                                         "document": {"entry": entry, "probe": probe,
                                                      "follow_up": list(follow_up)}})
        started = time.monotonic()
        pending = Pending(entry)
        try:
            yield pending
        except BaseException as exc:
            if pending.unfinished:
                log.warning("a write of %s is left to recovery to finish: %s", slot, pending.unfinished)
            elif pending.written:
                # Written, but the block failed after: its follow-ups may be unmade, so the intent
                # stays for recovery to replay them.
                self._complete(slot, position, intent, pending.entry, started, keep_intent=bool(follow_up))
            elif _outcome_unknown(exc):
                log.warning("a write of %s may or may not be stored; recovery will tell: %s", slot, exc)
            else:
                self._drop(slot, position)  # at once: the subject's next writer may be in another process
            raise
        if pending.unfinished:
            log.warning("a write of %s is left to recovery to finish: %s", slot, pending.unfinished)
            return
        self._complete(slot, position, intent, pending.entry, started)

    def _announce(self, slot: str, intent: Document) -> ReadPosition:
        """Create the intent (dropping, in the same request, the intents this process finished); while
        another writer's intent for the subject stands, wait for it (drop it if it is finished,
        complete it first if it is older than the grace period).  The intent's position."""
        deadline = time.monotonic() + SLOT_WAIT_SECONDS
        with self.cluster.session() as es:
            while True:
                with self._lock:
                    finished, self._finished = self._finished, []
                operations: list[Document] = [
                    {"delete": {"_index": self.cluster.outbox_alias, "_id": done, **position}}
                    for done, position in finished]
                operations += [{"create": {"_index": self.cluster.outbox_alias, "_id": slot}}, intent]
                *dropped, created = bulk_items(es, operations, require_alias=True)
                self._keep_undropped(finished, dropped)
                if created["status"] < 300:
                    return {"if_seq_no": created["_seq_no"], "if_primary_term": created["_primary_term"]}
                if created["status"] != 409:
                    error = created.get("error") or {}
                    raise refusal([created], f"Elasticsearch refused to record the write ({error.get('type')}).")
                standing = self._get(es, slot)
                if standing is None:
                    continue
                if standing["_source"]["intent"] == intent["intent"]:
                    return read_position(standing)  # this very request, retried after its node went away
                if self.clock() - standing["_source"]["created"] > self.grace_seconds:
                    self._complete_stale(es, [standing])
                    continue
                if self.audit.completed_intents([standing["_source"]["intent"]]):
                    self._drop(slot, read_position(standing))  # finished by a process that has not dropped it
                    continue
                if time.monotonic() > deadline:
                    raise StorageUnavailable(f"Another change of {slot} is still being recorded; retry.")
                time.sleep(SLOT_POLL_SECONDS)

    def _keep_undropped(self, finished: list[tuple[str, ReadPosition]], dropped: list[Document]) -> None:
        """Finished intents whose drop failed for a passing reason go back for the next announcement
        (gone, or replaced by a newer intent, they are done with)."""
        retry = [item for item, result in zip(finished, dropped) if result["status"] >= 300
                 and result["status"] not in (404, 409)]
        if retry:
            with self._lock:
                self._finished += retry

    def flush(self) -> None:
        """Drop the intents this process finished now, rather than with its next announcement."""
        with self._lock:
            finished, self._finished = self._finished, []
        for slot, position in finished:
            self._drop(slot, position)

    def _complete(self, slot: str, position: ReadPosition, intent: str, entry: AuditEntry | None,
                  started: float, keep_intent: bool = False) -> None:
        """Append the entry, then set the intent aside to be dropped; if the log cannot take the entry
        now, or the live writer is past its half of the grace period, recovery appends it instead
        (the write stands either way)."""
        if entry is not None:
            if time.monotonic() - started > self.grace_seconds / 2:
                log.warning("the entry of %s is left to recovery: the write took too long", slot)
                return
            try:
                self.audit.append(entry, intent=intent)
            except StorageUnavailable as exc:
                AUDIT_APPEND_FAILURES.labels(entry["action"]).inc()
                log.warning("the entry of %s is left to recovery: %s", slot, exc.detail)
                return
        if keep_intent:
            return
        with self._lock:
            self._finished.append((slot, position))

    def _drop(self, slot: str, position: ReadPosition) -> None:
        """Remove an intent if it is still as read (a newer one of the subject stays); failures leave it
        to recovery."""
        try:
            with self.cluster.session() as es:
                es.delete(index=self.cluster.outbox_alias, id=slot, **position)
        except (StorageUnavailable, NotFoundError, ConflictError) as exc:
            log.info("intent %s not dropped now (%s); recovery will", slot, exc)

    def complete_pending(self, now: float) -> int:
        """Complete every intent older than the grace period; how many entries were appended."""
        self.flush()
        appended = 0
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.outbox_alias)
            while True:
                stale = es.search(index=self.cluster.outbox_alias,
                                  query={"range": {"created": {"lt": now - self.grace_seconds}}},
                                  sort=[{"created": "asc"}], size=RECOVERY_PAGE, seq_no_primary_term=True,
                                  track_total_hits=False)["hits"]["hits"]
                if not stale:
                    return appended
                appended += self._complete_stale(es, stale)
                es.indices.refresh(index=self.cluster.outbox_alias)
                if len(stale) < RECOVERY_PAGE:
                    return appended

    def _complete_stale(self, es: Elasticsearch, stale: list[Document]) -> int:
        """Append the entry of each stale intent whose write is stored and whose entry is not in the
        log yet, making its follow-ups; drop them all (each only as read, so a newer intent of the subject stays)."""
        done = self.audit.completed_intents([hit["_source"]["intent"] for hit in stale])
        appended = 0
        for hit in stale:
            source = hit["_source"]
            follow_up = source["document"].get("follow_up", [])
            if source["intent"] in done:
                self._replay(es, follow_up)
            else:
                probe = self.probes[source["kind"]]
                entry = probe(es, source["document"]["probe"], source["document"]["entry"])
                if entry is not None:
                    self._replay(es, follow_up)
                    self.audit.append(entry, intent=source["intent"])
                    appended += 1
                    log.warning("recovered the audit entry of %s (%s)", hit["_id"], source["kind"])
            self._drop(hit["_id"], read_position(hit))
        return appended

    def _replay(self, es: Elasticsearch, follow_up: list[Document]) -> None:
        """Make the follow-up writes of a stored write a crash may have cut off (409: already made)."""
        if follow_up:
            failed = [item for item in bulk_items(es, follow_up, require_alias=True)
                      if item["status"] >= 300 and item["status"] != 409]
            if failed:
                raise refusal(failed, "Elasticsearch refused the writes that follow a recovered one.")

    def pending(self) -> int:
        """Intents whose entry is not in the log yet (finished ones a process has not dropped yet are not)."""
        self.flush()
        with self.cluster.session() as es:
            es.indices.refresh(index=self.cluster.outbox_alias)
            hits = es.search(index=self.cluster.outbox_alias, size=PENDING_COUNTED, source_includes=["intent"],
                             track_total_hits=False)["hits"]["hits"]
        intents = [hit["_source"]["intent"] for hit in hits]
        return len(intents) - len(self.audit.completed_intents(intents)) if intents else 0

    def _get(self, es: Elasticsearch, slot: str) -> Document | None:
        try:
            return es.get(index=self.cluster.outbox_alias, id=slot).body
        except NotFoundError:
            return None


def _outcome_unknown(error: BaseException) -> bool:
    """Whether a failed write may still have been applied: the cluster did not answer (a timeout,
    a lost connection).  Any answer, even a refusal, says it was not."""
    if isinstance(error, IronTraceError) and not isinstance(error, StorageUnavailable):
        return False  # the store decided (a conflict, a stale version): nothing was written
    cause = error.__cause__ if isinstance(error, StorageUnavailable) else error
    return isinstance(cause, TransportError) or not isinstance(error, IronTraceError)
