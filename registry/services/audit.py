"""The audit log as a service: the other services write it, auditors read and verify it.

Services build an entry (``entry``) and hand it to the engine with the write
it records, so that both succeed or fail together; entries that record no
write of their own are appended alone (``record``).  ``publish_head`` puts the
log's head in the heads file regularly (``registry.services.maintenance``), and
``verify`` holds the log to the newest head published there, so cutting
entries off the end or emptying the log is caught without anyone keeping
anchors by hand.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from registry.access import READ_AUDIT, Actor
from registry.audit_chain import Anchor, ChainReport, verify_chain
from registry.files.heads import HeadsFile, PublishedHead
from registry.metrics import AUDIT_APPEND_FAILURES
from registry.records import AuditEntry, AuditFilter, Page
from registry.stamps import iso_at, utc_now
from registry.storage.interfaces import AuditLog

EXPORT_PAGE_SIZE = 500

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verification:
    """What verifying found: the chain, the published head it was held to, and the entries still
    pending (writes whose entry an engine without transactions has yet to append)."""

    chain: ChainReport
    published: PublishedHead | None
    pending: int

    @property
    def intact(self) -> bool:
        return self.chain.intact

    def to_dict(self) -> dict[str, Any]:
        published = self.published.as_dict() if self.published else None
        return {**vars(self.chain), "intact": self.chain.intact, "published": published, "pending": self.pending}


class AuditService:
    """Writes the audit log on behalf of the other services, and reads it for auditors."""

    def __init__(self, log: AuditLog, heads: HeadsFile) -> None:
        self.log = log
        self.heads = heads

    def entry(self, actor: Actor, action: str, subject: str | None, details: dict[str, Any]) -> AuditEntry:
        """The entry recording that ``actor`` did ``action`` to ``subject``, not yet in the chain: an
        engine appends it with the write it records."""
        return {"at": utc_now(), "action": action, "actor": actor.as_record(), "subject": subject,
                "details": details}

    def record(self, actor: Actor, action: str, subject: str | None, details: dict[str, Any]) -> AuditEntry:
        """Append an entry that records no write of its own (a synchronous bulk check, an import run,
        an alert): who did what to which subject, and the details that say how."""
        try:
            return self.log.append(self.entry(actor, action, subject, details))
        except Exception:
            AUDIT_APPEND_FAILURES.labels(action).inc()
            raise

    def list(self, actor: Actor, filters: AuditFilter, limit: int, cursor: str | None) -> Page[AuditEntry]:
        actor.require(READ_AUDIT)
        return self.log.list(filters, limit, cursor)

    def export(self, actor: Actor, filters: AuditFilter) -> Iterator[AuditEntry]:
        """Every matching entry, oldest first, read a page at a time as the caller consumes them;
        the permission is checked now, before anything is read."""
        actor.require(READ_AUDIT)
        return self._pages(filters)

    def _pages(self, filters: AuditFilter) -> Iterator[AuditEntry]:
        cursor = None
        while True:
            page = self.log.list(filters, EXPORT_PAGE_SIZE, cursor)
            yield from page.items
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def verify(self, actor: Actor, anchor: tuple[int, str] | None = None) -> Verification:
        """Walk the chain, holding it to the newest published head and to ``anchor`` (a head the
        caller recorded), if given."""
        actor.require(READ_AUDIT)
        published = self.heads.latest()
        anchors = []
        if published and published.seq > 0:
            anchors.append(Anchor(published.seq, published.hash, f"the head published at {published.at}"))
        if anchor:
            anchors.append(Anchor(*anchor, "the anchor given"))
        return Verification(verify_chain(self.log.iter_stored(), anchors), published, self.log.pending())

    def publish_head(self, now: float) -> PublishedHead | None:
        """Append the log's head to the heads file if it moved on from the newest one published
        there, and that one is still in the log; the head published, if any.

        A log that no longer holds the newest published head was cut or
        rewritten: nothing is published (the file keeps the evidence) and the
        failure is logged, once per call, for the operator's alerting.
        """
        def decide(latest: PublishedHead | None) -> PublishedHead | None:
            seq, head_hash = self.log.head()
            if latest is not None and self.log.hash_at(latest.seq) != latest.hash:
                log.error("the audit log no longer holds its published head %s:%s (published at %s): "
                          "entries were removed or rewritten; run `irontrace audit verify`",
                          latest.seq, latest.hash, latest.at)
                return None
            if seq == 0 or (latest is not None and seq <= latest.seq):
                return None
            return PublishedHead(seq, head_hash, iso_at(now))

        return self.heads.publish(decide)
