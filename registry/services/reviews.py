"""The life of a report: its review date, the agency's validation, and the review notices.

An active report is reviewed by its agency ``REPORT_REVIEW_MONTHS`` after it
was registered or last validated (``POST /v1/reports/{id}/validation``): a
record nobody has looked at for a year may describe a machine long since found,
sold or written off.  Past that date, check answers show the match as
``review_due`` (the report still makes a hit: a border officer decides with
that in mind), and the maintenance round raises ``report.review_due`` for the
reporting agency once per review date: the notice is kept per report (the
review date it was sent for) in the same write as its outbox rows and audit
entry, so a round interrupted, or run by two processes, sends it at least
once and a later round not again.  Validating moves the date on, and a new
period begins.  Dates count by the configured clock.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from registry.access import WRITE_REPORTS, Actor
from registry.errors import Conflict
from registry.records import Report, ReportFilter
from registry.services.webhooks import Audience, WebhookService
from registry.stamps import Clock, iso, iso_at
from registry.storage.interfaces import ReportStore, SightingLog
from registry.vocabulary import ACTIVE_STATUSES

SWEEP_BATCH = 200  # reports read per page by the sweep


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same day and time ``months`` calendar months later (or earlier), on the month's last day
    when it has no such day (31 January + 1 month is 28 or 29 February)."""
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    following = dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1)
    last_day = (following - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month + 1, day=min(moment.day, last_day))


def _parse(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def review_at(report: Report, months: int) -> str | None:
    """When an active report is due for review, ``months`` after its registration or last validation;
    ``None`` for a recovered or cancelled one."""
    if report["status"] not in ACTIVE_STATUSES:
        return None
    return iso(add_months(_parse(report.get("validated_at", report["created_at"])), months))


def review_due(report: Report, months: int, now: float) -> bool:
    """Whether an active report's review date has passed at ``now``."""
    date = review_at(report, months)
    return date is not None and date <= iso_at(now)


class ReviewService:
    def __init__(self, reports: ReportStore, notices: SightingLog, webhooks: WebhookService, clock: Clock,
                 settings: dict[str, Any]) -> None:
        self.reports = reports
        self.notices = notices
        self.webhooks = webhooks
        self.audit = webhooks.audit
        self.clock = clock
        self.months: int = settings["REPORT_REVIEW_MONTHS"]

    def review_at(self, report: Report) -> str | None:
        return review_at(report, self.months)

    def view(self, report: Report) -> Report:
        """A report as shown to those who read it: with its review date and whether it passed."""
        return {**report, "review_at": self.review_at(report), "review_due": review_due(report, self.months,
                                                                                        self.clock())}

    def validate(self, actor: Actor, report_id: str) -> Report:
        """The reporting agency (or an admin) says the report is current: a new review period begins."""
        actor.require(WRITE_REPORTS)
        stored = self.reports.get(report_id)
        actor.require_write(stored)
        if stored["status"] not in ACTIVE_STATUSES:
            raise Conflict(f"Report {report_id} is {stored['status']}: only stolen or missing reports are validated.")
        now = iso_at(self.clock())
        validated: Report = {**stored, "validated_at": now, "updated_at": now, "version": stored["version"] + 1}
        entry = self.audit.entry(actor, "report.validate", report_id, {
            "version": validated["version"], "review_was": self.review_at(stored),
            "review_at": self.review_at(validated)})
        return self.reports.replace(validated, stored["version"], entry)

    def sweep_due(self, now: float) -> int:
        """Raise ``report.review_due`` for every active report past its review date that has not had it
        for this date; how many were raised."""
        before = iso(add_months(dt.datetime.fromtimestamp(now, dt.UTC), -self.months))
        raised = 0
        for status in sorted(ACTIVE_STATUSES):
            cursor: str | None = None
            while True:
                page = self.reports.list(ReportFilter(status=status, unreviewed_since=before), SWEEP_BATCH, cursor)
                raised += sum(self._notify(report, now) for report in page.items)
                cursor = page.next_cursor
                if cursor is None:
                    break
        return raised

    def _notify(self, report: Report, now: float) -> bool:
        if not review_due(report, self.months, now):
            return False
        review_at = self.review_at(report)
        sent = self.notices.get(report["id"])
        if sent is not None and sent["review_at"] == review_at:
            return False
        agency = report["reporting_agency"]["name"]
        data = {"report_id": report["id"], "external_ref": report["external_ref"], "agency": agency,
                "status": report["status"], "registered_at": report["created_at"],
                "validated_at": report.get("validated_at"), "review_at": review_at}
        deliveries = self.webhooks.deliveries_for("report.review_due", Audience.of([agency]), data)
        entry = self.audit.entry(Actor.system(), "report.review_due", report["id"], {"review_at": review_at})
        self.notices.save(report["id"], {"report_id": report["id"], "review_at": review_at, "sent_at": iso_at(now)},
                          entry, deliveries)
        self.webhooks.stored(deliveries)
        return True
