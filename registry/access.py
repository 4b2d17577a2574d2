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
from registry.vocabulary import ADMIN, AGENCY, AUDITOR, BORDER, DEALER, ROLES

READ_REPORTS: Final = "reports:read"  # one report, listings, and description (text) search
WRITE_REPORTS: Final = "reports:write"  # agencies only within their own agency (see ``require_write``)
CHECK: Final = "checks"
READ_AUDIT: Final = "audit:read"
MANAGE_KEYS: Final = "keys:manage"
MANAGE_USERS: Final = "users:manage"
PERMISSIONS: Final[dict[str, frozenset[str]]] = {
    READ_REPORTS: frozenset({ADMIN, AGENCY, BORDER}),
    WRITE_REPORTS: frozenset({ADMIN, AGENCY}),
    CHECK: frozenset({ADMIN, AGENCY, BORDER, DEALER}),
    READ_AUDIT: frozenset({ADMIN, AUDITOR}),
    MANAGE_KEYS: frozenset({ADMIN}),
    MANAGE_USERS: frozenset({ADMIN}),
}

# How much of a matched report a check shows each role.  Dealers learn that an
# item is reported and whom to call, never what the investigation holds.
FULL_DETAILS: Final = "full"
CONTACT_ONLY: Final = "contact_only"
MATCH_DETAIL: Final[dict[str, str]] = {DEALER: CONTACT_ONLY}


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

    @classmethod
    def operator(cls) -> Actor:
        """Whoever runs the CLI on the machine: they already hold the database itself."""
        return cls(principal=f"cli:{_os_user()}", role=ADMIN, address="local")

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

    def owns(self, owner: ActorRecord) -> bool:
        """Whether something submitted by ``owner`` (a bulk job) is this actor's to see: its own, or an admin's."""
        return self.role == ADMIN or owner["principal"] == self.principal

    def as_record(self) -> ActorRecord:
        return {"principal": self.principal, "role": self.role, "agency": self.agency, "address": self.address}


def _os_user() -> str:
    """The login name, or the uid where it has none (a container run as an arbitrary uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


__all__ = ["ADMIN", "AGENCY", "AUDITOR", "BORDER", "DEALER", "Actor", "PERMISSIONS", "READ_REPORTS",
           "WRITE_REPORTS", "CHECK", "READ_AUDIT", "MANAGE_KEYS", "MANAGE_USERS", "FULL_DETAILS", "CONTACT_ONLY"]
