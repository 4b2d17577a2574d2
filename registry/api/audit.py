"""/v1/audit: the hash-chained record of checks, report writes and key changes (auditors, admins)."""

from __future__ import annotations

import json

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.audit import AuditArgsSchema, AuditPageArgsSchema, AuditPageSchema, ChainReportSchema
from registry.api.security import current_actor
from registry.records import AuditFilter

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="Audit log (auditor, admin)")
NDJSON = "application/x-ndjson"


@blp.route("")
class AuditLog(MethodView):
    @blp.arguments(AuditPageArgsSchema, location="query")
    @blp.response(200, AuditPageSchema)
    def get(self, args: dict):
        """Entries oldest first, filtered, one page at a time."""
        limit, cursor = args.pop("limit"), args.pop("cursor", None)
        page = services().audit.list(current_actor(), AuditFilter(**args), limit, cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/export")
class AuditExport(MethodView):
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, content_type=NDJSON, description="One entry per line, oldest first")
    def get(self, args: dict):
        """Every matching entry as NDJSON, streamed: for archiving and for checking elsewhere."""
        entries = services().audit.export(current_actor(), AuditFilter(**args))
        return Response((json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries), mimetype=NDJSON)


@blp.route("/verify")
class AuditVerification(MethodView):
    @blp.response(200, ChainReportSchema)
    def get(self):
        """Walk the whole chain: intact, or the first broken entry and why."""
        report = services().audit.verify(current_actor())
        return {**vars(report), "intact": report.intact}
