"""Sign in, sign out, and the language switch on every page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.wrappers import Response

from registry.languages import LANGUAGE_KEY, LANGUAGES
from registry.services.users import SignInRefused
from registry.web.forms import ActionForm, SignInForm
from registry.web.session import begin, services, signed_in_actor

blp = Blueprint("auth", __name__)


def safe_next(target: str | None, default: str) -> str:
    """Where to go after signing in or switching language: a path of this site, never another."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


@blp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    if current_user.is_authenticated:
        return redirect(url_for("web.check.index"))
    form = SignInForm()
    if not form.validate_on_submit():
        return render_template("login.html", form=form), 400 if form.is_submitted() else 200
    try:
        actor, password_changed_at = services().users.sign_in(form.username.data or "", form.password.data or "",
                                                              request.remote_addr)
    except SignInRefused as refused:
        if refused.retry_after_seconds:
            message = gettext("Too many failed sign-ins: try again in %(seconds)s seconds.",
                              seconds=refused.retry_after_seconds)
            page = render_template("login.html", form=form, error=message)
            return page, 429, {"Retry-After": str(refused.retry_after_seconds)}
        return render_template("login.html", form=form, error=gettext("Wrong username or password.")), 401
    login_user(begin(actor, password_changed_at))
    return redirect(safe_next(request.args.get("next"), url_for("web.check.index")))


@blp.route("/logout", methods=["POST"])
@login_required
def logout() -> Response:
    if ActionForm().validate_on_submit():
        services().users.sign_out(signed_in_actor())
        logout_user()
        session.clear()
    return redirect(url_for("web.auth.login"))


@blp.route("/language/<code>")
def choose_language(code: str) -> Response:
    """Switch the language of every page (kept in the session); works without JavaScript."""
    if code in LANGUAGES:
        session[LANGUAGE_KEY] = code
    return redirect(safe_next(request.args.get("next"), url_for("web.check.index")))
