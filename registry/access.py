"""Who may do what: API keys, roles, and the permissions each role holds.

A key is shown once, at creation, as ``itk_<key id>_<secret>``; only the
SHA-256 of the secret is stored.  The secret is 256 random bits, so a fast
digest is enough: there is nothing to brute-force that a slow hash would
protect.  The key id, stored in clear, is what the audit log names.
"""

from __future__ import annotations

import datetime as dt
import getpass
import os
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from registry.stamps import iso
from registry.storage.base import Document, Storage, agency_key, name_key

if TYPE_CHECKING:
    from registry.audit import AuditService

KEY_PREFIX = "itk"
KEY_ID_BYTES = 8
SECRET_BYTES = 32

ADMIN, AGENCY, BORDER, DEALER, AUDITOR = "admin", "agency", "border", "dealer", "auditor"
ROLES = (ADMIN, AGENCY, BORDER, DEALER, AUDITOR)

# Permission -> roles holding it.  The one place to read or change who may do what.
READ_REPORTS = "reports:read"  # one report, listings, and description (text) search
WRITE_REPORTS = "reports:write"  # agencies only within their own agency (see ``may_write``)
CHECK = "checks"
READ_AUDIT = "audit:read"
MANAGE_KEYS = "keys:manage"
PERMISSIONS: dict[str, frozenset[str]] = {
    READ_REPORTS: frozenset({ADMIN, AGENCY, BORDER}),
    WRITE_REPORTS: frozenset({ADMIN, AGENCY}),
    CHECK: frozenset({ADMIN, AGENCY, BORDER, DEALER}),
    READ_AUDIT: frozenset({ADMIN, AUDITOR}),
    MANAGE_KEYS: frozenset({ADMIN}),
}

# How much of a matched report a check shows each role.  Dealers learn that an
# item is reported and whom to call, never what the investigation holds.
FULL_DETAILS, CONTACT_ONLY = "full", "contact_only"
MATCH_DETAIL: dict[str, str] = {DEALER: CONTACT_ONLY}


@dataclass(frozen=True)
class Actor:
    """Who is acting: a key (over HTTP) or the local operator (the CLI), and from where."""

    principal: str
    role: str
    agency: str | None = None
    address: str | None = None

    @classmethod
    def operator(cls) -> "Actor":
        """Whoever runs the CLI on the machine: they already hold the database itself."""
        return cls(principal=f"cli:{_os_user()}", role=ADMIN, address="local")

    def may(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]

    def require(self, permission: str) -> None:
        if not self.may(permission):
            raise Forbidden(f"The {self.role} role may not do this ({permission}).")

    def require_write(self, report: Document) -> None:
        """Agencies write only reports of their own agency; admins write any."""
        self.require(WRITE_REPORTS)
        if self.role == AGENCY and agency_key(report) != name_key(self.agency or ""):
            raise Forbidden(
                f"An agency key of {self.agency!r} may only write reports of that agency, "
                f"not of {report['reporting_agency']['name']!r}."
            )

    def require_same_source(self, before: Document | None, after: Document) -> None:
        """``source`` marks a report a feed owns (the feed withdraws it once it leaves the feed):
        only admins, and feeds, which act as admins, set or change it."""
        if self.role != ADMIN and (before or {}).get("source") != after.get("source"):
            raise Forbidden("Only an admin or a feed sets or changes a report's source.")

    @property
    def match_detail(self) -> str:
        return MATCH_DETAIL.get(self.role, FULL_DETAILS)

    def as_record(self) -> Document:
        return {"principal": self.principal, "role": self.role, "agency": self.agency, "address": self.address}


def _os_user() -> str:
    """The login name, or the uid where it has none (a container run as an arbitrary uid)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str]:
    """(key id, secret) of a presented key; ``Unauthenticated`` if it is not shaped like one."""
    prefix, _, rest = key.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != KEY_PREFIX or not key_id or not secret:
        raise Unauthenticated("The API key is not one this service issued.")
    return key_id, secret


def parse_expiry(value: str | None, now: dt.datetime) -> str | None:
    """An expiry as given (a date means 00:00 UTC that day), as stored: UTC ISO 8601."""
    if value is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidRequest(f"Expiry {value!r} is not an ISO 8601 date or date-time.") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    if moment <= now:
        raise InvalidRequest(f"Expiry {value!r} is not in the future.")
    return iso(moment)


def key_state(record: Document, now: dt.datetime) -> str:
    if record.get("revoked_at"):
        return "revoked"
    if record.get("expires_at") and record["expires_at"] <= iso(now):
        return "expired"
    return "active"


class KeyService:
    """Issues, lists, revokes and authenticates API keys; every change goes to the audit log."""

    def __init__(self, storage: Storage, audit: "AuditService") -> None:
        self.storage = storage
        self.audit = audit

    def create(self, actor: Actor, role: str, agency: str | None = None, expires: str | None = None,
               label: str | None = None) -> tuple[str, Document]:
        """A new key and its stored record; the key itself exists nowhere else."""
        actor.require(MANAGE_KEYS)
        now = dt.datetime.now(dt.timezone.utc)
        if role not in ROLES:
            raise InvalidRequest(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.")
        if (role == AGENCY) != bool(agency and agency.strip()):
            raise InvalidRequest("An agency key needs --agency (the reporting agency's name); other roles take none.")
        key_id, secret = secrets.token_hex(KEY_ID_BYTES), secrets.token_urlsafe(SECRET_BYTES)
        record = {
            "key_id": key_id,
            "role": role,
            "agency": agency.strip() if agency else None,
            "label": label,
            "created_at": iso(now),
            "expires_at": parse_expiry(expires, now),
            "revoked_at": None,
            "secret_sha256": secret_digest(secret),
        }
        self.storage.create_key(record)
        self.audit.record(actor, "key.create", key_id, {"key": public_view(record, now)})
        return f"{KEY_PREFIX}_{key_id}_{secret}", public_view(record, now)

    def list(self, actor: Actor) -> list[Document]:
        actor.require(MANAGE_KEYS)
        now = dt.datetime.now(dt.timezone.utc)
        return [public_view(record, now) for record in self.storage.list_keys()]

    def revoke(self, actor: Actor, key_id: str) -> Document:
        """Revoking twice is harmless: the first revocation time stands."""
        actor.require(MANAGE_KEYS)
        record = self.storage.get_key(key_id)
        now = dt.datetime.now(dt.timezone.utc)
        if not record.get("revoked_at"):
            record = {**record, "revoked_at": iso(now)}
            self.storage.replace_key(record)
            self.audit.record(actor, "key.revoke", key_id, {"key": public_view(record, now)})
        return public_view(record, now)

    def authenticate(self, key: str, address: str | None) -> Actor:
        """The actor a presented key stands for; ``Unauthenticated`` for any key that is not valid now."""
        key_id, secret = split_key(key)
        try:
            record = self.storage.get_key(key_id)
        except NotFound as exc:
            raise Unauthenticated("The API key is not one this service issued.") from exc
        if not hmac.compare_digest(record["secret_sha256"], secret_digest(secret)):
            raise Unauthenticated("The API key is not one this service issued.")
        state = key_state(record, dt.datetime.now(dt.timezone.utc))
        if state != "active":
            raise Unauthenticated(f"The API key is {state}.")
        return Actor(principal=key_id, role=record["role"], agency=record.get("agency"), address=address)


def public_view(record: Document, now: dt.datetime) -> dict[str, Any]:
    """A key's record as shown to admins: everything but the digest, plus its state now."""
    shown = {k: v for k, v in record.items() if k != "secret_sha256"}
    return {**shown, "state": key_state(record, now)}

