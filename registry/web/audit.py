"""The audit log for auditors and admins: browse and filter it, and verify its hash chain."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_login import login_required

from registry.records import AuditFilter
from registry.stamps import iso
from registry.vocabulary import AUDIT_ACTIONS
from registry.web.session import services, signed_in_actor, viewed

blp = Blueprint("audit", __name__, url_prefix="/audit")
PAGE_SIZE = 50
TEXT_FILTERS = ("principal", "subject")


@blp.route("")
@login_required
def index() -> ResponseReturnValue:
    args = {name: request.args.get(name, "").strip() for name in ("action", "principal", "subject", "since", "until")}
    problems = []
    filters = {name: args[name] or None for name in TEXT_FILTERS}
    filters["action"] = args["action"] if args["action"] in AUDIT_ACTIONS else None
    for name in ("since", "until"):
        if args[name]:
            try:
                filters[name] = iso(dt.datetime.fromisoformat(args[name]).replace(tzinfo=dt.UTC))
            except ValueError:
                problems.append(name)
    page = services().audit.list(signed_in_actor(), AuditFilter(**filters), PAGE_SIZE,
                                 request.args.get("cursor") or None)
    viewed(entries=len(page.items))
    return render_template("audit.html", page=page, args=args, actions=AUDIT_ACTIONS, problems=problems,
                           filters_given={k: v for k, v in args.items() if v})


@blp.route("/verify")
@login_required
def verify() -> ResponseReturnValue:
    """Walk the whole chain: intact, or the first broken entry and why."""
    report = services().audit.verify(signed_in_actor())
    viewed(intact=report.intact, entries=report.entries)
    return render_template("audit_verify.html", report=report)
