"""Who is signed in: sessions of people (Flask-Login), their cookies, and the actor each one acts as.

A session remembers the account's name and when its password last changed:
a password reset, a disabled account or a deleted one ends every session at
its next request (``UserService.session_actor``).  A session also ends
``SESSION_MINUTES`` after sign-in, however busy.  The cookie is HttpOnly,
SameSite=Lax, and Secure whenever the request came over TLS (or
``SECURE_COOKIES`` says so).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user

from registry.access import Actor
from registry.services import EXTENSION_KEY, Services
from registry.stamps import iso

SECRET_BYTES = 32
SIGNED_IN_AT = "signed_in_at"
login_manager = LoginManager()
login_manager.login_view = "web.auth.login"
login_manager.login_message = ""  # the sign-in page says enough
login_manager.session_protection = "basic"


def services() -> Services:
    """The services of this app (``registry.app.create_app``)."""
    found: Services = current_app.extensions[EXTENSION_KEY]
    return found


class SignedIn(UserMixin):
    """A person signed in, as Flask-Login knows them: the actor they act as."""

    def __init__(self, actor: Actor, password_changed_at: str) -> None:
        self.actor = actor
        self.password_changed_at = password_changed_at

    @property
    def username(self) -> str:
        return self.actor.principal.removeprefix("user:")

    def get_id(self) -> str:
        return f"{self.username}\n{self.password_changed_at}"


@login_manager.user_loader
def _load(session_id: str) -> SignedIn | None:
    username, _, password_changed_at = session_id.partition("\n")
    signed_in_at = session.get(SIGNED_IN_AT)
    lifetime = dt.timedelta(minutes=current_app.config["IRONTRACE"]["SESSION_MINUTES"])
    if not signed_in_at or dt.datetime.fromisoformat(signed_in_at) + lifetime <= dt.datetime.now(dt.UTC):
        return None
    actor = services().users.session_actor(username, password_changed_at, request.remote_addr)
    return SignedIn(actor, password_changed_at) if actor else None


def begin(actor: Actor, password_changed_at: str) -> SignedIn:
    """A new session for ``actor``: a fresh cookie, so nothing set before sign-in carries over."""
    language = session.get("language")
    session.clear()
    if language:
        session["language"] = language
    session.permanent = True
    session[SIGNED_IN_AT] = iso(dt.datetime.now(dt.UTC))
    return SignedIn(actor, password_changed_at)


def signed_in_actor() -> Actor:
    """The actor of the person signed in (every page but sign-in requires one)."""
    actor: Actor = current_user.actor
    return actor


class TlsAwareSessions(SecureCookieSessionInterface):
    """Session cookies marked Secure on requests that came over TLS, whatever the configuration."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or request.is_secure


def secret_key(settings: dict[str, Any]) -> str:
    """``SECRET_KEY``, else the one kept in ``SECRET_KEY_FILE`` (made on first start, readable by the owner
    only), so that every worker process and every restart signs cookies alike."""
    if settings["SECRET_KEY"]:
        return str(settings["SECRET_KEY"])
    path = Path(settings["SECRET_KEY_FILE"]).expanduser()
    if not path.exists():
        draft = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_hex(SECRET_BYTES))
        try:
            os.link(draft, path)  # whole or not at all: of processes starting together, one wins
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return path.read_text().strip()


def configure(app: Flask) -> None:
    settings = app.config["IRONTRACE"]
    app.config.update(
        SECRET_KEY=secret_key(settings),
        SESSION_COOKIE_NAME="irontrace_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SECURE_COOKIES"],
        PERMANENT_SESSION_LIFETIME=dt.timedelta(minutes=settings["SESSION_MINUTES"]),
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    app.session_interface = TlsAwareSessions()
    login_manager.init_app(app)


def viewed(subject: str | None = None, **details: Any) -> None:
    """Put a page that showed registry data in the audit log, as an API call is: who, what, from where."""
    arguments = {name: value for name, value in request.args.items() if value}
    services().audit.record(signed_in_actor(), "page.view", subject,
                            {"page": request.endpoint, "path": request.path, "args": arguments, **details})
