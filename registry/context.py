"""The services an app instance runs with, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask import current_app

from registry.access import KeyService
from registry.audit import AuditService
from registry.services import CheckService, ReportService
from registry.storage.base import Storage

if TYPE_CHECKING:
    from integrations.federation import Federation

EXTENSION_KEY = "irontrace"


@dataclass
class Services:
    storage: Storage
    reports: ReportService
    checks: CheckService
    keys: KeyService
    audit: AuditService

    @classmethod
    def over(cls, storage: Storage, federation: "Federation | None" = None) -> "Services":
        """The services over one storage engine, checks also asking ``federation``'s sources."""
        audit = AuditService(storage)
        return cls(storage, ReportService(storage, audit), CheckService(storage, audit, federation),
                   KeyService(storage, audit), audit)


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
