"""API keys: issued, listed, revoked and authenticated, every change in the audit log.

A key is shown once, at creation, as ``itk_<key id>_<secret>``; only the
SHA-256 of the secret is stored.  The secret is 256 random bits, so a fast
digest is enough: there is nothing to brute-force that a slow hash would
protect.  The key id, stored in clear, is what the audit log names.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from typing import Any

from registry.access import MANAGE_KEYS, Actor, role_and_agency
from registry.errors import InvalidRequest, NotFound, Unauthenticated
from registry.records import KeyRecord
from registry.services.audit import AuditService
from registry.stamps import iso
from registry.storage.interfaces import KeyStore

KEY_PREFIX = "itk"
KEY_ID_BYTES = 8
SECRET_BYTES = 32


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
        moment = moment.replace(tzinfo=dt.UTC)
    if moment <= now:
        raise InvalidRequest(f"Expiry {value!r} is not in the future.")
    return iso(moment)


def key_state(record: KeyRecord, now: dt.datetime) -> str:
    if record.get("revoked_at"):
        return "revoked"
    expires_at = record.get("expires_at")
    if expires_at and expires_at <= iso(now):
        return "expired"
    return "active"


class KeyService:
    """Issues, lists, revokes and authenticates API keys; every change goes to the audit log."""

    def __init__(self, keys: KeyStore, audit: AuditService) -> None:
        self.keys = keys
        self.audit = audit

    def create(self, actor: Actor, role: str, agency: str | None = None, expires: str | None = None,
               label: str | None = None) -> tuple[str, dict[str, Any]]:
        """A new key and its stored record; the key itself exists nowhere else."""
        actor.require(MANAGE_KEYS)
        now = dt.datetime.now(dt.UTC)
        role, agency = role_and_agency(role, agency)
        key_id, secret = secrets.token_hex(KEY_ID_BYTES), secrets.token_urlsafe(SECRET_BYTES)
        record: KeyRecord = {
            "key_id": key_id,
            "role": role,
            "agency": agency,
            "label": label,
            "created_at": iso(now),
            "expires_at": parse_expiry(expires, now),
            "revoked_at": None,
            "secret_sha256": secret_digest(secret),
        }
        self.keys.create(record)
        self.audit.record(actor, "key.create", key_id, {"key": public_view(record, now)})
        return f"{KEY_PREFIX}_{key_id}_{secret}", public_view(record, now)

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        actor.require(MANAGE_KEYS)
        now = dt.datetime.now(dt.UTC)
        return [public_view(record, now) for record in self.keys.list()]

    def revoke(self, actor: Actor, key_id: str) -> dict[str, Any]:
        """Revoking twice is harmless: the first revocation time stands."""
        actor.require(MANAGE_KEYS)
        record = self.keys.get(key_id)
        now = dt.datetime.now(dt.UTC)
        if not record.get("revoked_at"):
            record = {**record, "revoked_at": iso(now)}
            self.keys.replace(record)
            self.audit.record(actor, "key.revoke", key_id, {"key": public_view(record, now)})
        return public_view(record, now)

    def authenticate(self, key: str, address: str | None) -> Actor:
        """The actor a presented key stands for; ``Unauthenticated`` for any key that is not valid now."""
        key_id, secret = split_key(key)
        try:
            record = self.keys.get(key_id)
        except NotFound as exc:
            raise Unauthenticated("The API key is not one this service issued.") from exc
        if not hmac.compare_digest(record["secret_sha256"], secret_digest(secret)):
            raise Unauthenticated("The API key is not one this service issued.")
        state = key_state(record, dt.datetime.now(dt.UTC))
        if state != "active":
            raise Unauthenticated(f"The API key is {state}.")
        return Actor(principal=key_id, role=record["role"], agency=record.get("agency"), address=address)


def public_view(record: KeyRecord, now: dt.datetime) -> dict[str, Any]:
    """A key's record as shown to admins: everything but the digest, plus its state now."""
    shown = {k: v for k, v in record.items() if k != "secret_sha256"}
    return {**shown, "state": key_state(record, now)}

