"""The services an app instance runs with, reachable from any request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from registry.services import CheckService, ReportService
from registry.storage.base import Storage

EXTENSION_KEY = "irontrace"


@dataclass
class Services:
    storage: Storage
    reports: ReportService
    checks: CheckService

    @classmethod
    def over(cls, storage: Storage) -> "Services":
        return cls(storage, ReportService(storage), CheckService(storage))


def services() -> Services:
    return current_app.extensions[EXTENSION_KEY]
