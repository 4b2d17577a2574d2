"""The start page: check what was read off a plate, and see the answer at a glance."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import login_required
from marshmallow import ValidationError

from registry.access import CHECK, CONFIRMATIONS, READ_AUDIT
from registry.explanations import explain, highlighted
from registry.languages import translated
from registry.services.results import CheckResult
from registry.validation import CheckRequestSchema
from registry.web.forms import CheckForm, ConfirmationForm
from registry.web.session import services, signed_in_actor
from search.normalize import normalize
from search.query import CheckQuery

blp = Blueprint("check", __name__)
_request_schema = CheckRequestSchema()


@blp.route("/", methods=["GET", "POST"])
@login_required
def index() -> ResponseReturnValue:
    """The form, and after a check its answer (a check is recorded and audited by the service).
    Auditors, who do not check, start at the audit log."""
    actor = signed_in_actor()
    if not actor.may(CHECK) and actor.may(READ_AUDIT):
        return redirect(url_for("web.audit.index"))
    form = CheckForm()
    if not form.validate_on_submit():
        return render_template("check.html", form=form), 400 if form.is_submitted() else 200
    asked = {"identifier": form.identifier.data, "manufacturer": (form.manufacturer.data or "").strip() or None,
             "category": form.category.data or None}
    try:
        query = CheckQuery(**_request_schema.load({k: v for k, v in asked.items() if v}))
    except ValidationError as exc:
        form.identifier.errors = [str(m) for messages in exc.messages.values() for m in messages]  # type: ignore[union-attr]
        return render_template("check.html", form=form), 400
    result = services().checks.check(actor, query)
    return render_template("check.html", form=form, result=result.to_dict(), matches=shown_matches(result, query),
                           ask=ConfirmationForm() if actor.may(CONFIRMATIONS) else None,
                           searched=normalize(query.identifier or ""),
                           last_registered=services().reports.last_registered(actor))


def shown_matches(result: CheckResult, query: CheckQuery) -> list[dict[str, Any]]:
    """Each match as the reader may see it (``CheckResult.to_dict``: a dealer's is redacted), with
    the differing characters marked and the explanation in the reader's language where the
    reader's detail includes the registered identifier and explanation."""
    shown = []
    for view, match in zip(result.to_dict()["matches"], result.outcome.matches):
        if "explanation" in view:
            view = {**view, "segments": highlighted(match, query.identifier or ""),
                    "reasons": translated(explain(match, query))}
        shown.append(view)
    return shown
