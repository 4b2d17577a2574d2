"""What every external registry adapter offers, and how it fails.

An adapter answers ``lookup(query)`` with the records a foreign registry holds
for the identifier read, as ``ExternalMatch`` values; IronTrace scores them
with the same code as its own reports (``search.matching``), so an external
record is ranked, explained and decided exactly like a local one.

Every failure leaves an adapter as a ``SourceError``, chained (``from``) to
the lower-level error, so the fan-out can name it in a source's status
without ever crashing a check:

    SourceError
    ├── SourceTimeout          no answer within the deadline
    ├── SourceUnavailable      connection refused or dropped, 5xx, 429
    ├── MalformedResponse      an answer that does not follow the protocol
    └── AuthenticationFailed   401/403: the configured credentials were refused

Messages never contain credentials: adapters send them in headers only, and
never quote headers or request bodies in an error.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any

from search.query import CheckQuery


class SourceError(Exception):
    """An external source could not give a usable answer; ``status`` is what a check reports."""

    status = "error"


class SourceTimeout(SourceError):
    status = "timeout"


class SourceUnavailable(SourceError):
    """Unreachable or refusing service (connection errors, 5xx, 429): worth a retry."""


class MalformedResponse(SourceError):
    """The source answered, but not in its protocol (not JSON, missing fields, bad values)."""


class AuthenticationFailed(SourceError):
    """The source refused the configured credentials."""


def asked_identifier(query: CheckQuery) -> str:
    """The identifier an adapter looks up: the fan-out asks external sources about identifiers only."""
    if not query.identifier:
        raise ValueError("external sources are asked about identifiers only")
    return query.identifier


@dataclass(frozen=True)
class ExternalMatch:
    """One record a foreign registry holds for the identifier asked about.

    A screening service discloses no record details: its matches carry only
    the identifier asked about, ``stolen`` and a reference number.
    """

    source: str
    record_id: str
    identifier: str
    status: str
    owner_country: str | None = None
    reference: str | None = None
    identifier_type: str = "other"
    category: str | None = None
    manufacturer: str | None = None
    model: str | None = None

    def as_report(self) -> dict[str, Any]:
        """The record in the shape ``search.matching`` scores; its id is namespaced by source."""
        report: dict[str, Any] = {
            "id": f"{self.source}:{self.record_id}",
            "external_ref": self.record_id,
            "status": self.status,
            "identifiers": [{"type": self.identifier_type, "value": self.identifier}],
            "reporting_agency": {"name": self.source, "country": self.owner_country},
            "external_source": self.source,
            "external_reference": self.reference,
        }
        details = {"category": self.category, "manufacturer": self.manufacturer, "model": self.model}
        return {**report, **{k: v for k, v in details.items() if v}}


class ExternalSource(abc.ABC):
    """A foreign registry IronTrace can ask about an identifier."""

    name: str
    # A lookup that may be repeated without effect: only those are retried, and only their
    # answers are cached and shared between callers.
    idempotent: bool = False

    @abc.abstractmethod
    def lookup(self, query: CheckQuery, timeout: float) -> list[ExternalMatch]:
        """Records matching the query's identifier; ``SourceError`` on any failure.

        ``timeout`` (seconds) bounds the whole call, retries included.
        """

    @abc.abstractmethod
    def health(self, timeout: float) -> None:
        """Return if the source answers its health probe; ``SourceError`` otherwise."""
