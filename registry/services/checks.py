"""Checks: a reading in, a verdict out, and a record of who asked what.

With external sources configured, they are asked first and answer in
parallel while the local registry is searched; their records join the local
candidates in the same ranking (``search.matching.rank``).  Without, nothing
else happens.

What a check may tell whom is decided here, once, for every engine and every
caller: the kinds of match the actor's role is shown (``Actor.match_types``:
a dealer only whole-identifier matches) go into the ranking itself, so a
dealer's answer is what ranking would give if the registry held nothing it
may not be told of.  Every check counts against the key's daily rows
(``registry.services.usage``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from registry.access import CHECK, FORWARD_CHECKS, FULL_DETAILS, READ_REPORTS, Actor
from registry.config import DEFAULTS
from registry.errors import Forbidden, NotFound
from registry.metrics import CHECKS
from registry.records import Delivery, Document
from registry.services.audit import AuditService
from registry.services.results import (
    CheckResult,
    Decision,
    bulk_row_result,
    external_source,
    hit_sources,
    match_view,
    source_view,
)
from registry.services.reviews import review_due
from registry.services.usage import UsageService
from registry.services.webhooks import Audience, WebhookService
from registry.stamps import Clock, clock_from, iso_at, new_id
from registry.storage.interfaces import CandidateIndex, CheckLog, Lookup
from registry.vocabulary import COPIED
from search.keys import query_keys, reading_terms
from search.matching import CheckOutcome, Match, rank
from search.query import CheckQuery
from search.vocabulary import NO_MATCH

if TYPE_CHECKING:
    from integrations.federation import Federation

FILE_READING_SOURCE = COPIED  # how an uploaded file's identifiers were obtained, unless a row says otherwise


class CheckService:
    def __init__(self, candidates: CandidateIndex, log: CheckLog, audit: AuditService, usage: UsageService,
                 federation: Federation | None = None, webhooks: WebhookService | None = None,
                 clock: Clock = time.time, review_months: int = DEFAULTS["REPORT_REVIEW_MONTHS"],
                 replica: Callable[[], Document | None] | None = None) -> None:
        self.candidates = candidates
        self.log = log
        self.audit = audit
        self.usage = usage
        self.federation = federation
        self.webhooks = webhooks
        self.clock = clock
        self.review_months = review_months
        self.replica = replica  # on a replica: how current its copy is (``services.changes.ReplicaStatus``)

    @classmethod
    def from_settings(cls, settings: dict[str, Any]) -> CheckService:
        """Checks alone over the configured engine and sources (a bulk worker's checking process)."""
        from integrations.config import build_federation
        from registry.files.heads import HeadsFile
        from registry.storage import open_engine

        engine = open_engine(settings)
        audit = AuditService(engine.audit, HeadsFile(settings["AUDIT_HEADS_FILE"]))
        usage = UsageService(engine.counters, audit, settings, clock_from(settings))
        return cls(engine.candidates, engine.checks, audit, usage, build_federation(settings),
                   clock=clock_from(settings), review_months=settings["REPORT_REVIEW_MONTHS"])

    def check(self, actor: Actor, query: CheckQuery) -> CheckResult:
        """Check one reading (one row of the key's day), and record the check and who made it: the
        record and its audit entry are stored together or not at all."""
        self.require_checkable(actor, [query])
        self.usage.charge(actor, [query.identifier or query.description or ""])
        [decision] = self.decide(actor, [query])
        outcome = decision.outcome
        record: Document = {
            "check_id": new_id(),
            "checked_at": iso_at(self.clock()),
            "query": {k: v for k, v in vars(query).items() if v is not None},
            "verdict": outcome.verdict,
            "matched_report_ids": [m.report["id"] for m in outcome.matches if not external_source(m)],
            "hit_sources": hit_sources(outcome),
            "checker": actor.as_record(),
        }
        if query.identifier:
            record["terms"] = list(reading_terms(query.identifier))
        answered_by_replica = self.replica() if self.replica is not None else None
        if answered_by_replica is not None:
            record["replica"] = answered_by_replica
        if decision.answers:
            record["sources"] = [source_view(answer) for answer in decision.answers]
            record["external_matches"] = [
                {"source": external_source(m), "record_id": m.report["external_ref"]}
                for m in outcome.matches if external_source(m)
            ]
        entry = self.audit.entry(actor, "check", record["check_id"],
                                 {k: v for k, v in record.items() if k not in ("check_id", "checked_at", "terms",
                                                                               "checker")})
        deliveries = self._matched_events(actor, record, outcome)
        self.log.save(record, entry, deliveries)
        if self.webhooks is not None:
            self.webhooks.stored(deliveries)
        return CheckResult(record, outcome, actor.match_detail)

    def record_forwarded(self, actor: Actor, answered: Sequence[Document]) -> dict[str, list[str]]:
        """Keep the checks a replica answered (records as the replica kept them) in this registry's
        log, each with its entry and the same ``check.matched`` events a check made here raises,
        unless it is already kept: a replica resending after a lost answer changes nothing.  The ids
        ``recorded`` now and ``already_recorded``."""
        actor.require(FORWARD_CHECKS)
        kept = {record["check_id"]: self._record_forwarded(actor, record) for record in answered}
        return {"recorded": [i for i, new in kept.items() if new],
                "already_recorded": [i for i, new in kept.items() if not new]}

    def _record_forwarded(self, actor: Actor, answered: Document) -> bool:
        """One forwarded check; whether it was new.  Its matches are found again here, among the
        reports the replica named."""
        try:
            self.log.get(answered["check_id"])
            return False
        except NotFound:
            pass
        query = CheckQuery(**answered["query"])
        lookup: Lookup = (query_keys(query.identifier) if query.identifier else None, query.description)
        named = set(answered["matched_report_ids"])
        found = [r for r in self.candidates.find_candidates_many([lookup])[0] if r["id"] in named]
        outcome = CheckOutcome(answered["verdict"], rank(query, found).matches)
        record: Document = {
            **{k: v for k, v in answered.items() if k not in ("checker", "replica", "terms")},
            # Sightings find checks by these: computed here, never taken from the replica.
            **({"terms": list(reading_terms(query.identifier))} if query.identifier else {}),
            "checker": actor.as_record(),
            "answered_by": {"replica": actor.principal, "checker": answered["checker"],
                            "checked_at": answered["checked_at"],
                            "registry_as_of": (answered.get("replica") or {}).get("registry_as_of")},
            "forwarded_at": iso_at(self.clock()),
        }
        entry = self.audit.entry(actor, "check.forwarded", record["check_id"], {
            k: v for k, v in record.items() if k not in ("check_id", "terms", "checker")})
        deliveries = self._matched_events(actor, record, outcome)
        self.log.save(record, entry, deliveries)
        if self.webhooks is not None:
            self.webhooks.stored(deliveries)
        return True

    def _matched_events(self, actor: Actor, record: Document, outcome: CheckOutcome) -> list[Delivery]:
        """``check.matched`` for each agency whose reports the check matched: where (the kind of
        checker, its agency and address), when, what was read, the verdict, and that agency's own
        reports among the matches (every detail of its own reports is within its rights)."""
        if self.webhooks is None or outcome.verdict == NO_MATCH:
            return []
        by_agency: dict[str, list[Match]] = {}
        for match in outcome.matches:
            if not external_source(match):
                by_agency.setdefault(match.report["reporting_agency"]["name"], []).append(match)
        return self.webhooks.deliveries_for_each("check.matched", [
            (Audience.of([agency]),
             {"check_id": record["check_id"], "checked_at": record["checked_at"], "verdict": outcome.verdict,
              "reading": record["query"], "agency": agency,
              "checker": {"role": actor.role, "agency": actor.agency, "address": actor.address},
              "matches": [match_view(m, FULL_DETAILS) for m in matches]})
            for agency, matches in by_agency.items()])

    def require_checkable(self, actor: Actor, queries: Sequence[CheckQuery]) -> None:
        """``Forbidden`` unless ``actor`` may check, and may check these queries.

        Searching descriptions is searching the registry's contents, which
        only roles that may read reports do: for anyone else a description
        can rank what the identifier found, never find anything itself.
        """
        actor.require(CHECK)
        if not actor.may(READ_REPORTS) and any(not query.identifier for query in queries):
            raise Forbidden(f"The {actor.role} role checks by identifier; a description alone searches the registry.")

    def decide(self, actor: Actor, queries: Sequence[CheckQuery]) -> list[Decision]:
        """Outcomes of a batch of checks, in order, with each external source's answer.

        Every external lookup is sent first, so a batch waits about one
        deadline, not one per reading; the local candidates of the whole batch
        come from one batched lookup; each reading is then ranked exactly as a
        single check ranks it, with the kinds of match ``actor`` is shown.
        Nothing is recorded here: a single check records itself, and a bulk
        check's job is the record of its rows.
        """
        self.require_checkable(actor, queries)
        may_search_text = actor.may(READ_REPORTS)
        federation = self.federation
        pending = [federation.start(q, actor.role) for q in queries] if federation else [None] * len(queries)
        lookups: list[Lookup] = [
            (query_keys(q.identifier) if q.identifier else None, q.description if may_search_text else None)
            for q in queries
        ]
        decided = []
        now = self.clock()
        for query, found, lookup in zip(queries, self.candidates.find_candidates_many(lookups), pending):
            answers = lookup.collect() if lookup else []
            external = [match.as_report() for answer in answers for match in answer.matches]
            local = [{**report, "review_due": review_due(report, self.review_months, now)} for report in found]
            outcome = rank(query, [*local, *external], actor.match_types)
            CHECKS.labels(outcome.verdict, outcome.matches[0].match_type if outcome.matches else "none").inc()
            decided.append(Decision(outcome, answers))
        return decided

    def check_rows(self, actor: Actor, rows: Sequence[Document]) -> list[dict[str, Any]]:
        """Results of uploaded rows in order, the checkable ones checked as one batch, shown at the
        detail ``actor`` may see.  The caller records them (a bulk job, or one audit entry).  A row's
        identifier was copied from a file unless the row says how it was read."""
        queries = [CheckQuery(**{"reading_source": FILE_READING_SOURCE, **r["query"]})
                   for r in rows if r["query"] is not None]
        decided = iter(self.decide(actor, queries))
        return [bulk_row_result(r, next(decided) if r["query"] is not None else None, actor.match_detail)
                for r in rows]

    def sources_health(self, actor: Actor) -> list[dict[str, Any]]:
        """Health and circuit state of each external source, for those who check."""
        actor.require(CHECK)
        return self.federation.health() if self.federation else []
