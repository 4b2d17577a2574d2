"""/v1/reports: register, read, update and list reports."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from registry.api.extension import services
from registry.api.schemas.reports import ReportListArgsSchema, ReportPageSchema, ReportPatchSchema, ReportSchema
from registry.api.security import current_actor
from registry.errors import InvalidRequest, PreconditionFailed, PreconditionRequired
from registry.records import Report as ReportRecord
from registry.records import ReportFilter
from registry.validation import ReportInputSchema

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Stolen and missing equipment")


def json_object_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InvalidRequest("The body must be a JSON object (Content-Type application/merge-patch+json).")
    return body


def etag(report: Mapping[str, Any]) -> str:
    return f'"{report["version"]}"'


def expected_version(report_id: str) -> int:
    """The version named by If-Match; ``*`` means whatever is stored now."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired("Send If-Match with the ETag of the version you are changing.")
    if header.strip() == "*":
        return services().reports.get(current_actor(), report_id)["version"]
    tag = header.split(",")[0].strip().removeprefix("W/").strip('"')
    if not tag.isdigit():
        raise PreconditionFailed(f"If-Match {header!r} names no version of this report.")
    return int(tag)


@blp.route("")
class Reports(MethodView):
    @blp.arguments(ReportListArgsSchema, location="query")
    @blp.response(200, ReportPageSchema)
    def get(self, args: dict):
        """List reports, newest first, with filters and cursor pagination."""
        limit, cursor = args.pop("limit"), args.pop("cursor", None)
        page = services().reports.list(current_actor(), ReportFilter(**args), limit, cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @blp.arguments(ReportInputSchema)
    @blp.response(201, ReportSchema)
    def post(self, data: ReportRecord):
        """Register a stolen or missing item."""
        report = services().reports.create(current_actor(), data)
        location = url_for("reports.Report", report_id=report["id"])
        return report, 201, {"Location": location, "ETag": etag(report)}


@blp.route("/<report_id>")
class Report(MethodView):
    @blp.response(200, ReportSchema)
    def get(self, report_id: str):
        """One report; its ETag is the version to send back in If-Match."""
        report = services().reports.get(current_actor(), report_id)
        return report, 200, {"ETag": etag(report)}

    @blp.doc(requestBody={"required": True, "content": {"application/merge-patch+json": {"schema": ReportPatchSchema}}})
    @blp.response(200, ReportSchema)
    def patch(self, report_id: str):
        """Change a report with a JSON merge patch; If-Match is required (412 when stale).

        The patch is validated as part of the merged report, since a null in a
        merge patch removes a field and only the result can be judged whole.
        """
        version = expected_version(report_id)
        report = services().reports.update(current_actor(), report_id, json_object_body(), version)
        return report, 200, {"ETag": etag(report)}
