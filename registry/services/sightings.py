"""Seen before: a report, when registered (or given new identifiers), is matched against the checks
of the last ``SIGHTINGS_DAYS`` days.

The checks sharing a lookup key with the report's identifiers are found by the
engine (``search.keys.reading_terms`` / ``sighting_terms``); whether each one
matches is decided by ``search.matching.rank`` of that check's own query
against the report, exactly as a check decides.  What is found is kept with
the report (``GET /v1/reports/{id}/sightings``) and sent to the reporting
agency as ``report.seen_before``: where (which kind of checker, which agency)
and when the item was checked, and what was read.
"""

from __future__ import annotations

from typing import Any

from registry.access import READ_SIGHTINGS, Actor
from registry.errors import NotFound
from registry.records import Document, Report
from registry.services.webhooks import Audience, WebhookService
from registry.stamps import SECONDS_PER_DAY, Clock, iso_at
from registry.storage.interfaces import CheckLog, SightingLog
from search.keys import sighting_terms
from search.matching import rank
from search.query import CheckQuery
from search.vocabulary import NO_MATCH

MAX_SIGHTINGS = 100  # the newest checks kept per report


class SightingService:
    def __init__(self, checks: CheckLog, log: SightingLog, webhooks: WebhookService, clock: Clock,
                 settings: dict[str, Any]) -> None:
        self.checks = checks
        self.log = log
        self.webhooks = webhooks
        self.clock = clock
        self.window_seconds = settings["SIGHTINGS_DAYS"] * SECONDS_PER_DAY

    def look(self, actor: Actor, report: Report) -> Document | None:
        """Find the checks that matched ``report`` before it was registered; keep them and tell the
        reporting agency, if there are any."""
        values = [identifier["value"] for identifier in report.get("identifiers", ())]
        if not values:
            return None
        now = self.clock()
        found = self.checks.sightings(sighting_terms(values), iso_at(now - self.window_seconds), MAX_SIGHTINGS)
        sightings = [sighting for check in found if (sighting := _sighting(check, report)) is not None]
        if not sightings:
            return None
        kept: Document = {"report_id": report["id"], "found_at": iso_at(now), "sightings": sightings}
        deliveries = self.webhooks.deliveries_for(
            "report.seen_before", Audience.of([report["reporting_agency"]["name"]]),
            {"report_id": report["id"], "external_ref": report["external_ref"], "sightings": sightings})
        entry = self.webhooks.audit.entry(actor, "report.seen_before", report["id"],
                                          {"check_ids": [s["check_id"] for s in sightings]})
        self.log.save(report["id"], kept, entry, deliveries)
        self.webhooks.stored(deliveries)
        return kept

    def get(self, actor: Actor, report: Report) -> Document:
        """The checks a report was found to match when registered; agencies see their own reports'."""
        actor.require(READ_SIGHTINGS)
        if not actor.speaks_for(report):
            raise NotFound(f"No report with id {report['id']} of your agency.")
        return self.log.get(report["id"]) or {"report_id": report["id"], "found_at": None, "sightings": []}


def _sighting(check: Document, report: Report) -> Document | None:
    """What a past check tells of the report, if ranking its query against the report matches."""
    query = check.get("query") or {}
    if not query.get("identifier"):
        return None
    outcome = rank(CheckQuery(**query), [report])
    if outcome.verdict == NO_MATCH:
        return None
    [match] = outcome.matches
    checker = check.get("checker") or {}
    return {"check_id": check["check_id"], "checked_at": check["checked_at"], "reading": query["identifier"],
            "verdict_now": outcome.verdict, "match_type": match.match_type, "score": match.score,
            "checker": {"role": checker.get("role"), "agency": checker.get("agency")}}
