"""Hit confirmation: the checker asks the agency that owns the matched report to confirm it.

A request is made from a recorded check, by the checker who made it, for a
report that check matched; it is due 10 minutes (urgent) or an hour (routine)
after it is made, by the configured clock.  The owning agency (or an admin)
answers ``confirmed``, ``not_confirmed`` (with a reason) or
``record_outdated``; the checker reads the answer on its request.  A request
still open at its due time is *overdue*: shown so at once, and marked so by
the deliverer's sweep, which sends ``confirmation.overdue`` once.  Nobody else
learns a request exists (404).  Every step is one write with its audit entry
and its events' deliveries.
"""

from __future__ import annotations

from typing import Any

from registry.access import ANSWER_CONFIRMATIONS, CONFIRMATIONS, CONTACT_ONLY, Actor
from registry.errors import Conflict, InvalidRequest, NotFound
from registry.records import Confirmation, ConfirmationFilter, Page, Report, agency_key, name_key
from registry.services.webhooks import Audience, WebhookService
from registry.stamps import Clock, iso_at, new_id
from registry.storage.interfaces import CheckLog, ConfirmationStore, ReportStore
from registry.vocabulary import ADMIN, CONFIRMATION_OUTCOMES, NO_MATCH, OPEN, OVERDUE

SWEEP_BATCH = 100
DEALER_HIDDEN = ("report_id",)  # a dealer is shown a report's case number, never its id


class ConfirmationService:
    def __init__(self, store: ConfirmationStore, checks: CheckLog, reports: ReportStore, webhooks: WebhookService,
                 clock: Clock, settings: dict[str, Any]) -> None:
        self.store = store
        self.checks = checks
        self.reports = reports
        self.webhooks = webhooks
        self.audit = webhooks.audit
        self.clock = clock
        self.minutes = {"urgent": settings["CONFIRMATION_URGENT_MINUTES"],
                        "routine": settings["CONFIRMATION_ROUTINE_MINUTES"]}

    def request(self, actor: Actor, check_id: str, priority: str, location: str, note: str | None = None,
                report_id: str | None = None, external_ref: str | None = None) -> dict[str, Any]:
        """Ask the owning agency to confirm what check ``check_id`` matched: only its checker may, and
        only for a report it matched, named by id or (as a dealer, who is shown no ids) by case number."""
        actor.require(CONFIRMATIONS)
        try:
            check = self.checks.get(check_id)
        except NotFound:
            check = None
        if check is None or (check.get("checker") or {}).get("principal") != actor.principal:
            raise NotFound(f"No check with id {check_id} of yours.")
        report = self._matched(check, report_id, external_ref)
        now = self.clock()
        due = now + self.minutes[priority] * 60
        request: Confirmation = {
            "id": new_id(), "version": 1, "check_id": check_id, "report_id": report["id"],
            "external_ref": report["external_ref"],
            "agency": report["reporting_agency"]["name"], "agency_key": agency_key(report),
            "checker": actor.as_record(), "priority": priority, "location": location, "note": note,
            "status": OPEN, "requested_at": iso_at(now), "due_at": iso_at(due), "due": due, "answer": None,
        }
        deliveries = self.webhooks.deliveries_for("confirmation.requested", _audience(request), _event(request, check),
                                                  hidden_from_dealers=DEALER_HIDDEN)
        self.store.create(request, self.audit.entry(actor, "confirmation.request", request["id"], _details(request)),
                          deliveries)
        self.webhooks.stored(deliveries)
        return self.view(request, now, actor)

    def _matched(self, check: dict[str, Any], report_id: str | None, external_ref: str | None) -> Report:
        """The report of the check's matches named by id or case number."""
        matched = [] if check["verdict"] == NO_MATCH else check["matched_report_ids"]
        if report_id is not None:
            found = [self.reports.get(report_id)] if report_id in matched else []
        else:
            found = [r for r in map(self.reports.get, matched) if r["external_ref"] == external_ref]
        if len(found) != 1:
            raise InvalidRequest(f"Check {check['check_id']} matched no report "
                                 f"{report_id or external_ref!r} (name one by report_id or external_ref).")
        return found[0]

    def list(self, actor: Actor, status: str | None, limit: int, cursor: str | None) -> Page[dict[str, Any]]:
        """The requests the actor is party to, newest first: an agency's for its reports and its own,
        a checker's own, an admin's all."""
        actor.require(CONFIRMATIONS)
        now = self.clock()
        filters = ConfirmationFilter(
            agency_key=name_key(actor.agency) if actor.agency else None,
            checker=None if actor.role == ADMIN else actor.principal)
        if status == OPEN:
            filters = ConfirmationFilter(filters.agency_key, filters.checker, (OPEN,), due_from=now)
        elif status == OVERDUE:
            filters = ConfirmationFilter(filters.agency_key, filters.checker, (OPEN, OVERDUE), due_before=now)
        elif status:
            filters = ConfirmationFilter(filters.agency_key, filters.checker, (status,))
        page = self.store.list(filters, limit, cursor)
        return Page([self.view(request, now, actor) for request in page.items], page.next_cursor)

    def get(self, actor: Actor, request_id: str) -> dict[str, Any]:
        return self.view(self._party_to(actor, request_id), self.clock(), actor)

    def answer(self, actor: Actor, request_id: str, outcome: str, reason: str | None = None) -> dict[str, Any]:
        """The owning agency's (or an admin's) answer; a request is answered once."""
        request = self._party_to(actor, request_id)
        if not actor.may(ANSWER_CONFIRMATIONS) or not actor.speaks_for(_owner(request)):
            raise NotFound(f"No confirmation request with id {request_id} for your agency.")
        if outcome not in CONFIRMATION_OUTCOMES:
            raise InvalidRequest(f"An answer is one of {', '.join(CONFIRMATION_OUTCOMES)}.")
        if outcome == "not_confirmed" and not (reason and reason.strip()):
            raise InvalidRequest("A request that is not confirmed needs a reason.")
        if request["status"] not in (OPEN, OVERDUE):
            raise Conflict(f"Confirmation request {request_id} was already answered ({request['status']}).")
        now = self.clock()
        answered: Confirmation = {**request, "version": request["version"] + 1, "status": outcome,
                                  "answer": {"outcome": outcome, "reason": reason, "answered_at": iso_at(now),
                                             "answered_by": actor.as_record()}}
        deliveries = self.webhooks.deliveries_for("confirmation.answered", _audience(answered), _event(answered),
                                                  hidden_from_dealers=DEALER_HIDDEN)
        entry = self.audit.entry(actor, "confirmation.answer", request_id, {"outcome": outcome, "reason": reason})
        if not self.store.replace(answered, request["version"], entry, deliveries):
            raise Conflict(f"Confirmation request {request_id} changed meanwhile; read it again.")
        self.webhooks.stored(deliveries)
        return self.view(answered, now, actor)

    def sweep_overdue(self, now: float) -> int:
        """Mark the open requests past their due time overdue, each with its ``confirmation.overdue``
        event (the second notice, to the owning agency and the checker); how many."""
        marked = 0
        for request in self.store.list(ConfirmationFilter(statuses=(OPEN,), due_before=now), SWEEP_BATCH, None).items:
            overdue: Confirmation = {**request, "version": request["version"] + 1, "status": OVERDUE}
            deliveries = self.webhooks.deliveries_for("confirmation.overdue", _audience(overdue), _event(overdue),
                                                      hidden_from_dealers=DEALER_HIDDEN)
            entry = self.audit.entry(Actor.system(), "confirmation.overdue", request["id"],
                                     {"due_at": request["due_at"]})
            if self.store.replace(overdue, request["version"], entry, deliveries):
                self.webhooks.stored(deliveries)
                marked += 1
        return marked

    def _party_to(self, actor: Actor, request_id: str) -> Confirmation:
        """The request, if the actor is party to it (admin, owning agency, checker); else ``NotFound``."""
        try:
            request = self.store.get(request_id)
        except NotFound:
            request = None
        asked = request is not None and request["checker"]["principal"] == actor.principal
        if request is None or not (actor.speaks_for(_owner(request)) or (actor.may(CONFIRMATIONS) and asked)):
            raise NotFound(f"No confirmation request with id {request_id}.")
        return request

    @staticmethod
    def view(request: Confirmation, now: float, actor: Actor) -> dict[str, Any]:
        """A request as ``actor`` is shown it: overdue as soon as its due time passed unanswered; to a
        dealer, the case number but not the report's id (as in its check's answer)."""
        status = OVERDUE if request["status"] == OPEN and now >= request["due"] else request["status"]
        hidden = {"due", "agency_key", "version", *(("report_id",) if actor.match_detail == CONTACT_ONLY else ())}
        return {**{k: v for k, v in request.items() if k not in hidden}, "status": status}


def _owner(request: Confirmation) -> Report:
    return {"reporting_agency": {"name": request["agency"]}}


def _audience(request: Confirmation) -> Audience:
    return Audience.of([request["agency"]], [request["checker"]["principal"]])


def _event(request: Confirmation, check: dict[str, Any] | None = None) -> dict[str, Any]:
    data = {k: request.get(k) for k in ("id", "check_id", "report_id", "external_ref", "agency", "priority",
                                        "location", "note",
                                        "status", "requested_at", "due_at", "answer")}
    data["checker"] = {"role": request["checker"]["role"], "agency": request["checker"]["agency"]}
    if check is not None:
        data["reading"] = check["query"].get("identifier")
    return data


def _details(request: Confirmation) -> dict[str, Any]:
    return {k: request.get(k) for k in ("check_id", "report_id", "external_ref", "agency", "priority", "location",
                                        "note", "due_at")}
