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
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from registry.records import (
    AuditEntry,
    AuditFilter,
    Document,
    ImportOutcome,
    Job,
    KeyRecord,
    Page,
    Report,
    ReportFilter,
    UserRecord,
)
from search.keys import IdentifierKeys

Lookup = tuple[IdentifierKeys | None, str | None]  # what a check looks up: identifier keys and description
PreparedBatch = Any  # what an engine's ``prepare`` made of a batch of reports, for its ``upsert_prepared``


class ReportStore(Protocol):
    """Reports, unique per (agency, case number), each write indexing them for checks at once."""

    def create(self, report: Report) -> Report:
        """Store a new report; ``Conflict`` (with ``existing_id``) if its (agency, case number) exists."""

    def get(self, report_id: str) -> Report:
        """The report with this id; ``NotFound`` otherwise."""

    def replace(self, report: Report, expected_version: int) -> Report:
        """Store a new version; ``PreconditionFailed`` if the stored one is not ``expected_version``."""

    @property
    def prepare(self) -> Callable[[list[Report]], PreparedBatch]:
        """A picklable function doing the CPU-only work on a batch before ``upsert_prepared``
        (lookup keys, serialization), run in import worker processes."""

    def upsert_prepared(self, prepared: PreparedBatch) -> list[ImportOutcome]:
        """Create or update each report by (agency, case number) as ``imported_version`` says, as one batch."""

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

    def save(self, record: Document) -> None:
        """Keep one check record (it needs no fsync of its own)."""


class KeyStore(Protocol):
    """API key records (a digest of the secret, never the secret)."""

    def create(self, record: KeyRecord) -> None:
        """Store a new key record; ``Conflict`` if its ``key_id`` exists."""

    def get(self, key_id: str) -> KeyRecord:
        """The key record; ``NotFound`` otherwise.  Read on every request: keep it cheap."""

    def replace(self, record: KeyRecord) -> None:
        """Store a changed key record (a revocation)."""

    def list(self) -> list[KeyRecord]:
        """Every key record, oldest first."""


class UserStore(Protocol):
    """Accounts of people signing in to the web app (a hash of the password, never the password)."""

    def create(self, record: UserRecord) -> None:
        """Store a new account; ``Conflict`` if its ``username`` exists."""

    def get(self, username: str) -> UserRecord:
        """The account; ``NotFound`` otherwise.  Read on every signed-in request: keep it cheap."""

    def replace(self, record: UserRecord) -> None:
        """Store a changed account (password, lock-out counters, disabled)."""

    def list(self) -> list[UserRecord]:
        """Every account, oldest first."""


class AuditLog(Protocol):
    """The append-only, hash-chained audit log (chain rules: ``registry.audit_chain``)."""

    def append(self, entry: AuditEntry) -> AuditEntry:
        """Seal ``entry`` as the next one after the newest (``audit_chain.seal``) and store it.

        Writers in any process may append at once; each entry must land at its
        own ``seq``, right after the entry whose hash it carries.
        """

    def iter_stored(self) -> Iterator[tuple[int, AuditEntry]]:
        """Every entry as stored, with the position the engine keeps it at, oldest first."""

    def list(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page[AuditEntry]:
        """Entries matching the filters, oldest first, one page at a time."""


class JobStore(Protocol):
    """Bulk-check jobs, their input rows and their results, beside the reports.

    Workers take a job with a *lease* (owner and expiry, set by compare-and-set)
    and commit each batch's results, keyed by (job, row), together with the
    checkpoint ``rows_done``: a worker killed mid-job loses only its uncommitted
    batch, and the next one resumes at the checkpoint, so every row's result is
    kept exactly once, in input order.
    """

    def create_job(self, job: Job, rows: list[Document]) -> None:
        """Store a new job with its input rows (row index = position in ``rows``)."""

    def get_job(self, job_id: str) -> Job:
        """The job as stored now; ``NotFound`` otherwise."""

    def list_jobs(self, owner: str, limit: int) -> list[Job]:
        """The newest ``limit`` jobs submitted by the principal ``owner``, newest first."""

    def claim_job(self, owner: str, lease_seconds: float, now: float) -> Job | None:
        """Take the oldest claimable job for ``owner`` (status ``running``, lease until
        ``now + lease_seconds``); ``None`` when there is none.  Two workers never
        both get the same job."""

    def job_rows(self, job_id: str, start: int, count: int) -> list[Document]:
        """Input rows ``start`` to ``start + count``, in order (all of them exist)."""

    def commit_batch(self, job: Job, owner: str, results: list[Document], lease_until: float) -> bool:
        """Store the results of the rows after the checkpoint and the job's new state
        (``job``: counters advanced, lease renewed to ``lease_until``), only if
        ``owner`` still holds the lease at the old checkpoint.  ``False`` when it
        does not (cancelled, or taken over): nothing is written then."""

    def update_job(self, job_id: str, owner: str | None, changes: Job) -> Job | None:
        """Apply ``changes`` to the stored job if ``owner`` holds its lease (``None``: if it is
        still active, for cancelling); the updated job, or ``None`` if it was not applied."""

    def iter_results(self, job_id: str, count: int) -> Iterator[Document]:
        """Results of rows ``0`` to ``count``, in input order, fetched a page at a time."""


class IndexAdmin(Protocol):
    """Index administration, for engines that have indices to manage (``irontrace es``)."""

    def init(self) -> list[str]:
        """Create the missing indices (safe to repeat); the names of those created."""

    def reindex(self) -> Any:
        """Rebuild the reports index with the current mapping and switch to it."""


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
    ping: Callable[[], None]  # raise ``StorageUnavailable`` unless the engine can serve requests
    close: Callable[[], None]  # release connections
    in_process_workers: int  # bulk-check worker threads an app process runs by default
    admin: IndexAdmin | None = None
