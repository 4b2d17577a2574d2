"""The audit log as a service: the other services write it, auditors read and verify it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from registry.access import READ_AUDIT, Actor
from registry.audit_chain import ChainReport, verify_chain
from registry.records import AuditEntry, AuditFilter, Page
from registry.stamps import utc_now
from registry.storage.interfaces import AuditLog

EXPORT_PAGE_SIZE = 500


class AuditService:
    """Writes the audit log on behalf of the other services, and reads it for auditors."""

    def __init__(self, log: AuditLog) -> None:
        self.log = log

    def record(self, actor: Actor, action: str, subject: str | None, details: dict[str, Any]) -> AuditEntry:
        """Append one entry: who did what to which subject, and the details that say how."""
        entry: AuditEntry = {"at": utc_now(), "action": action, "actor": actor.as_record(), "subject": subject,
                             "details": details}
        return self.log.append(entry)

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

    def verify(self, actor: Actor, anchor: tuple[int, str] | None = None) -> ChainReport:
        actor.require(READ_AUDIT)
        return verify_chain(self.log.iter_stored(), anchor)
