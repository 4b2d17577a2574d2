"""The storage seam: what the service layer needs from any engine.

A report travels as a plain JSON document (the ``ReportSchema`` shape).  An
engine stores documents, finds them by id, by (agency, case number) and by
filters, and retrieves *candidates* for a check using the keys from
``search.keys``; ranking candidates is never the engine's job.  It also
keeps the API keys and appends the audit log under its own concurrency
control (the chain rules are ``registry.audit``'s).
"""

from __future__ import annotations

import abc
import base64
import json
from dataclasses import dataclass
from typing import Any, Iterator

from registry.errors import InvalidRequest
from search.keys import IdentifierKeys

Document = dict[str, Any]
Lookup = tuple[IdentifierKeys | None, str | None]  # what ``find_candidates`` takes: keys and description


@dataclass(frozen=True)
class ReportFilter:
    status: str | None = None
    category: str | None = None
    manufacturer: str | None = None
    country: str | None = None
    q: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    principal: str | None = None
    subject: str | None = None
    since: str | None = None  # inclusive, ISO 8601 UTC
    until: str | None = None  # exclusive


@dataclass(frozen=True)
class Page:
    items: list[Document]
    next_cursor: str | None


@dataclass(frozen=True)
class ImportOutcome:
    """What happened to one imported document: created, updated or unchanged."""

    action: str
    report_id: str


def name_key(name: str) -> str:
    """Names (of agencies, of makers) compare loosely: case and spacing do not count."""
    return " ".join(name.casefold().split())


def agency_key(document: Document) -> str:
    """Reports are unique per (agency, case number); agency names compare loosely."""
    return name_key(document["reporting_agency"]["name"])


def comparable(document: Document) -> Document:
    """A document without the fields that change on every write: equal means an import changes nothing."""
    return {k: v for k, v in document.items() if k not in ("version", "updated_at")}


def manufacturer_key(name: str | None) -> str | None:
    return name_key(name) if name else None


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expected: type) -> Any:
    """The position a cursor encodes; ``InvalidRequest`` for anything this service did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest("The cursor is not one this service issued.") from exc
    if not isinstance(position, expected) or isinstance(position, bool):
        raise InvalidRequest("The cursor is not one this service issued.")
    return position


class Storage(abc.ABC):
    """Reports, their lookup keys, the record of checks, API keys and the audit log, in one engine."""

    name: str

    @abc.abstractmethod
    def ping(self) -> None:
        """Raise ``StorageUnavailable`` unless the engine can serve requests."""

    @abc.abstractmethod
    def create_report(self, document: Document) -> Document:
        """Store a new report; ``Conflict`` if its (agency, case number) exists."""

    @abc.abstractmethod
    def get_report(self, report_id: str) -> Document:
        """The report with this id; ``NotFound`` otherwise."""

    @abc.abstractmethod
    def replace_report(self, document: Document, expected_version: int) -> Document:
        """Store a new version; ``PreconditionFailed`` if the stored one is not ``expected_version``."""

    @abc.abstractmethod
    def upsert_reports(self, documents: list[Document]) -> list[ImportOutcome]:
        """Create or update each document by (agency, case number), as one batch."""

    @staticmethod
    def prepare_reports(documents: list[Document]) -> Any:
        """CPU-only work on a batch before ``upsert_prepared``, run in import worker processes.

        Must be a picklable static function of its argument.  The default does
        nothing; an engine overrides it (with ``upsert_prepared``) to move key
        computation and serialization off the process that writes.
        """
        return documents

    def upsert_prepared(self, prepared: Any) -> list[ImportOutcome]:
        """``upsert_reports`` for the result of ``prepare_reports``."""
        return self.upsert_reports(prepared)

    @abc.abstractmethod
    def list_reports(self, filters: ReportFilter, limit: int, cursor: str | None) -> Page:
        """Reports newest first, filtered, one page at a time."""

    @abc.abstractmethod
    def iter_reports(self) -> Iterator[Document]:
        """Every report, oldest first (for export)."""

    def find_candidates(self, keys: IdentifierKeys | None, description: str | None) -> list[Document]:
        """Reports sharing a lookup key, a trailing part or description words with a check."""
        return self.find_candidates_many([(keys, description)])[0]

    @abc.abstractmethod
    def find_candidates_many(self, lookups: list[Lookup]) -> list[list[Document]]:
        """``find_candidates`` for each of a batch of checks (bulk checks), in a few round trips:
        each check gets exactly the candidates it would get alone."""

    @abc.abstractmethod
    def save_check(self, record: Document) -> None:
        """Keep the record of one check (who asked what, and the answer)."""

    @abc.abstractmethod
    def get_check(self, check_id: str) -> Document:
        """The record of one check; ``NotFound`` otherwise."""

    # -- API keys (records hold a digest of the secret, never the secret) ------------

    @abc.abstractmethod
    def create_key(self, record: Document) -> None:
        """Store a new key record; ``Conflict`` if its ``key_id`` exists."""

    @abc.abstractmethod
    def get_key(self, key_id: str) -> Document:
        """The key record; ``NotFound`` otherwise.  Read on every request: keep it cheap."""

    @abc.abstractmethod
    def replace_key(self, record: Document) -> None:
        """Store a changed key record (a revocation)."""

    @abc.abstractmethod
    def list_keys(self) -> list[Document]:
        """Every key record, oldest first."""

    # -- audit log (append-only, hash-chained: see ``registry.audit``) ---------------

    @abc.abstractmethod
    def append_audit(self, entry: Document) -> Document:
        """Seal ``entry`` as the next one after the newest (``registry.audit.seal``) and store it.

        Writers in any process may append at once; each entry must land at its
        own ``seq``, right after the entry whose hash it carries.
        """

    @abc.abstractmethod
    def iter_audit(self) -> Iterator[tuple[int, Document]]:
        """Every entry as stored, with the position the engine keeps it at, oldest first."""

    @abc.abstractmethod
    def list_audit(self, filters: AuditFilter, limit: int, cursor: str | None) -> Page:
        """Entries matching the filters, oldest first, one page at a time."""

    def close(self) -> None:
        """Release connections; the default has none to release."""

