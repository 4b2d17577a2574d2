"""Every enumerated word of the registry, in one place, below everything else.

Schemas validate against these tuples, engines store them, adapters map
foreign records onto them.  Matching's own words (which statuses can hit,
match types, tiers, verdicts, reading sources) are defined by
``search.vocabulary``, since ``search`` imports nothing from ``registry``,
and are re-exported here.
"""

from __future__ import annotations

from typing import Final

from search.vocabulary import (
    ACTIVE_STATUSES,
    ALARM,
    COPIED,
    HIT,
    HIT_MATCH_TYPES,
    MATCH_TYPES,
    NO_MATCH,
    OCR,
    POSSIBLE_MATCH,
    READING_SOURCES,
    SIMILAR,
    SIMILAR_SERIALS,
    TIERS,
    TYPED,
    VERDICTS,
)

__all__ = [
    "ACTIVE_STATUSES", "HIT", "HIT_MATCH_TYPES", "MATCH_TYPES", "NO_MATCH", "POSSIBLE_MATCH", "VERDICTS",
    "SIMILAR_SERIALS", "ALARM", "SIMILAR", "TIERS", "TYPED", "COPIED", "OCR", "READING_SOURCES",
    "STATUSES", "CATEGORIES", "IDENTIFIER_TYPES", "ROLES", "ADMIN", "AGENCY", "BORDER", "DEALER", "AUDITOR", "REPLICA",
    "ACTIVE_JOB_STATUSES", "FINAL_JOB_STATUSES", "JOB_STATUSES", "STALLED", "SOURCE_STATUSES",
    "UNANSWERED_SOURCE_STATUSES", "CIRCUIT_STATES", "KEY_STATES", "AUDIT_ACTIONS", "canonical_category",
    "PRIORITIES", "CONFIRMATION_OUTCOMES", "CONFIRMATION_STATUSES", "WEBHOOK_EVENTS", "DELIVERY_STATUSES", "OPEN",
    "OVERDUE",
]

# Reports.
STATUSES: Final = ("stolen", "missing", "recovered", "cancelled")
CATEGORIES: Final = (
    "excavator", "haul_truck", "truck", "loader", "dozer", "grader", "drill_rig",
    "crusher", "generator", "compressor", "attachment", "other",
)


def canonical_category(name: str) -> str | None:
    """The registry's category a name means (``Drill rig``, ``drill-rig``, ``DRILL_RIG`` all mean
    ``drill_rig``), or ``None``: imports, checks and bulk files all accept categories this one way."""
    canonical = "_".join(name.replace("_", " ").replace("-", " ").casefold().split())
    return canonical if canonical in CATEGORIES else None


IDENTIFIER_TYPES: Final = ("pin", "vin", "serial", "engine", "component", "telematics", "other")
assert set(STATUSES) >= ACTIVE_STATUSES

# Who acts (``registry.access`` says what each role may do).
ADMIN, AGENCY, BORDER, DEALER, AUDITOR = "admin", "agency", "border", "dealer", "auditor"
REPLICA: Final = "replica"  # a border post's offline copy: reads the change feed, forwards its checks
ROLES: Final = (ADMIN, AGENCY, BORDER, DEALER, AUDITOR, REPLICA)
KEY_STATES: Final = ("active", "expired", "revoked")

# Bulk-check jobs.
ACTIVE_JOB_STATUSES: Final = ("queued", "running")
FINAL_JOB_STATUSES: Final = ("done", "failed", "cancelled")
STALLED: Final = "stalled"  # shown, never stored: running, but its worker stopped renewing the lease
JOB_STATUSES: Final = ACTIVE_JOB_STATUSES + (STALLED,) + FINAL_JOB_STATUSES

# External registries: how one did for a check, and its circuit breaker.
SOURCE_STATUSES: Final = ("ok", "timeout", "error", "unavailable", "skipped")
UNANSWERED_SOURCE_STATUSES: Final = ("timeout", "error", "unavailable")  # the check's coverage is incomplete
CIRCUIT_STATES: Final = ("closed", "open", "half_open")

# The audit log.
AUDIT_ACTIONS: Final = (
    "check", "bulk_check.submit", "bulk_check.batch", "bulk_check.done", "bulk_check.cancel", "bulk_check.sync",
    "report.create", "report.update", "reports.import", "reports.import.batch", "key.create", "key.revoke",
    "user.create", "user.password_reset", "user.disable", "user.enable",
    "user.sign_in", "user.sign_in_failed", "user.sign_out", "page.view", "alert.scanning",
    "confirmation.request", "confirmation.answer", "confirmation.overdue", "webhook.create", "webhook.delete",
    "webhook.redeliver", "report.seen_before", "report.validate", "report.review_due", "retention.purge",
    "changes.read", "changes.snapshot", "check.forwarded", "replica.sync", "replica.snapshot",
)

# Acting on a hit: confirmation requests, and the events webhooks receive.
PRIORITIES: Final = ("urgent", "routine")
CONFIRMATION_OUTCOMES: Final = ("confirmed", "not_confirmed", "record_outdated")
OPEN, OVERDUE = "open", "overdue"
CONFIRMATION_STATUSES: Final = (OPEN, OVERDUE, *CONFIRMATION_OUTCOMES)
WEBHOOK_EVENTS: Final = ("check.matched", "confirmation.requested", "confirmation.answered", "confirmation.overdue",
                         "bulk_check.finished", "report.review_due", "report.seen_before")
DELIVERY_STATUSES: Final = ("pending", "delivered", "failed")
