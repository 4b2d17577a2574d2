"""The change feed replicas follow, the checks they answered offline, and a replica's own rules.

At the centre, ``ChangeService.read`` hands a replica (or an admin) the
report writes after its cursor, shaped as what a border post may hold: an
active report is an *upsert* (the whole report: border posts see every
detail), anything else (recovered, cancelled, gone) a *removal*, so a
replica never holds a report that can no longer raise a hit.  Every read is
in the audit log.  ``accept_forwarded`` takes the checks a replica answered
while the link was down into the centre's check log, once each (by check id).

On a replica, ``ReplicaStatus`` says how old its copy is for every answer, and
``ReadOnlyReports`` refuses report writes, pointing to the centre.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from registry.access import READ_CHANGES, Actor
from registry.errors import Forbidden, InvalidRequest, NotFound
from registry.records import AuditEntry, Document, ImportOutcome, Page, Report, ReportFilter
from registry.services.audit import AuditService
from registry.stamps import Clock, iso_at
from registry.storage.cursors import BAD_CURSOR, decode_cursor, encode_cursor
from registry.storage.interfaces import (
    Change,
    ChangeFeed,
    FeedSnapshot,
    FeedSnapshots,
    PreparedBatch,
    ReplicaStore,
    ReportStore,
)
from registry.vocabulary import ACTIVE_STATUSES

UPSERT, REMOVE = "upsert", "remove"


class ChangeService:
    def __init__(self, feed: ChangeFeed, snapshots: FeedSnapshots | None, audit: AuditService, clock: Clock,
                 snapshot_max_age_minutes: float) -> None:
        self.feed = feed
        self.snapshots = snapshots
        self.audit = audit
        self.clock = clock
        self.snapshot_max_age_seconds = snapshot_max_age_minutes * 60

    def read(self, actor: Actor, cursor: str | None, limit: int) -> dict[str, Any]:
        """The changes after ``cursor`` (from the start without one), at most ``limit``; ``next`` to
        resume from, ``more`` whether more were waiting, ``as_of`` when the read began (a reader with
        ``more`` false held every write committed before it)."""
        actor.require(READ_CHANGES)
        after = decode_cursor(cursor, int) if cursor else 0
        if after > self.feed.head():
            raise InvalidRequest(BAD_CURSOR)
        as_of = iso_at(self.clock())
        changes = self.feed.read(after, limit + 1)
        page, more = changes[:limit], len(changes) > limit
        entries = [_entry(change) for change in page]
        next_position = page[-1].position if page else after
        self.audit.record(actor, "changes.read", None, {
            "after": after, "next": next_position, "upserts": sum(e["op"] == UPSERT for e in entries),
            "removals": sum(e["op"] == REMOVE for e in entries)})
        return {"changes": entries, "next": encode_cursor(next_position), "more": more, "as_of": as_of}


    def snapshot(self, actor: Actor, from_byte: int = 0) -> FeedSnapshot:
        """A file a new replica starts from (the active reports and their index rows as of a feed
        position it records), made now unless the newest is younger than the configured age, so that
        border posts starting together share one and an interrupted download resumes on the same file.
        ``NotFound`` on an engine that makes none: the replica then copies through the feed."""
        actor.require(READ_CHANGES)
        if self.snapshots is None:
            raise NotFound("This centre makes no snapshot files (its engine is Elasticsearch): "
                           "a replica copies it through the change feed.")
        now = self.clock()
        snapshot = self.snapshots.fresh(now - self.snapshot_max_age_seconds, now, iso_at(now))
        self.audit.record(actor, "changes.snapshot", None, {
            "snapshot": snapshot.name, "position": snapshot.position, "reports": snapshot.reports,
            "from_byte": from_byte})
        return snapshot


def _entry(change: Change) -> dict[str, Any]:
    """What a replica is told of one change: the report, or that it must not hold it any more."""
    report = change.report
    if report is not None and report["status"] in ACTIVE_STATUSES:
        return {"op": UPSERT, "report_id": change.report_id, "report": report}
    return {"op": REMOVE, "report_id": change.report_id}


class ReplicaStatus:
    """How current a replica's copy is, for every answer it gives (``None`` at the centre)."""

    def __init__(self, store: ReplicaStore, stale_minutes: float, clock: Clock) -> None:
        self.store = store
        self.stale_minutes = stale_minutes
        self.clock = clock

    def __call__(self) -> Document | None:
        state = self.store.state()
        if state is None:
            return None
        as_of = state.get("as_of")
        age_minutes = None if as_of is None else (
            self.clock() - dt.datetime.fromisoformat(as_of).timestamp()) / 60
        stale = age_minutes is None or age_minutes > self.stale_minutes
        warning = None
        if age_minutes is None:
            warning = f"Answered by a replica of {state['centre']} whose copy of the registry is not complete yet."
        elif stale:
            warning = (f"Answered by a replica of {state['centre']} whose copy of the registry is "
                       f"{age_minutes / 60:.1f} hours old (as of {as_of}): reports registered or changed since are "
                       "not in it. Check with the centre when the link is back.")
        return {"centre": state["centre"], "registry_as_of": as_of, "stale": stale, "warning": warning}


class ReadOnlyReports:
    """A replica's reports: read as stored, never written here (they come from the centre's feed)."""

    def __init__(self, reports: ReportStore, centre: str) -> None:
        self.reports = reports
        self.centre = centre

    def _refuse(self) -> Forbidden:
        return Forbidden(f"This registry is a replica of {self.centre}: reports are created and changed at the "
                         "centre, and reach the replica with its next sync.", centre=self.centre)

    def create(self, report: Report, audit: AuditEntry) -> Report:
        raise self._refuse()

    def replace(self, report: Report, expected_version: int, audit: AuditEntry) -> Report:
        raise self._refuse()

    def upsert_prepared(self, prepared: PreparedBatch, audit: AuditEntry) -> list[ImportOutcome]:
        raise self._refuse()

    @property
    def prepare(self) -> Callable[[list[Report]], PreparedBatch]:
        return self.reports.prepare

    def get(self, report_id: str) -> Report:
        return self.reports.get(report_id)

    def list(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page[Report]:
        return self.reports.list(filters, limit, cursor)

    def iter_all(self) -> Iterator[Report]:
        return self.reports.iter_all()

