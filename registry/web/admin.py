"""Administration in the browser: people's accounts (create, reset a password, disable) and API keys."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import login_required

from registry.errors import Conflict, InvalidRequest
from registry.web.forms import ActionForm, KeyForm, PasswordForm, UserForm
from registry.web.session import services, signed_in_actor, viewed

blp = Blueprint("admin", __name__, url_prefix="/admin")


@blp.route("/users", methods=["GET", "POST"])
@login_required
def users() -> ResponseReturnValue:
    actor = signed_in_actor()
    form = UserForm()
    error = None
    if form.validate_on_submit():
        try:
            created = services().users.create(actor, form.username.data or "", form.role.data or "",
                                              form.password.data or "", form.agency.data or None)
            flash(gettext("Account %(name)s created.", name=created["username"]))
            return redirect(url_for("web.admin.users"))
        except (InvalidRequest, Conflict) as refused:
            error = refused.detail
    accounts = services().users.list(actor)
    viewed(users=len(accounts))
    status = 400 if error or form.errors else 200
    return render_template("admin_users.html", form=form, users=accounts, error=error,
                           password_form=PasswordForm(formdata=None), action=ActionForm(formdata=None)), status


@blp.route("/users/<username>/password", methods=["POST"])
@login_required
def reset_password(username: str) -> ResponseReturnValue:
    form = PasswordForm()
    if form.validate_on_submit():
        services().users.reset_password(signed_in_actor(), username, form.password.data or "")
        flash(gettext("Password of %(name)s reset; their sessions have ended.", name=username))
    else:
        flash(gettext("The password was not changed: it needs at least 10 characters."), "error")
    return redirect(url_for("web.admin.users"))


@blp.route("/users/<username>/disable", methods=["POST"])
@login_required
def disable(username: str) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        disabled = request.form.get("enable") is None
        services().users.set_disabled(signed_in_actor(), username, disabled)
        flash(gettext("%(name)s disabled.", name=username) if disabled else gettext("%(name)s enabled.",
                                                                                     name=username))
    return redirect(url_for("web.admin.users"))


@blp.route("/keys", methods=["GET", "POST"])
@login_required
def keys() -> ResponseReturnValue:
    actor = signed_in_actor()
    form = KeyForm()
    error = issued = None
    if form.validate_on_submit():
        try:
            issued, _ = services().keys.create(actor, form.role.data or "", form.agency.data or None,
                                               form.expires.data or None, form.label.data or None)
        except (InvalidRequest, Conflict) as refused:
            error = refused.detail
    listed = services().keys.list(actor)
    viewed(keys=len(listed))
    status = 400 if error or form.errors else 200
    return render_template("admin_keys.html", form=form, keys=listed, issued=issued, error=error,
                           action=ActionForm(formdata=None)), status


@blp.route("/keys/<key_id>/revoke", methods=["POST"])
@login_required
def revoke(key_id: str) -> ResponseReturnValue:
    if ActionForm().validate_on_submit():
        services().keys.revoke(signed_in_actor(), key_id)
        flash(gettext("Key %(key)s revoked.", key=key_id))
    return redirect(url_for("web.admin.keys"))
