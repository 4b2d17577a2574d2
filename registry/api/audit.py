"""/v1/audit: the hash-chained record of checks, report writes and key changes (auditors, admins)."""

from __future__ import annotations

import json

from flask import Response
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.audit import (
    AuditArgsSchema,
    AuditPageArgsSchema,
    AuditPageSchema,
    AuditVerifyArgsSchema,
    ChainReportSchema,
)
from registry.api.security import current_actor
from registry.records import AuditFilter

blp = Blueprint("audit", __name__, url_prefix="/v1/audit", description="Audit log (auditor, admin)")
NDJSON = "application/x-ndjson"


@blp.route("")
class AuditLog(MethodView):
    @blp.doc(operationId="listAuditEntries")
    @blp.arguments(AuditPageArgsSchema, location="query")
    @blp.response(200, AuditPageSchema, example=examples.AUDIT_PAGE)
    def get(self, args: dict):
        """Entries oldest first, filtered, one page at a time."""
        limit, cursor = args.pop("limit"), args.pop("cursor", None)
        page = services().audit.list(current_actor(), AuditFilter(**args), limit, cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}


@blp.route("/export")
class AuditExport(MethodView):
    @blp.doc(operationId="exportAudit")
    @blp.arguments(AuditArgsSchema, location="query")
    @blp.response(200, {"type": "string"}, content_type=NDJSON, description="One entry per line, oldest first",
                  example=examples.AUDIT_NDJSON)
    def get(self, args: dict):
        """Every matching entry as NDJSON, streamed: for archiving and for checking elsewhere."""
        entries = services().audit.export(current_actor(), AuditFilter(**args))
        return Response((json.dumps(entry, ensure_ascii=False) + "\n" for entry in entries), mimetype=NDJSON)


@blp.route("/verify")
class AuditVerification(MethodView):
    @blp.doc(operationId="verifyAudit")
    @blp.arguments(AuditVerifyArgsSchema, location="query")
    @blp.response(200, ChainReportSchema, example=examples.CHAIN_REPORT)
    def get(self, args: dict):
        """Walk the whole chain, held to the newest published head (and to `anchor`, if given): intact,
        or the first broken entry and why."""
        anchor = args.get("anchor")
        seq, _, digest = anchor.partition(":") if anchor else ("", "", "")
        return services().audit.verify(current_actor(), (int(seq), digest) if anchor else None).to_dict()
