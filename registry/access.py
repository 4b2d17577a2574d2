"""Who may do what: the acting party, the permissions each role holds, and how much it sees.

Every service method takes the ``Actor`` first and checks it before acting,
so the rules are the same whether a request comes over HTTP, from the web
app or from the command line.  ``PERMISSIONS`` is the one table to read or
change who may do what.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from typing import Final

from registry.errors import Forbidden, InvalidRequest
from registry.records import ActorRecord, Report, agency_key, name_key
from registry.vocabulary import ADMIN, AGENCY, AUDITOR, BORDER, DEALER, MATCH_TYPES, REPLICA, ROLES

READ_REPORTS: Final = "reports:read"  # one report, listings, and description (text) search
WRITE_REPORTS: Final = "reports:write"  # agencies only within their own agency (see ``require_write``)
CHECK: Final = "checks"
READ_AUDIT: Final = "audit:read"
MANAGE_KEYS: Final = "keys:manage"
READ_METRICS: Final = "metrics:read"  # /metrics: counts of checks and verdicts are the registry's business
MANAGE_USERS: Final = "users:manage"
# Acting on a hit.  A confirmation request is read only by those it concerns (the owning agency,
# the checker who asked, admins): to anyone else it does not exist (``services.confirmations``).
CONFIRMATIONS: Final = "confirmations"  # ask for (as the checker) and list the requests one is party to
ANSWER_CONFIRMATIONS: Final = "confirmations:answer"  # agencies only for their own reports
WEBHOOKS: Final = "webhooks"  # register webhooks; each receives only events within its owner's rights
READ_SIGHTINGS: Final = "sightings:read"  # where a report's item was checked before: agencies their own
# Offline replicas at border posts (``services.changes``): the feed holds what a border post may see.
READ_CHANGES: Final = "changes:read"  # hold a copy of the registry: the change feed
FORWARD_CHECKS: Final = "checks:forward"  # hand checks answered offline to the centre's log
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    READ_REPORTS: frozenset({ADMIN, AGENCY, BORDER}),
    WRITE_REPORTS: frozenset({ADMIN, AGENCY}),
    CHECK: frozenset({ADMIN, AGENCY, BORDER, DEALER}),
    READ_AUDIT: frozenset({ADMIN, AUDITOR}),
    MANAGE_KEYS: frozenset({ADMIN}),
    READ_METRICS: frozenset({ADMIN}),
    MANAGE_USERS: frozenset({ADMIN}),
    CONFIRMATIONS: frozenset({ADMIN, AGENCY, BORDER, DEALER}),
    ANSWER_CONFIRMATIONS: frozenset({ADMIN, AGENCY}),
    WEBHOOKS: frozenset({ADMIN, AGENCY, BORDER, DEALER}),
    READ_SIGHTINGS: frozenset({ADMIN, AGENCY}),
    READ_CHANGES: frozenset({ADMIN, REPLICA}),
    FORWARD_CHECKS: frozenset({REPLICA}),
}

# How much of a matched report a check shows each role.  Dealers learn that an
# item is reported and whom to call, never what the investigation holds.
FULL_DETAILS: Final = "full"
CONTACT_ONLY: Final = "contact_only"
MATCH_DETAIL: Final[dict[str, str]] = {DEALER: CONTACT_ONLY}

# Which resemblances a check reports to each role.  Worn tails and PINs without their maker's
# prefix are how border officers and agencies read damaged plates; matched for anyone, a tail
# check turns every short reading into a question about thousands of registered identifiers,
# which is how a dealer key enumerated the registry.  A dealer reads a whole plate: it is told
# about a report only when the reading equals a registered identifier (once case, separators
# and look-alike letters are ignored, or with O/0-style misreads), never when it is merely near
# one, since typo tolerance over serial numbers that count up would let a key sweep a model's
# whole range a few readings at a time.
WHOLE_IDENTIFIER: Final = frozenset({"exact", "normalized", "confusable"})
MATCH_TYPES_SHOWN: Final[dict[str, frozenset[str]]] = {DEALER: WHOLE_IDENTIFIER}
assert set(MATCH_TYPES) >= WHOLE_IDENTIFIER


def role_and_agency(role: str, agency: str | None) -> tuple[str, str | None]:
    """A role for a key or an account, and its agency: agency roles need one, others take none."""
    if role not in ROLES:
        raise InvalidRequest(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
    if (role == AGENCY) != bool(agency and agency.strip()):
        raise InvalidRequest("An agency role needs --agency (the reporting agency's name); other roles take none.")
    return role, agency.strip() if agency else None


@dataclass(frozen=True)
class Actor:
    """Who is acting: a key (over HTTP), a person signed in to the web app (``user:<name>``)
    or the local operator (the CLI), and from where."""

    principal: str
    role: str
    agency: str | None = None
    address: str | None = None
    daily_rows: int | None = None  # the key's own daily quota; None: its role's (``services.usage``)

    @classmethod
    def operator(cls) -> Actor:
        """Whoever runs the CLI on the machine: they already hold the database itself."""
        return cls(principal=f"cli:{_os_user()}", role=ADMIN, address="local")

    @classmethod
    def system(cls) -> Actor:
        """The registry itself, for what happens when its time comes (a request falling overdue)."""
        return cls(principal="system:irontrace", role=ADMIN)

    @classmethod
    def of(cls, record: ActorRecord) -> Actor:
        return cls(**record)

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise Forbidden(f"The {self.role} role may not do this ({permission}).")

    def require_write(self, report: Report) -> None:
        """Agencies write only reports of their own agency; admins write any."""
        self.require(WRITE_REPORTS)
        if self.role == AGENCY and agency_key(report) != name_key(self.agency or ""):
            raise Forbidden(
                f"An agency key of {self.agency!r} may only write reports of that agency, "
                f"not of {report['reporting_agency']['name']!r}."
            )

    def require_same_source(self, before: Report | None, after: Report) -> None:
        """``source`` marks a report a feed owns (the feed withdraws it once it leaves the feed):
        only admins, and feeds, which act as admins, set or change it."""
        if self.role != ADMIN and (before or {}).get("source") != after.get("source"):
            raise Forbidden("Only an admin or a feed sets or changes a report's source.")

    @property
    def match_detail(self) -> str:
        """How much of a matched report this actor sees (``FULL_DETAILS`` or ``CONTACT_ONLY``)."""
        return MATCH_DETAIL.get(self.role, FULL_DETAILS)

    @property
    def match_types(self) -> frozenset[str]:
        """The kinds of resemblance a check reports to this actor (``search.vocabulary.MATCH_TYPES``)."""
        return MATCH_TYPES_SHOWN.get(self.role, frozenset(MATCH_TYPES))

    def owns(self, owner: ActorRecord) -> bool:
        """Whether something submitted by ``owner`` (a bulk job) is this actor's to see: its own, or an admin's."""
        return self.role == ADMIN or owner["principal"] == self.principal

    def speaks_for(self, report: Report) -> bool:
        """Whether this actor acts for the agency that owns ``report`` (admins act for every agency)."""
        return self.role == ADMIN or (self.role == AGENCY and agency_key(report) == name_key(self.agency or ""))

    def as_record(self) -> ActorRecord:
        return {"principal": self.principal, "role": self.role, "agency": self.agency, "address": self.address}


def _os_user() -> str:
    """The login name, or the uid where it has none (a container run as an arbitrary uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


__all__ = ["ADMIN", "AGENCY", "AUDITOR", "BORDER", "DEALER", "Actor", "PERMISSIONS", "READ_REPORTS",
           "WRITE_REPORTS", "CHECK", "READ_AUDIT", "MANAGE_KEYS", "READ_METRICS", "MANAGE_USERS", "FULL_DETAILS",
           "CONTACT_ONLY", "CONFIRMATIONS", "ANSWER_CONFIRMATIONS", "WEBHOOKS", "READ_SIGHTINGS",
           "REPLICA", "READ_CHANGES", "FORWARD_CHECKS"]
