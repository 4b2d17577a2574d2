"""Wire formats of /v1/bulk-checks and /v1/checks/bulk."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.api.schemas.checks import COMPLETE_DOC, UNANSWERED_DOC, VERDICT_DOC, MatchSchema
from registry.api.schemas.common import PageSchema
from registry.vocabulary import JOB_STATUSES, VERDICTS

INCOMPLETE_DOC = "Rows checked while an external registry did not answer (their `complete` is false)"


class BulkJobSchema(Schema):
    """A bulk check: its progress and counts so far."""

    id = fields.String()
    status = fields.String(validate=validate.OneOf(JOB_STATUSES), metadata={
        "description": "`stalled`: running, but its worker stopped renewing its lease; another resumes it"})
    created_at = fields.String(metadata={"format": "date-time"})
    started_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    finished_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    format = fields.String(metadata={"description": "csv, ndjson, json or xlsx, as read"})
    filename = fields.String(allow_none=True)
    rows_total = fields.Integer()
    rows_done = fields.Integer()
    hits = fields.Integer()
    possible_matches = fields.Integer(metadata={"description": "Rows with an alarm short of a hit"})
    similar_serials = fields.Integer(metadata={"description": "Rows with similar serials only: no alarm"})
    no_matches = fields.Integer()
    errors = fields.Integer(metadata={"description": "Rows that could not be checked (see each row's error)"})
    incomplete_rows = fields.Integer(metadata={"description": INCOMPLETE_DOC})
    eta_seconds = fields.Float(allow_none=True,
                               metadata={"description": "While running: seconds left at the current rate"})
    error = fields.String(allow_none=True, metadata={"description": "Why the job failed"})


class BulkJobPageSchema(PageSchema):
    items = fields.List(fields.Nested(BulkJobSchema))


class BulkRowResultSchema(Schema):
    """The answer for one uploaded row."""

    row = fields.Integer(metadata={"description": "Line of the row in the file (CSV counts the header as 1)"})
    input = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "The row as uploaded"})
    verdict = fields.String(allow_none=True, validate=validate.OneOf(VERDICTS), metadata={"description": VERDICT_DOC})
    match = fields.Nested(MatchSchema, allow_none=True,
                          metadata={"description": "The best match (its tier says whether it is an alarm)"})
    matches = fields.Integer(metadata={"description": "How many reports matched"})
    similar_serials = fields.Integer(metadata={"description": "How many of them are similar serials, not alarms"})
    notes = fields.List(fields.String(), metadata={"description": "What the reading let the check look for"})
    complete = fields.Boolean(allow_none=True, metadata={"description": COMPLETE_DOC})
    unanswered_sources = fields.List(fields.String(), metadata={"description": UNANSWERED_DOC})
    error = fields.String(allow_none=True, metadata={"description": "Why the row could not be checked"})


class BulkCheckResultSchema(Schema):
    """Every row of a small file, answered at once."""

    rows_total = fields.Integer()
    hits = fields.Integer()
    possible_matches = fields.Integer()
    similar_serials = fields.Integer()
    no_matches = fields.Integer()
    errors = fields.Integer()
    incomplete_rows = fields.Integer(metadata={"description": INCOMPLETE_DOC})
    results = fields.List(fields.Nested(BulkRowResultSchema))
