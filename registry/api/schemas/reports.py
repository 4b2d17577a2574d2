"""Wire formats of /v1/reports."""

from __future__ import annotations

from marshmallow import fields, validate

from registry.api.schemas.common import PageArgsSchema, PageSchema
from registry.validation import Category, CountryCode, ReportInputSchema, text_field
from registry.vocabulary import STATUSES


class ReportSchema(ReportInputSchema):
    """A stored report, with the fields the server sets."""

    id = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)
    created_at = fields.String(dump_only=True, metadata={"format": "date-time"})
    updated_at = fields.String(dump_only=True, metadata={"format": "date-time"})
    validated_at = fields.String(dump_only=True, metadata={
        "format": "date-time", "description": "When the agency last validated the report (POST .../validation)"})
    review_at = fields.String(dump_only=True, allow_none=True, metadata={
        "format": "date-time",
        "description": "When the report is due for review: REPORT_REVIEW_MONTHS after registration or the last "
                       "validation; null once recovered or cancelled"})
    review_due = fields.Boolean(dump_only=True, metadata={"description": "The review date has passed"})


class ReportPatchSchema(ReportInputSchema):
    """A JSON merge patch (RFC 7396) of a report: send only what changes.

    Nulls remove optional fields; the merged report is then validated in full.
    """

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ReportListArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    category = Category()
    manufacturer = text_field()
    country = CountryCode()
    q = text_field(500, metadata={"description": "Full-text search in descriptions"})
    source = text_field(100, metadata={"description": "Reports imported from this feed"})
    agency = text_field(metadata={"description": "Reports of this reporting agency (case and spacing ignored)"})


class ReportPageSchema(PageSchema):
    items = fields.List(fields.Nested(ReportSchema))
