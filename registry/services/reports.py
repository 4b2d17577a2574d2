"""Reports: what a valid report is, who may write which, and how versions move."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from registry.access import CHECK, READ_REPORTS, READ_SIGHTINGS, WRITE_REPORTS, Actor
from registry.errors import NotFound, ValidationFailed
from registry.records import Document, Page, Report, ReportFilter
from registry.services.audit import AuditService
from registry.services.sightings import SightingService
from registry.stamps import Clock, iso_at, new_id
from registry.storage.interfaces import ReportStore
from registry.validation import validate_report

# Set by the registry, never by a client: a write ignores them (``review_at``/``review_due`` are only shown).
SERVER_FIELDS = ("id", "version", "created_at", "updated_at", "validated_at", "review_at", "review_due")
# What a report must say when it is marked recovered or cancelled, and how the problem names it.
CLOSING_DETAILS = {
    "recovered": ("recovery", "A report marked recovered needs its recovery: date, place, country and "
                              "recovering agency (and a note, if any)."),
    "cancelled": ("cancellation", "A report that is cancelled needs the reason: cancellation.reason."),
}


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch: objects merge, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def without_server_fields(data: Any) -> Any:
    """What a client may say of a report: exported reports carry id and version, which a write ignores."""
    if not isinstance(data, dict):
        return data
    return {k: v for k, v in data.items() if k not in SERVER_FIELDS}


class ReportService:
    """Registers, reads, changes and lists reports for an actor; every write is in the audit log."""

    def __init__(self, reports: ReportStore, audit: AuditService, sightings: SightingService | None = None,
                 clock: Clock = time.time) -> None:
        self.reports = reports
        self.audit = audit
        self.sightings = sightings
        self.clock = clock

    def create(self, actor: Actor, report: Report) -> Report:
        """Store a report already validated (``registry.validation.ReportInputSchema``)."""
        actor.require_write(report)
        actor.require_same_source(None, report)
        now = iso_at(self.clock())
        new: Report = {**report, "id": new_id(), "version": 1, "created_at": now, "updated_at": now}
        created = self.reports.create(new, self.audit.entry(actor, "report.create", new["id"],
                                                            {"before": None, "after": new}))
        if self.sightings is not None:
            self.sightings.look(actor, created)
        return created

    def get(self, actor: Actor, report_id: str) -> Report:
        actor.require(READ_REPORTS)
        return self.reports.get(report_id)

    def sightings_of(self, actor: Actor, report_id: str) -> Document:
        """Where a report's item was checked before it was registered (``SightingService``)."""
        actor.require(READ_SIGHTINGS)
        if self.sightings is None:
            raise NotFound("Sightings are not kept here.")
        return self.sightings.get(actor, self.reports.get(report_id))

    def update(self, actor: Actor, report_id: str, patch: dict[str, Any], expected_version: int) -> Report:
        """Apply a merge patch to the version the client saw; the whole result is revalidated.

        An agency must own the report both before and after: it can neither
        edit another agency's report nor hand its own to another agency.  A role
        that writes no reports is refused before the report is looked up, so its
        answer is the same whether the report exists or not.
        """
        actor.require(WRITE_REPORTS)
        stored = self.reports.get(report_id)
        actor.require_write(stored)
        merged = validate_report(merge_patch(without_server_fields(stored), patch))
        report: Report = {
            **merged,
            "id": stored["id"],
            "created_at": stored["created_at"],
            **({"validated_at": stored["validated_at"]} if stored.get("validated_at") else {}),
            "version": expected_version + 1,
            "updated_at": iso_at(self.clock()),
        }
        require_closing_details(stored, report)
        actor.require_write(report)
        actor.require_same_source(stored, report)
        entry = self.audit.entry(actor, "report.update", report_id, {"before": stored, "after": report})
        replaced = self.reports.replace(report, expected_version, entry)
        if self.sightings is not None and _values(replaced) - _values(stored):  # it gained an identifier
            self.sightings.look(actor, replaced)
        return replaced

    def list(self, actor: Actor, filters: ReportFilter, limit: int, cursor: str | None) -> Page[Report]:
        """Listing and text search enumerate the registry: only roles that read reports may."""
        actor.require(READ_REPORTS)
        return self.reports.list(filters, limit, cursor)

    def last_registered(self, actor: Actor) -> str | None:
        """When the newest report was registered: how current the registry is, for anyone who checks."""
        actor.require(CHECK)
        newest = self.reports.list(ReportFilter(), 1, None).items
        return newest[0]["created_at"] if newest else None

    def export(self, actor: Actor) -> Iterator[Report]:
        """Every report, oldest first (``irontrace export``)."""
        actor.require(READ_REPORTS)
        return self.reports.iter_all()


def require_closing_details(stored: Report, report: Report) -> None:
    """A report marked recovered says how (``recovery``), one cancelled says why (``cancellation``)."""
    if report["status"] == stored["status"] or report["status"] not in CLOSING_DETAILS:
        return
    field, message = CLOSING_DETAILS[report["status"]]
    if not report.get(field):
        raise ValidationFailed([{"field": field, "message": message}], message)


def _values(report: Report) -> set[str]:
    return {identifier["value"] for identifier in report.get("identifiers", ())}
