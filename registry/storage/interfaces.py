"""What the services need from a storage engine: one narrow interface per capability.

An engine (``registry.storage.sqlite``, ``registry.storage.elasticsearch``) is
a package implementing each of these; ``registry.storage.open_engine`` picks
one from the settings, once, at start-up, and hands the services an
``Engine`` holding them all.  Nothing above this module knows which engine
it talks to.

Engines *find*; they never decide.  Which reports are candidates for a check
follows from ``search.keys`` and the limits in ``search.policy``; ranking
them is ``search.matching``'s job; whether an import changes a report is
``registry.records.imported_version``; who holds a bulk job's lease is
``registry.storage.leases``.  Every failure to reach or use the engine leaves
as ``registry.errors.StorageUnavailable``.

Writes and their audit entries.  Every write method takes the audit entry
that records it (not yet sealed: the engine places it in the chain), and the
write and the entry succeed or fail together: SQLite commits both in one
transaction; Elasticsearch, which has no transaction across documents,
first stores a durable *intent* holding the entry, then writes, then
appends the entry and drops the intent; ``AuditLog.complete_pending``
finishes what a crash or an outage interrupted, appending the entry exactly
when the write is found stored.

Writes and their events.  A write that raises webhook events takes the
``Delivery`` rows of those events (the webhook outbox) and stores them with
the write: SQLite in the same transaction, Elasticsearch in the same bulk
request as the write (one request, which the cluster completes whatever
becomes of the caller).  A delivery is sent later, never during the write.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from registry.records import (
    AuditEntry,
    AuditFilter,
    Confirmation,
    ConfirmationFilter,
    Delivery,
    Document,
    ImportOutcome,
    Job,
    KeyRecord,
    Page,
    Report,
    ReportFilter,
    StoredAuditEntry,
    UserRecord,
    Webhook,
)
from search.keys import IdentifierKeys

Lookup = tuple[IdentifierKeys | None, str | None]  # what a check looks up: identifier keys and description
PreparedBatch = Any  # what an engine's ``prepare`` made of a batch of reports, for its ``upsert_prepared``


class ReportStore(Protocol):
    """Reports, unique per (agency, case number), each write indexing them for checks at once."""

    def create(self, report: Report, audit: AuditEntry) -> Report:
        """Store a new report with its ``audit`` entry; ``Conflict`` (with ``existing_id``) if its
        (agency, case number) exists."""

    def get(self, report_id: str) -> Report:
        """The report with this id; ``NotFound`` otherwise."""

    def replace(self, report: Report, expected_version: int, audit: AuditEntry) -> Report:
        """Store a new version with its ``audit`` entry; ``PreconditionFailed`` if the stored one is
        not ``expected_version``."""

    @property
    def prepare(self) -> Callable[[list[Report]], PreparedBatch]:
        """A picklable function doing the CPU-only work on a batch before ``upsert_prepared``
        (lookup keys, serialization), run in import worker processes."""

    def upsert_prepared(self, prepared: PreparedBatch, audit: AuditEntry) -> list[ImportOutcome]:
        """Create or update each report by (agency, case number) as ``imported_version`` says, as one
        batch, with the entry ``audit_chain.import_batch_entry(audit, outcomes)`` for what it changed."""

    def list(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page[Report]:
        """Reports newest first, filtered, one page at a time."""

    def iter_all(self) -> Iterator[Report]:
        """Every report, oldest first (for export)."""


class CandidateIndex(Protocol):
    """Finds the reports a check should score; never ranks them."""

    def find_candidates_many(self, lookups: Sequence[Lookup]) -> list[list[Report]]:
        """For each lookup, the reports sharing a lookup key, a trailing part or description words
        with it, within ``search.policy``'s limits, in a few round trips for the whole batch."""


class CheckLog(Protocol):
    """The record of every check: who asked what, and the answer."""

    def save(self, record: Document, audit: AuditEntry, deliveries: Sequence[Delivery] = ()) -> None:
        """Keep one check record, its ``audit`` entry and its events' ``deliveries`` (none needs an
        fsync of its own).  ``record["terms"]``, if any, are the reading's lookup keys
        (``search.keys.reading_terms``), under which ``sightings`` finds the check."""

    def get(self, check_id: str) -> Document:
        """The check record; ``NotFound`` otherwise."""

    def purge(self, before: str, audit: Callable[[int], AuditEntry]) -> int:
        """Delete the check records made before ``before`` with the entry ``audit`` makes of how many
        (no entry when there were none); how many."""

    def sightings(self, terms: Sequence[str], since: str, limit: int) -> list[Document]:
        """Check records made at or after ``since`` whose reading shares one of ``terms``
        (``search.keys.sighting_terms`` of a report), newest first, at most ``limit``."""


class ConfirmationStore(Protocol):
    """Requests to confirm a hit, and their answers."""

    def create(self, request: Confirmation, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        """Store a new request with its entry and its events' deliveries."""

    def get(self, request_id: str) -> Confirmation:
        """The request; ``NotFound`` otherwise."""

    def replace(self, request: Confirmation, expected_version: int, audit: AuditEntry,
                deliveries: Sequence[Delivery]) -> bool:
        """Store a changed request (its version already advanced) with its entry and deliveries, only
        if the stored one is ``expected_version``; ``False`` (nothing written) if it is not."""

    def list(self, filters: ConfirmationFilter, limit: int, cursor: str | None) -> Page[Confirmation]:
        """Requests newest first, one page at a time, as stored now."""


class WebhookStore(Protocol):
    """Webhooks and the outbox of their deliveries."""

    def create(self, webhook: Webhook, audit: AuditEntry) -> None:
        """Store a new webhook with its entry."""

    def get(self, webhook_id: str) -> Webhook:
        """The webhook (deleted ones too); ``NotFound`` otherwise."""

    def replace(self, webhook: Webhook, audit: AuditEntry) -> None:
        """Store a changed webhook (a deletion) with its entry."""

    def list(self, owner: str | None) -> builtins.list[Webhook]:
        """Webhooks not deleted, of the principal ``owner`` (every one for ``None``), oldest first."""

    def subscribed(self, event: str) -> builtins.list[Webhook]:
        """Webhooks not deleted that asked for ``event``, as stored now (a new one gets the next event)."""

    def add_deliveries(self, deliveries: Sequence[Delivery]) -> None:
        """Store deliveries of an event that records no write of its own (none: nothing is written)."""

    def get_delivery(self, delivery_id: str) -> Delivery:
        """The delivery; ``NotFound`` otherwise."""

    def deliveries(self, webhook_id: str, limit: int, cursor: str | None) -> Page[Delivery]:
        """A webhook's deliveries, newest first, as stored now."""

    def claim(self, delivery_ids: Sequence[str], due_by: float, limit: int, change: Callable[[Delivery], Delivery]
              ) -> builtins.list[Delivery]:
        """Take pending deliveries whose ``next_attempt`` is at or before ``due_by`` (those of
        ``delivery_ids`` first, then the oldest due), at most ``limit``, storing ``change`` of each
        (its attempt counted and its next one set) by compare-and-set: two processes never take the
        same delivery for the same attempt.  The changed deliveries taken."""

    def update_delivery(self, delivery: Delivery, audit: AuditEntry | None = None) -> None:
        """Store a delivery's outcome (or its reset, for a redelivery, with that ``audit`` entry)."""


class SightingLog(Protocol):
    """What a new report was found to have been checked as before (``report.seen_before``)."""

    def save(self, report_id: str, sightings: Document, audit: AuditEntry, deliveries: Sequence[Delivery]) -> None:
        """Keep a report's sightings with their entry and their event's deliveries."""

    def get(self, report_id: str) -> Document | None:
        """A report's sightings, or ``None`` if none were found."""


class KeyStore(Protocol):
    """API key records (a digest of the secret, never the secret)."""

    def create(self, record: KeyRecord, audit: AuditEntry) -> None:
        """Store a new key record with its ``audit`` entry; ``Conflict`` if its ``key_id`` exists."""

    def get(self, key_id: str) -> KeyRecord:
        """The key record; ``NotFound`` otherwise.  Read on every request: keep it cheap."""

    def replace(self, record: KeyRecord, audit: AuditEntry) -> None:
        """Store a changed key record (a revocation) with its ``audit`` entry."""

    def list(self) -> list[KeyRecord]:
        """Every key record, oldest first."""


class UserStore(Protocol):
    """Accounts of people signing in to the web app (a hash of the password, never the password)."""

    def create(self, record: UserRecord, audit: AuditEntry) -> None:
        """Store a new account with its ``audit`` entry; ``Conflict`` if its ``username`` exists."""

    def get(self, username: str) -> UserRecord:
        """The account; ``NotFound`` otherwise.  Read on every signed-in request: keep it cheap."""

    def replace(self, record: UserRecord, audit: AuditEntry) -> None:
        """Store a changed account (password, lock-out counters, disabled, a sign-in) with its ``audit``
        entry."""

    def list(self) -> list[UserRecord]:
        """Every account, oldest first."""


class AuditLog(Protocol):
    """The append-only, hash-chained audit log (chain rules: ``registry.audit_chain``)."""

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Seal ``entry`` as the next one after the newest (``audit_chain.seal``) and store it: for
        entries that record no write of their own (a synchronous bulk check, an import run, an alert).

        Writers in any process may append at once; each entry must land at its
        own ``seq``, right after the entry whose hash it carries.
        """

    def iter_stored(self) -> Iterator[StoredAuditEntry]:
        """Every entry as stored (however damaged), with its position and indexed copies, oldest first."""

    def head(self) -> tuple[int, str]:
        """``(seq, hash)`` of the newest entry, ``(0, GENESIS_HASH)`` for an empty log."""

    def hash_at(self, seq: int) -> str | None:
        """The hash of the entry stored at ``seq``; ``None`` if there is none, or it cannot be read."""

    def list(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page[AuditEntry]:
        """Entries matching the filters, oldest first, one page at a time; an entry that cannot be
        read is listed as ``audit_chain.readable`` shows it."""

    def complete_pending(self, now: float) -> int:
        """Finish writes interrupted before their entry was appended (intents older than the grace
        period): append the entry if the write is stored, drop the intent if not.  How many entries
        were appended; always 0 for an engine that writes both in one transaction."""

    def pending(self) -> int:
        """Writes whose entry is not appended yet (intents outstanding)."""


class JobStore(Protocol):
    """Bulk-check jobs, their input rows and their results, beside the reports.

    Workers take a job with a *lease* (owner and expiry, set by compare-and-set)
    and commit each batch's results, keyed by (job, row), together with the
    checkpoint ``rows_done``: a worker killed mid-job loses only its uncommitted
    batch, and the next one resumes at the checkpoint, so every row's result is
    kept exactly once, in input order.
    """

    def create_job(self, job: Job, rows: Iterable[Document], audit: AuditEntry) -> None:
        """Store a new job with its input rows (row index = position in ``rows``) and its ``audit``
        entry; ``rows`` are read as they come, so an upload of any size is stored with bounded memory."""

    def get_job(self, job_id: str) -> Job:
        """The job as stored now; ``NotFound`` otherwise."""

    def claim_job(self, owner: str, lease_seconds: float, now: float) -> Job | None:
        """Take the oldest claimable job for ``owner`` (status ``running``, lease until
        ``now + lease_seconds``); ``None`` when there is none.  Two workers never
        both get the same job."""

    def job_rows(self, job_id: str, start: int, count: int) -> list[Document]:
        """Input rows ``start`` to ``start + count``, in order (all of them exist)."""

    def commit_batch(self, job: Job, owner: str, results: list[Document], lease_until: float,
                     audit: AuditEntry) -> bool:
        """Store the results of the rows after the checkpoint and the job's new state
        (``job``: counters advanced, lease renewed to ``lease_until``) with the batch's ``audit``
        entry, only if ``owner`` still holds the lease at the old checkpoint.  ``False`` when it
        does not (cancelled, or taken over): nothing is written then."""

    def update_job(self, job_id: str, owner: str | None, changes: Job,
                   audit: Callable[[Job], AuditEntry] | None = None,
                   deliveries: Sequence[Delivery] = ()) -> Job | None:
        """Apply ``changes`` to the stored job if ``owner`` holds its lease (``None``: if it is
        still active, for cancelling), with the entry ``audit`` makes of the updated job, if any,
        and the ``deliveries`` of its event; the updated job, or ``None`` if it was not applied."""

    def iter_results(self, job_id: str, count: int) -> Iterator[Document]:
        """Results of rows ``0`` to ``count``, in input order, fetched a page at a time."""

    def purge_jobs(self, before: str, keep_jobs: bool, audit: Callable[[int], AuditEntry]) -> int:
        """Delete the rows and results of finished jobs created before ``before``, and the jobs too
        unless ``keep_jobs`` (then each is marked ``results_purged`` and not taken again), with the
        entry ``audit`` makes of how many jobs (none when there were none); how many (Elasticsearch
        takes at most a batch per call)."""

    def list_jobs(self, owner: str, limit: int, cursor: str | None) -> Page[Job]:
        """The jobs whose owner's principal is ``owner``, newest first, one page at a time, as
        stored now (not as a lagging search saw them)."""

    def active_jobs(self) -> list[Job]:
        """Every queued or running job, as stored now."""


class Counters(Protocol):
    """Small named documents every process of a deployment shares: rate-limit state and the rows
    each key checked today.  Kept in the engine so that all gunicorn workers (and, on
    Elasticsearch, every host) count together; each expires at a time its writer sets.
    The engine never reads a clock: callers say what time it is."""

    def get(self, name: str, now: float) -> Document | None:
        """The document, or ``None`` if there is none or it expired."""

    def update(self, name: str, change: Callable[[Document | None], Document], now: float,
               expires: float) -> Document:
        """Replace the document (``None`` if none, or expired) by ``change`` of it, kept until
        ``expires``; no other update of ``name`` interleaves.  ``change`` may be called more than
        once and must be pure; if it raises, nothing is stored."""

    def purge(self, now: float) -> int:
        """Drop expired documents; how many."""


@dataclass(frozen=True)
class Change:
    """One entry of the change feed: a report as stored now (``None``: no longer stored), at the
    feed ``position`` of its newest write."""

    position: int
    report_id: str
    report: Report | None


class ChangeFeed(Protocol):
    """Every report write, in commit order, for replicas to follow.

    Positions are whole numbers from 1, increasing in the order writes were
    committed; a report written again moves to a new position (the feed keeps
    each report's newest write only), so a reader that resumes after the last
    position it read never misses a write committed since, and never reads
    one it already read.  Position 0 is the start.
    """

    def read(self, after: int, limit: int) -> builtins.list[Change]:
        """At most ``limit`` entries after position ``after``, in order, that no write yet uncommitted
        can ever precede."""

    def head(self) -> int:
        """The highest position ever issued (0 for none): a cursor beyond it was never issued."""


@dataclass(frozen=True)
class FeedSnapshot:
    """A file a new replica starts from: the active reports as of feed ``position`` (``made_at``, a
    Unix time; ``as_of``, the same as a timestamp), and their index rows."""

    path: str
    name: str  # unique to this file: a download resumes only from the same one
    position: int
    reports: int
    made_at: float
    as_of: str
    bytes: int


class FeedSnapshots(Protocol):
    """Snapshots of what a replica holds, made by the centre (the embedded engine only: the file is
    its own format; a replica of an Elasticsearch centre copies it through the feed)."""

    def fresh(self, made_after: float, now: float, as_of: str) -> FeedSnapshot:
        """The newest snapshot made at or after ``made_after``; if there is none, one made as of now
        (``now``, a Unix time, and ``as_of``, the same as a timestamp), one process at a time."""


class ReplicaStore(Protocol):
    """A replica's own state in its embedded registry: where it follows from, how far, and which of
    its checks the centre already has."""

    def state(self) -> Document | None:
        """``{centre, cursor, as_of, forwarded}``, or ``None`` if this registry is no replica."""

    def follow(self, centre: str) -> None:
        """Make this registry a replica of ``centre`` (keeping its cursor if it already is one)."""

    def apply(self, upserts: Sequence[Report], removed: Sequence[str], cursor: str, as_of: str | None,
              audit: AuditEntry) -> None:
        """Store ``upserts``, drop the reports ``removed``, and advance the cursor (and ``as_of``,
        if given), all in one transaction with the ``audit`` entry."""

    def checks_after(self, seq: int, limit: int) -> builtins.list[tuple[int, Document]]:
        """Check records made here after position ``seq``, oldest first, with their positions."""

    def forwarded(self, seq: int) -> None:
        """Record that the centre holds every check up to position ``seq``."""
class SnapshotAdmin(Protocol):
    """Snapshots of an engine's indices, restored under new index versions (``irontrace es snapshot``)."""

    def create(self, name: str | None = None) -> Any:
        """Take a snapshot (named, or after the time); what it holds."""

    def list(self) -> builtins.list[Any]:
        """This registry's snapshots, oldest first."""

    def restore(self, name: str | None, replace: bool) -> Any:
        """Restore a snapshot (default: the newest) and move the aliases to it; a swap to finish or undo."""

    def finish(self, swap: Any) -> None:
        """Keep a restore: drop what it replaced."""

    def undo(self, swap: Any) -> None:
        """Refuse a restore: put back what it replaced."""


class IndexAdmin(Protocol):
    """Index administration, for engines that have indices to manage (``irontrace es``)."""

    @property
    def snapshots(self) -> SnapshotAdmin:
        """Snapshots of the indices, and restores from them."""

    def init(self) -> list[str]:
        """Create the missing indices (safe to repeat); the names of those created."""

    def reindex(self) -> Any:
        """Rebuild the reports index with the current mapping and switch to it."""

    def merge_segments(self, most: int) -> int:
        """Merge the reports index down to at most ``most`` segments a shard; the most a shard holds after."""


@dataclass(frozen=True)
class Engine:
    """One storage engine: every capability the services use, opened together."""

    name: str
    reports: ReportStore
    candidates: CandidateIndex
    checks: CheckLog
    keys: KeyStore
    users: UserStore
    audit: AuditLog
    jobs: JobStore
    counters: Counters
    confirmations: ConfirmationStore
    webhooks: WebhookStore
    sightings: SightingLog
    changes: ChangeFeed
    review_notices: SightingLog  # per report, the last ``report.review_due`` sent (same shape, other table)
    ping: Callable[[], None]  # raise ``StorageUnavailable`` unless the engine can serve requests
    close: Callable[[], None]  # release connections
    in_process_workers: int  # bulk-check worker threads an app process runs by default
    admin: IndexAdmin | None = None
    replica: ReplicaStore | None = None  # the embedded engine only: a replica is always one SQLite file
    feed_snapshots: FeedSnapshots | None = None  # the embedded engine only
