"""Confirmation of hits in the browser: a checker asks from the check's answer, the owning agency answers
on its list of requests.  The pages act through ``ConfirmationService``, so who may read and answer a
request is the API's rule."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_login import login_required

from registry.errors import Conflict, InvalidRequest
from registry.vocabulary import CONFIRMATION_STATUSES, OPEN, OVERDUE
from registry.web.forms import AnswerForm, ConfirmationForm
from registry.web.i18n import when
from registry.web.session import services, signed_in_actor

blp = Blueprint("confirmations", __name__)
LISTED = 100


@blp.route("/confirmations")
@login_required
def index() -> ResponseReturnValue:
    """The requests the person is party to, newest first, with an answer form on each open one it may answer."""
    actor = signed_in_actor()
    status = request.args.get("status") if request.args.get("status") in CONFIRMATION_STATUSES else None
    page = services().confirmations.list(actor, status, LISTED, None)
    return render_template("confirmations.html", requests=page.items, status=status, statuses=CONFIRMATION_STATUSES,
                           answerable={OPEN, OVERDUE}, form=AnswerForm())


@blp.route("/checks/<check_id>/confirmations", methods=["POST"])
@login_required
def ask(check_id: str) -> ResponseReturnValue:
    """Ask the owning agency to confirm what one's own check matched."""
    form = ConfirmationForm()
    if not form.validate_on_submit():
        flash(gettext("Say where the item is to ask for a confirmation."), "error")
        return redirect(url_for("web.confirmations.index"))
    made = services().confirmations.request(signed_in_actor(), check_id, form.priority.data or "urgent",
                                            form.location.data or "", form.note.data or None,
                                            report_id=form.report_id.data or None,
                                            external_ref=form.external_ref.data or None)
    flash(gettext("Confirmation asked of %(agency)s; due %(when)s.", agency=made["agency"],
                  when=when(made["due_at"])))
    return redirect(url_for("web.confirmations.index"))


@blp.route("/confirmations/<request_id>/answer", methods=["POST"])
@login_required
def answer(request_id: str) -> ResponseReturnValue:
    """The owning agency's answer."""
    form = AnswerForm()
    if form.validate_on_submit():
        try:
            services().confirmations.answer(signed_in_actor(), request_id, form.outcome.data or "",
                                            form.reason.data or None)
            flash(gettext("Answer sent."))
        except (InvalidRequest, Conflict) as exc:
            flash(exc.detail, "error")
    return redirect(url_for("web.confirmations.index"))
