"""Reports for agencies and admins: list and filter, read one, register one, edit it, mark it recovered.

The form posts fields named like the report's (``incident.country``,
``identifiers-0-value``); the report is validated whole by the domain's rules
(``registry.validation.validate_report``) and written through the report
service with the version the form was opened at, so an edit made meanwhile
by someone else is a conflict: the page says so, shows what changed, and
keeps everything that was typed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from werkzeug.datastructures import MultiDict

from registry.access import WRITE_REPORTS, Actor
from registry.errors import Conflict, Forbidden, PreconditionFailed, ValidationFailed
from registry.records import Report, ReportFilter, agency_key, name_key
from registry.services.reports import without_server_fields
from registry.validation import validate_report
from registry.vocabulary import ACTIVE_STATUSES, AGENCY, CATEGORIES, IDENTIFIER_TYPES, STATUSES
from registry.web.forms import ActionForm, StatusForm
from registry.web.i18n import when
from registry.web.session import services, signed_in_actor, viewed

blp = Blueprint("reports", __name__, url_prefix="/reports")
PAGE_SIZE = 25
TEXT_FIELDS = ("external_ref", "status", "category", "manufacturer", "model", "year", "color", "description",
               "distinguishing_marks")
GROUPS = {
    "incident": ("date", "country", "region", "place", "circumstances"),
    "value": ("amount", "currency"),
    "reporting_agency": ("name", "country", "contact"),
}
NUMBERS = {"year": int, "value.amount": float}
IDENTIFIER_FIELDS = ("type", "value", "location")
FIELD_LABELS = {  # how a conflict names the fields the other edit changed
    "external_ref": _l("Case number"), "status": _l("Status"), "category": _l("Category"),
    "manufacturer": _l("Manufacturer"), "model": _l("Model"), "year": _l("Year"), "color": _l("Colour"),
    "description": _l("Description"), "distinguishing_marks": _l("Distinguishing marks"),
    "incident": _l("Incident"), "value": _l("Value"), "reporting_agency": _l("Reporting agency"),
    "identifiers": _l("Identifiers"),
}
BLANK_IDENTIFIER_ROWS = 2
MAX_IDENTIFIER_ROWS = 20
FINAL_STATUSES = ("recovered", "cancelled")


@blp.route("")
@login_required
def index() -> ResponseReturnValue:
    actor = signed_in_actor()
    args = {name: request.args.get(name, "").strip() or None for name in ("status", "category", "manufacturer", "q",
                                                                           "agency")}
    if actor.role == AGENCY:
        args["agency"] = actor.agency  # an agency's desk works on its own reports
    page = services().reports.list(actor, ReportFilter(**args), PAGE_SIZE, request.args.get("cursor") or None)
    viewed(reports=[r["id"] for r in page.items])
    return render_template("reports.html", page=page, args=args, statuses=STATUSES, categories=CATEGORIES,
                           may_write=actor.may(WRITE_REPORTS), filters_given={k: v for k, v in args.items() if v})


@blp.route("/<report_id>")
@login_required
def show(report_id: str) -> ResponseReturnValue:
    actor = signed_in_actor()
    report = services().reports.get(actor, report_id)
    viewed(report_id)
    return render_template("report.html", report=services().reviews.view(report), may_write=may_write(actor, report),
                           status_form=StatusForm(formdata=None), final_statuses=FINAL_STATUSES,
                           validate_form=ActionForm(formdata=None), active=report["status"] in ACTIVE_STATUSES)


@blp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> ResponseReturnValue:
    actor = signed_in_actor()
    actor.require(WRITE_REPORTS)
    if request.method == "GET" or "add_identifier" in request.form:
        values = form_values(request.form) if request.method == "POST" else blank_report(actor)
        return render_template("report_form.html", values=values, **choices(values, actor))
    values = form_values(request.form)
    try:
        report = services().reports.create(actor, validate_report(report_of(values)))
    except ValidationFailed as invalid:
        return render_form(values, actor, invalid), 422
    flash(gettext("Report %(ref)s registered.", ref=report["external_ref"]))
    return redirect(url_for("web.reports.show", report_id=report["id"]))


@blp.route("/<report_id>/edit", methods=["GET", "POST"])
@login_required
def edit(report_id: str) -> ResponseReturnValue:
    actor = signed_in_actor()
    stored = services().reports.get(actor, report_id)
    if not may_write(actor, stored):
        raise Forbidden(gettext("You may not change this report."))
    if request.method == "GET" or "add_identifier" in request.form:
        values = form_values(request.form) if request.method == "POST" else values_of(stored)
        opened = request.form.get("opened") or json.dumps(without_server_fields(stored))
        viewed(report_id)
        return render_template("report_form.html", values=values, report=stored, opened=opened,
                               **choices(values, actor))
    values = form_values(request.form)
    try:
        version = int(request.form.get("version", ""))
    except ValueError:
        version = 0
    try:
        changed = report_of(values)
        patch = as_merge_patch(changed)
        report = services().reports.update(actor, report_id, patch, version)
    except ValidationFailed as invalid:
        return render_form(values, actor, invalid, stored, request.form.get("opened")), 422
    except PreconditionFailed:
        current = services().reports.get(actor, report_id)
        merged, conflict = merged_edit(opened_version(request.form.get("opened")), changed,
                                       without_server_fields(current))
        return render_form(values_of(merged), actor, None, current, json.dumps(without_server_fields(current)),
                           conflict), 409
    flash(gettext("Report %(ref)s saved (version %(version)s).", ref=report["external_ref"], version=report["version"]))
    return redirect(url_for("web.reports.show", report_id=report_id))


@blp.route("/<report_id>/status", methods=["POST"])
@login_required
def change_status(report_id: str) -> ResponseReturnValue:
    """Mark a report recovered or cancelled (it stays on record and never makes a hit again)."""
    form = StatusForm()
    if form.validate_on_submit() and form.status.data in FINAL_STATUSES and (form.version.data or "").isdigit():
        try:
            services().reports.update(signed_in_actor(), report_id, {"status": form.status.data, **form.details()},
                                      int(form.version.data or 0))
            flash(gettext("Report marked %(status)s.", status=form.status.data))
        except PreconditionFailed:
            flash(gettext("Someone changed the report meanwhile: nothing was marked. Look at it again."), "error")
        except ValidationFailed as invalid:
            for error in cast(list[dict[str, str]], invalid.extra.get("errors", [])):
                flash(gettext("Nothing was marked: %(field)s: %(message)s", field=error["field"],
                              message=error["message"]), "error")
    return redirect(url_for("web.reports.show", report_id=report_id))


@blp.route("/<report_id>/validation", methods=["POST"])
@login_required
def validate(report_id: str) -> ResponseReturnValue:
    """The agency says the report is current: a new review period begins."""
    if ActionForm().validate_on_submit():
        try:
            report = services().reviews.validate(signed_in_actor(), report_id)
            next_review = when(services().reviews.review_at(report))
            flash(gettext("Report validated: next review by %(date)s.", date=next_review))
        except Conflict:
            flash(gettext("Only a stolen or missing report is validated."), "error")
    return redirect(url_for("web.reports.show", report_id=report_id))


def may_write(actor: Actor, report: Report) -> bool:
    """Whether the page offers editing: the service decides again when it is submitted."""
    if not actor.may(WRITE_REPORTS):
        return False
    return actor.role != AGENCY or agency_key(report) == name_key(actor.agency or "")


def blank_report(actor: Actor) -> dict[str, Any]:
    values: dict[str, Any] = {"status": "stolen", "identifiers": []}
    if actor.role == AGENCY:
        values["reporting_agency.name"] = actor.agency
    return values


def choices(values: dict[str, Any], actor: Actor) -> dict[str, Any]:
    """What the form offers: the vocabulary, and identifier rows for those typed plus blank ones
    (more of them after "More identifier rows", which works without JavaScript)."""
    shown = int(request.form.get("identifier_rows", "0") or 0) if "add_identifier" in request.form else 0
    rows = min(max(len(values.get("identifiers", [])), shown) + BLANK_IDENTIFIER_ROWS, MAX_IDENTIFIER_ROWS)
    return {"statuses": STATUSES, "categories": CATEGORIES, "identifier_types": IDENTIFIER_TYPES,
            "identifier_rows": rows, "agency_fixed": actor.role == AGENCY}


def render_form(values: dict[str, Any], actor: Actor, invalid: ValidationFailed | None,
                report: Report | None = None, opened: str | None = None,
                conflict: list[dict[str, Any]] | None = None) -> str:
    errors: dict[str, list[str]] = {}
    reported = cast(list[dict[str, str]], invalid.extra.get("errors", [])) if invalid else []
    for error in reported:
        errors.setdefault(form_name(error["field"]), []).append(error["message"])
    return render_template("report_form.html", values=values, report=report, errors=errors, conflict=conflict,
                           opened=opened, **choices(values, actor))


def form_name(field: str) -> str:
    """A report field's name on the form: ``identifiers.0.value`` is ``identifiers-0-value``."""
    parts = field.split(".")
    if parts[0] == "identifiers" and len(parts) > 1:
        return "-".join(parts)
    return field


def form_values(form: MultiDict[str, str]) -> dict[str, Any]:
    """What was typed, kept as typed (to show again whatever happens)."""
    values: dict[str, Any] = {name: form.get(name, "").strip() for name in TEXT_FIELDS}
    for group, names in GROUPS.items():
        values.update({f"{group}.{name}": form.get(f"{group}.{name}", "").strip() for name in names})
    identifiers = []
    for row in range(MAX_IDENTIFIER_ROWS):
        identifier = {name: form.get(f"identifiers-{row}-{name}", "").strip() for name in IDENTIFIER_FIELDS}
        if identifier["value"]:
            identifiers.append(identifier)
    values["identifiers"] = identifiers
    return values


def values_of(report: Mapping[str, Any]) -> dict[str, Any]:
    """A stored report as the form's values."""
    values: dict[str, Any] = {name: "" if report.get(name) is None else str(report.get(name))
                              for name in TEXT_FIELDS}
    for group, names in GROUPS.items():
        part = report.get(group) or {}
        values.update({f"{group}.{name}": "" if part.get(name) is None else str(part[name]) for name in names})
    values["identifiers"] = [{name: identifier.get(name, "") for name in IDENTIFIER_FIELDS}
                             for identifier in report.get("identifiers", [])]
    return values


def report_of(values: dict[str, Any]) -> dict[str, Any]:
    """The report the form describes: empty fields left out, numbers as numbers (when they are)."""
    report: dict[str, Any] = {name: _typed(name, values[name]) for name in TEXT_FIELDS if values.get(name)}
    for group, names in GROUPS.items():
        part = {name: _typed(f"{group}.{name}", values[f"{group}.{name}"])
                for name in names if values.get(f"{group}.{name}")}
        if part:
            report[group] = part
    report["identifiers"] = [{k: v for k, v in identifier.items() if v} for identifier in values["identifiers"]]
    return report


def as_merge_patch(report: dict[str, Any]) -> dict[str, Any]:
    """The whole form as a merge patch: a field left empty removes what was stored."""
    patch: dict[str, Any] = dict.fromkeys((*TEXT_FIELDS, *GROUPS), None)
    patch.update(report)
    for group, names in GROUPS.items():
        if group in report:
            patch[group] = {**dict.fromkeys(names), **report[group]}
    return patch


def opened_version(posted: str | None) -> dict[str, Any] | None:
    """The report as the form showed it when opened (the form carries it back)."""
    try:
        opened = json.loads(posted or "")
    except ValueError:
        return None
    return opened if isinstance(opened, dict) else None


def merged_edit(opened: dict[str, Any] | None, mine: dict[str, Any],
                theirs: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """After a conflict: the saved version with this person's changes on top, so nobody's work is
    lost, and what the other edit changed (``both``: a field both changed, where theirs is replaced
    by mine unless this person takes theirs back).  Without the opened version, every typed field
    counts as this person's change."""
    merged, changes = dict(theirs), []
    for name in (*TEXT_FIELDS, *GROUPS, "identifiers"):
        before = opened.get(name) if opened is not None else theirs.get(name)
        mine_changed = opened is None or mine.get(name) != before
        theirs_changed = opened is not None and theirs.get(name) != before
        if mine_changed:
            merged[name] = mine.get(name)
            if merged[name] is None:
                merged.pop(name)
        if theirs_changed:
            changes.append({"field": str(FIELD_LABELS[name]), "stored": theirs.get(name), "typed": mine.get(name),
                            "both": mine_changed and mine.get(name) != theirs.get(name)})
    return merged, changes


def _typed(name: str, value: str) -> Any:
    convert = NUMBERS.get(name)
    if convert is None:
        return value
    try:
        return convert(value.replace(" ", "").replace(",", "."))
    except ValueError:
        return value  # validation says what is wrong with it
