"""People's accounts for the web app: created, reset and disabled by admins, signed in with a password.

Keys are for machines; people sign in.  An account has the same roles as a
key (``registry.access``) and acts as ``user:<name>``, so the audit log says
who checked what.  Passwords are stored as Argon2id hashes (argon2-cffi: a
memory-hard hash, so a stolen table is expensive to brute-force, unlike a
key's 256-bit secret, which needs none; the cost is ``PASSWORD_HASH_*``).

Guessing is slowed per account: from ``LOGIN_MAX_FAILURES`` failed sign-ins
in a row on, each failure locks the account for twice as long as the one
before (``LOGIN_LOCK_SECONDS`` first, at most ``LOGIN_MAX_LOCK_SECONDS``), and
a sign-in during a lock is refused without looking at the password.  Every
sign-in, failure and lock is in the audit log.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from registry.access import MANAGE_USERS, Actor, role_and_agency
from registry.errors import InvalidRequest, NotFound, Unauthenticated
from registry.records import UserRecord
from registry.services.audit import AuditService
from registry.stamps import iso
from registry.storage.interfaces import UserStore

USER_PRINCIPAL = "user:"  # an account acts as ``user:<name>``
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")
MIN_PASSWORD_LENGTH = 10
HIDDEN_FIELDS = ("password_hash",)
Clock = Callable[[], dt.datetime]


class SignInRefused(Unauthenticated):
    """A sign-in that failed; ``retry_after_seconds`` is set while the account is locked."""

    def __init__(self, detail: str, retry_after_seconds: int | None = None) -> None:
        super().__init__(detail)
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class LockPolicy:
    """How repeated failed sign-ins slow an account down."""

    max_failures: int = 5
    lock_seconds: float = 60
    max_lock_seconds: float = 3600

    @classmethod
    def of(cls, settings: dict[str, Any]) -> LockPolicy:
        return cls(settings["LOGIN_MAX_FAILURES"], settings["LOGIN_LOCK_SECONDS"], settings["LOGIN_MAX_LOCK_SECONDS"])

    def lock_for(self, failures: int) -> float:
        """Seconds a failure locks the account for, after ``failures`` in a row (0: not locked)."""
        if failures < self.max_failures:
            return 0.0
        return min(self.lock_seconds * 2 ** (failures - self.max_failures), self.max_lock_seconds)


def password_hasher(settings: dict[str, Any]) -> PasswordHasher:
    """Argon2id at the configured cost; a hash made at another cost is redone at the next sign-in."""
    return PasswordHasher(time_cost=settings["PASSWORD_HASH_TIME_COST"],
                          memory_cost=settings["PASSWORD_HASH_MEMORY_KIB"], parallelism=1)


def username_of(name: str) -> str:
    """Usernames compare case-insensitively and are stored lower-case."""
    username = name.strip().casefold()
    if not USERNAME.match(username):
        raise InvalidRequest("A username is 2 to 64 of a-z, 0-9, '.', '_', '@' and '-', starting with a letter "
                             "or digit.")
    return username


def public_view(record: UserRecord, now: dt.datetime) -> dict[str, Any]:
    """An account as admins see it: everything but the hash, plus whether it is locked now."""
    shown = {k: v for k, v in record.items() if k not in HIDDEN_FIELDS}
    locked = bool(record["locked_until"] and record["locked_until"] > iso(now))
    state = "disabled" if record["disabled_at"] else "locked" if locked else "active"
    return {**shown, "state": state}


class UserService:
    """Accounts of people: admins manage them; anyone may try to sign in, and is slowed down when guessing."""

    def __init__(self, users: UserStore, audit: AuditService, policy: LockPolicy | None = None,
                 clock: Clock | None = None, hasher: PasswordHasher | None = None) -> None:
        self.users = users
        self.audit = audit
        self.policy = policy or LockPolicy()
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    def create(self, actor: Actor, username: str, role: str, password: str,
               agency: str | None = None) -> dict[str, Any]:
        actor.require(MANAGE_USERS)
        name = username_of(username)
        role, agency = role_and_agency(role, agency)
        now = iso(self.clock())
        record: UserRecord = {
            "username": name, "role": role, "agency": agency, "password_hash": self._hash(password),
            "created_at": now, "password_changed_at": now, "disabled_at": None,
            "failed_logins": 0, "locked_until": None, "last_login_at": None,
        }
        self.users.create(record)
        view = public_view(record, self.clock())
        self.audit.record(actor, "user.create", name, {"user": view})
        return view

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        actor.require(MANAGE_USERS)
        now = self.clock()
        return [public_view(record, now) for record in self.users.list()]

    def get(self, actor: Actor, username: str) -> dict[str, Any]:
        actor.require(MANAGE_USERS)
        return public_view(self.users.get(username_of(username)), self.clock())

    def reset_password(self, actor: Actor, username: str, password: str) -> dict[str, Any]:
        """A new password; it also lifts a lock and signs the account out everywhere."""
        actor.require(MANAGE_USERS)
        record = self.users.get(username_of(username))
        record = {**record, "password_hash": self._hash(password), "password_changed_at": iso(self.clock()),
                  "failed_logins": 0, "locked_until": None}
        return self._changed(actor, "user.password_reset", record)

    def set_disabled(self, actor: Actor, username: str, disabled: bool) -> dict[str, Any]:
        """Disable (signed out at the next request) or enable an account; the record stays, for the audit log."""
        actor.require(MANAGE_USERS)
        record = self.users.get(username_of(username))
        if bool(record["disabled_at"]) == disabled:
            return public_view(record, self.clock())
        record = {**record, "disabled_at": iso(self.clock()) if disabled else None}
        return self._changed(actor, "user.disable" if disabled else "user.enable", record)

    def sign_in(self, username: str, password: str, address: str | None) -> tuple[Actor, str]:
        """The actor a username and password stand for, and when the password last changed (what a
        session keeps, to end when it changes); ``SignInRefused`` (audited) otherwise."""
        now = self.clock()
        try:
            name = username_of(username)
            record = self.users.get(name)
        except (InvalidRequest, NotFound):
            self._verify(self._dummy(), password)  # as slow as a real account, so timing tells nothing
            self._failed(Actor(USER_PRINCIPAL + username.strip()[:64], "none", address=address), "unknown user")
            raise SignInRefused("Wrong username or password.") from None
        actor = self.actor_of(record, address)
        if record["locked_until"] and record["locked_until"] > iso(now):
            wait = (dt.datetime.fromisoformat(record["locked_until"]) - now).total_seconds()
            self._failed(actor, "locked", locked_until=record["locked_until"])
            raise SignInRefused("Too many failed sign-ins: the account is locked for now.", max(1, round(wait)))
        if not self._verify(record["password_hash"], password) or record["disabled_at"]:
            self._count_failure(actor, record, now, "disabled" if record["disabled_at"] else "wrong password")
            raise SignInRefused("Wrong username or password.")
        record = {**record, "failed_logins": 0, "locked_until": None, "last_login_at": iso(now)}
        if self.hasher.check_needs_rehash(record["password_hash"]):
            record["password_hash"] = self._hash(password)
        self.users.replace(record)
        self.audit.record(actor, "user.sign_in", name, {})
        return actor, record["password_changed_at"]

    def sign_out(self, actor: Actor) -> None:
        self.audit.record(actor, "user.sign_out", actor.principal.removeprefix(USER_PRINCIPAL), {})

    def session_actor(self, username: str, password_changed_at: str, address: str | None) -> Actor | None:
        """The actor of a signed-in session, or ``None`` once the account is gone, disabled or
        its password changed since the session began."""
        try:
            record = self.users.get(username)
        except NotFound:
            return None
        if record["disabled_at"] or record["password_changed_at"] != password_changed_at:
            return None
        return self.actor_of(record, address)

    @staticmethod
    def actor_of(record: UserRecord, address: str | None) -> Actor:
        return Actor(USER_PRINCIPAL + record["username"], record["role"], record["agency"], address)

    def _count_failure(self, actor: Actor, record: UserRecord, now: dt.datetime, reason: str) -> None:
        failures = record["failed_logins"] + 1
        lock = self.policy.lock_for(failures)
        locked_until = iso(now + dt.timedelta(seconds=lock)) if lock else None
        self.users.replace({**record, "failed_logins": failures, "locked_until": locked_until})
        self._failed(actor, reason, failed_logins=failures, locked_until=locked_until)

    def _failed(self, actor: Actor, reason: str, **details: Any) -> None:
        subject = actor.principal.removeprefix(USER_PRINCIPAL)
        self.audit.record(actor, "user.sign_in_failed", subject, {"reason": reason, **details})

    def _changed(self, actor: Actor, action: str, record: UserRecord) -> dict[str, Any]:
        self.users.replace(record)
        view = public_view(record, self.clock())
        self.audit.record(actor, action, record["username"], {"user": view})
        return view

    def _hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidRequest(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
        return self.hasher.hash(password)

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self.hasher.hash("not a password of anyone")
        return self._dummy_hash
