"""/v1/reports: register, read, update and list reports."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import request, url_for
from flask.views import MethodView

from registry.api import examples
from registry.api.bodies import Blueprint
from registry.api.extension import services
from registry.api.schemas.hits import SightingsSchema
from registry.api.schemas.reports import ReportListArgsSchema, ReportPageSchema, ReportPatchSchema, ReportSchema
from registry.api.security import current_actor
from registry.errors import InvalidRequest, PreconditionFailed, PreconditionRequired
from registry.records import Report as ReportRecord
from registry.records import ReportFilter
from registry.validation import ReportInputSchema

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Stolen and missing equipment")

VERSION_TAG = re.compile(r'(?:W/)?"?([0-9]{1,18})"?')  # ASCII digits only, and never past a 64-bit version
ETAG_HEADER = {"ETag": {"description": "The report's version, to send back in If-Match", "schema": {"type": "string"},
                        "example": '"1"'}}
IF_MATCH = {"in": "header", "name": "If-Match", "required": True, "schema": {"type": "string"}, "example": '"1"',
            "description": "The ETag of the version being changed (`*`: whatever is stored)"}


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
    tag = VERSION_TAG.fullmatch(header.split(",")[0].strip())
    if tag is None:
        raise PreconditionFailed("If-Match names no version of this report (send the ETag you were given).")
    return int(tag.group(1))


@blp.route("")
class Reports(MethodView):
    @blp.doc(operationId="listReports")
    @blp.arguments(ReportListArgsSchema, location="query")
    @blp.response(200, ReportPageSchema, example=examples.REPORT_PAGE)
    def get(self, args: dict):
        """List reports, newest first, with filters and cursor pagination."""
        limit, cursor = args.pop("limit"), args.pop("cursor", None)
        page = services().reports.list(current_actor(), ReportFilter(**args), limit, cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @blp.doc(operationId="createReport")
    @blp.arguments(ReportInputSchema, example=examples.REPORT_INPUT)
    @blp.response(201, ReportSchema, example=examples.REPORT, headers={
        **ETAG_HEADER, "Location": {"description": "The new report", "schema": {"type": "string"}}})
    @blp.alt_response(409, description="The agency already registered this case number; `existing_id` names it")
    def post(self, data: ReportRecord):
        """Register a stolen or missing item."""
        report = services().reports.create(current_actor(), data)
        location = url_for("reports.Report", report_id=report["id"])
        return services().reviews.view(report), 201, {"Location": location, "ETag": etag(report)}


@blp.route("/<report_id>")
class Report(MethodView):
    @blp.doc(operationId="getReport")
    @blp.response(200, ReportSchema, example=examples.REPORT, headers=ETAG_HEADER)
    def get(self, report_id: str):
        """One report; its ETag is the version to send back in If-Match."""
        report = services().reports.get(current_actor(), report_id)
        return services().reviews.view(report), 200, {"ETag": etag(report)}

    @blp.doc(operationId="updateReport", parameters=[IF_MATCH], requestBody={"required": True, "content": {
        "application/merge-patch+json": {"schema": ReportPatchSchema, "example": examples.REPORT_PATCH}}})
    @blp.response(200, ReportSchema, example=examples.REPORT_PATCHED,
                  headers=ETAG_HEADER)
    @blp.alt_response(409, description="Another report of the agency has this case number")
    @blp.alt_response(422, description="Marked recovered without `recovery`, or cancelled without `cancellation` "
                                       "(its reason), or another field is invalid")
    @blp.alt_response(412, description="If-Match is not the stored version; `current_version` is")
    @blp.alt_response(428, description="If-Match is missing")
    def patch(self, report_id: str):
        """Change a report with a JSON merge patch; If-Match is required (412 when stale).

        The patch is validated as part of the merged report, since a null in a
        merge patch removes a field and only the result can be judged whole.
        """
        version = expected_version(report_id)
        report = services().reports.update(current_actor(), report_id, json_object_body(), version)
        return services().reviews.view(report), 200, {"ETag": etag(report)}


@blp.route("/<report_id>/validation")
class Validation(MethodView):
    @blp.doc(operationId="validateReport")
    @blp.response(200, ReportSchema, example=examples.REPORT_VALIDATED, headers=ETAG_HEADER)
    @blp.alt_response(409, description="The report is recovered or cancelled: there is nothing to review")
    def post(self, report_id: str):
        """The reporting agency (or an admin) confirms the report is current: its review date moves on
        to REPORT_REVIEW_MONTHS from now (recorded in the audit log as `report.validate`)."""
        report = services().reviews.validate(current_actor(), report_id)
        return services().reviews.view(report), 200, {"ETag": etag(report)}


@blp.route("/<report_id>/sightings")
class Sightings(MethodView):
    @blp.doc(operationId="getReportSightings")
    @blp.response(200, SightingsSchema, example=examples.SIGHTINGS)
    def get(self, report_id: str):
        """Where and when the item was checked before the report was registered (the checks of the
        last 180 days that match it), for the reporting agency."""
        return services().reports.sightings_of(current_actor(), report_id)
