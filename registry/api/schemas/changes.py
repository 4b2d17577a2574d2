"""Schemas of the change feed and of the checks replicas forward."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.api.schemas.checks import ReplicaNoteSchema
from registry.api.schemas.reports import ReportSchema
from registry.validation import CheckRequestSchema
from registry.vocabulary import VERDICTS

MAX_FORWARDED = 500  # checks one forwarding request carries
ID = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ChangesArgsSchema(Schema):
    after = fields.String(validate=validate.Length(max=200), metadata={
        "description": "`next` of the previous page; without it the feed starts at the beginning"})
    limit = fields.Integer(validate=validate.Range(min=1, max=10000), load_default=1000)


class ChangeSchema(Schema):
    op = fields.String(validate=validate.OneOf(("upsert", "remove")), metadata={
        "description": "upsert: hold this report as it is now; remove: hold it no more (recovered, cancelled, "
                       "or no longer visible to a border post)"})
    report_id = fields.String()
    report = fields.Nested(ReportSchema, metadata={"description": "upserts only"})


class ChangesPageSchema(Schema):
    changes = fields.List(fields.Nested(ChangeSchema), metadata={"description": "In commit order"})
    next = fields.String(metadata={"description": "The cursor to resume from (the same one when nothing was new)"})
    more = fields.Boolean(metadata={"description": "Whether more changes were waiting past this page"})
    as_of = fields.String(metadata={
        "format": "date-time", "description": "When the read began: with `more` false, the reader holds every "
                                              "write committed before it"})


class ForwardedCheckSchema(Schema):
    """A check record as the replica kept it."""

    check_id = ID
    checked_at = fields.String(required=True, validate=validate.Length(max=40), metadata={"format": "date-time"})
    query = fields.Nested(CheckRequestSchema, required=True)
    verdict = fields.String(required=True, validate=validate.OneOf(VERDICTS))
    matched_report_ids = fields.List(fields.String(validate=validate.Length(max=100)), required=True,
                                     validate=validate.Length(max=100))
    hit_sources = fields.List(fields.String(validate=validate.Length(max=100)), load_default=list,
                              validate=validate.Length(max=50))
    checker = fields.Dict(required=True, metadata={"description": "Who checked, at the replica"})
    terms = fields.List(fields.String(validate=validate.Length(max=200)), load_default=list,
                        validate=validate.Length(max=500))
    replica = fields.Nested(ReplicaNoteSchema, load_default=None)


class ForwardedChecksSchema(Schema):
    checks = fields.List(fields.Nested(ForwardedCheckSchema), required=True,
                         validate=validate.Length(max=MAX_FORWARDED))


class ForwardedOutcomeSchema(Schema):
    recorded = fields.List(fields.String(), metadata={"description": "Check ids recorded now"})
    already_recorded = fields.List(fields.String(), metadata={"description": "Check ids the centre held already"})
