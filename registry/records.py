"""The records the registry keeps, as they travel between layers, and the rules on them
that every engine applies the same way.

Records are plain JSON documents (what is stored is exactly what is served);
the ``TypedDict``s below name their fields for readers and type checkers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, NotRequired, TypedDict, TypeVar

Document = dict[str, Any]  # a JSON object whose shape no TypedDict here describes


class Identifier(TypedDict, total=False):
    type: str
    value: str
    location: str


class Agency(TypedDict, total=False):
    name: str
    country: str
    contact: str


class Incident(TypedDict, total=False):
    date: str
    country: str
    region: str
    place: str
    circumstances: str


class Report(TypedDict, total=False):
    """A report of stolen or missing equipment (``ReportSchema``); the server sets the last four."""

    external_ref: str
    status: str
    category: str
    manufacturer: str
    model: str
    year: int
    color: str
    identifiers: list[Identifier]
    description: str
    distinguishing_marks: str
    incident: Incident
    value: dict[str, Any]
    reporting_agency: Agency
    source: str
    recovery: dict[str, str]  # how it was found (``RecoverySchema``), once recovered
    cancellation: dict[str, str]  # why it was cancelled (``CancellationSchema``)
    id: str
    version: int
    created_at: str
    updated_at: str
    validated_at: str  # the agency's last validation (``registry.services.reviews``)
    review_at: str | None  # shown, never stored: when the report is due for review
    review_due: bool  # shown, never stored


class ActorRecord(TypedDict):
    principal: str
    role: str
    agency: str | None
    address: str | None


class AuditEntry(TypedDict, total=False):
    """One entry of the hash-chained audit log (``registry.audit_chain``).

    ``corrupt`` is set only on the stand-in for an entry that cannot be read
    back (``audit_chain.readable``): it says what is wrong with it.
    """

    at: str
    action: str
    actor: ActorRecord
    subject: str | None
    details: dict[str, Any]
    seq: int
    prev_hash: str
    hash: str
    corrupt: str


@dataclass(frozen=True)
class StoredAuditEntry:
    """An audit entry as an engine holds it, for verification: where it is kept, what is kept
    there (an entry, or whatever an intruder or a fault left), and the copies of its fields
    that the engine indexes for filters, which must agree with the sealed entry."""

    position: int
    stored: Any
    indexed: dict[str, Any]


class KeyRecord(TypedDict):
    """An API key as stored: never the key, only the SHA-256 of its secret."""

    key_id: str
    role: str
    agency: str | None
    label: str | None
    created_at: str
    expires_at: str | None
    revoked_at: str | None
    secret_sha256: str
    daily_rows: NotRequired[int | None]  # rows this key may check a day; unset: its role's quota


class UserRecord(TypedDict):
    """A person's account for the web app: never the password, only its Argon2id hash.

    ``failed_logins`` counts failed sign-ins in a row; from the limit on, each
    failure locks the account until ``locked_until`` (``registry.services.users``).
    """

    username: str
    role: str
    agency: str | None
    password_hash: str
    created_at: str
    password_changed_at: str
    disabled_at: str | None
    failed_logins: int
    locked_until: str | None
    last_login_at: str | None


class Job(TypedDict, total=False):
    """A bulk-check job: its owner, progress, counters and the lease of the worker running it."""

    id: str
    owner: ActorRecord
    status: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    format: str
    filename: str | None
    columns: list[str]
    delimiter: str
    rows_total: int
    rows_done: int
    hits: int
    possible_matches: int
    similar_serials: int
    no_matches: int
    errors: int
    incomplete_rows: int
    error: str | None
    lease_owner: str | None
    lease_expires: float
    run_started: float
    run_started_rows: int
    results_purged: bool  # its rows and results are gone (``BULK_RESULT_RETENTION_DAYS``)


class Confirmation(TypedDict, total=False):
    """A request to the owning agency to confirm a hit (``registry.services.confirmations``).

    ``status`` as stored: ``open``, ``overdue`` (its notice went out) or the answer's outcome;
    ``due`` is ``due_at`` as Unix seconds, for the sweep that finds the overdue ones.
    """

    id: str
    version: int
    check_id: str
    report_id: str
    external_ref: str  # the report's case number (what a dealer is shown of it)
    agency: str  # the owning agency's name, as in the report
    agency_key: str
    checker: ActorRecord
    priority: str
    location: str
    note: str | None
    status: str
    requested_at: str
    due_at: str
    due: float
    answer: dict[str, Any] | None


class Webhook(TypedDict, total=False):
    """Where an owner wants events sent, and the secret deliveries are signed with (kept: signing needs it)."""

    id: str
    owner: ActorRecord
    url: str
    events: list[str]
    secret: str
    created_at: str
    deleted_at: str | None


class Delivery(TypedDict, total=False):
    """One event for one webhook: an outbox row written with the event, sent until delivered.

    ``id`` is the ``webhook-id`` every attempt carries (receivers drop repeats by it);
    ``body`` is the exact JSON sent and signed; ``next_attempt`` and ``retry_until`` are Unix seconds.
    """

    id: str
    webhook_id: str
    type: str
    body: str
    status: str
    attempts: int
    created_at: str
    next_attempt: float
    retry_until: float
    last_attempt_at: str | None
    last_response: str | None
    delivered_at: str | None


@dataclass(frozen=True)
class ConfirmationFilter:
    """Requests an actor may see: of ``agency_key`` or asked by ``checker`` (either, when both are
    set; all when neither), in one of ``statuses``, due before/at-or-after a moment (Unix seconds)."""

    agency_key: str | None = None
    checker: str | None = None
    statuses: tuple[str, ...] = ()
    due_before: float | None = None
    due_from: float | None = None


@dataclass(frozen=True)
class ReportFilter:
    status: str | None = None
    category: str | None = None
    manufacturer: str | None = None
    country: str | None = None
    q: str | None = None
    source: str | None = None
    agency: str | None = None  # the reporting agency's name, compared as ``name_key``
    # Reports not validated since this ISO time (validated last, or never validated and registered,
    # at or before it): due for review.
    unreviewed_since: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    principal: str | None = None
    subject: str | None = None
    since: str | None = None  # inclusive, ISO 8601 UTC
    until: str | None = None  # exclusive


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


ImportAction = Literal["created", "updated", "unchanged"]


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one imported report: created, updated or unchanged."""

    action: ImportAction
    report_id: str


def name_key(name: str) -> str:
    """Names (of agencies, of makers) compare loosely: case and spacing do not count."""
    return " ".join(name.casefold().split())


def agency_key(report: Report) -> str:
    """Reports are unique per (agency, case number); agency names compare loosely."""
    return name_key(report["reporting_agency"]["name"])


def manufacturer_key(name: str | None) -> str | None:
    return name_key(name) if name else None


def imported_version(stored: Report | None, incoming: Report) -> tuple[ImportAction, Report]:
    """What importing ``incoming`` over the report stored for its case number does, in every engine.

    New: created as it is.  Stored: it keeps its id and creation time; equal
    apart from the fields that change on every write, nothing changes;
    otherwise it becomes the next version.
    """
    if stored is None:
        return "created", incoming
    merged: Report = {**incoming, "id": stored["id"], "created_at": stored["created_at"]}
    if _comparable(merged) == _comparable(stored):
        return "unchanged", stored
    merged["version"] = stored["version"] + 1
    return "updated", merged


def _comparable(report: Report) -> dict[str, Any]:
    return {k: v for k, v in report.items() if k not in ("version", "updated_at")}
