"""Schemas every part of the API shares: problems, health, instants, paging."""

from __future__ import annotations

import datetime as dt

from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from registry.stamps import iso


class Instant(fields.String):
    """A moment in time given in ISO 8601 (UTC if no offset), loaded as the stored form:
    UTC with milliseconds and ``Z``, so it compares with stored timestamps as a string.

    A string field that parses with an ``AwareDateTime``: it loads a ``str``, not a ``datetime``.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**{**kwargs, "metadata": {"format": "date-time", **kwargs.get("metadata", {})}})
        self._moment = fields.AwareDateTime(format="iso", default_timezone=dt.UTC)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        moment = self._moment.deserialize(value, attr, data, **kwargs)
        try:
            return iso(moment)
        except OverflowError:  # year 1 east of UTC, or 9999 west of it: no such moment in UTC
            raise ValidationError("Not a moment between the years 1 and 9999 in UTC.") from None


class PageArgsSchema(Schema):
    """The query arguments of every paged list; a list's filters subclass it."""

    limit = fields.Integer(validate=validate.Range(min=1, max=500), load_default=50)
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class PageSchema(Schema):
    """One page of a list; subclasses say what ``items`` holds."""

    next_cursor = fields.String(allow_none=True, metadata={"description": "null on the last page"})


class FieldErrorSchema(Schema):
    field = fields.String(metadata={"description": "Dotted path of the field (`_body` for the body as a whole)"})
    message = fields.String()


class ProblemSchema(Schema):
    """RFC 9457 problem details, with the extension members this service sends; members not
    listed here may be added (RFC 9457 lets clients ignore those they do not know)."""

    class Meta:
        unknown = INCLUDE

    type = fields.String()
    title = fields.String(metadata={"description": "The same for every problem of one status"})
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Nested(FieldErrorSchema), metadata={"description": "422: each invalid field"})
    existing_id = fields.String(metadata={"description": "409: the report that already has this case number"})
    current_version = fields.Integer(metadata={"description": "412: the version stored now"})
    job_status = fields.String(metadata={"description": "409: the status of the bulk check that cannot change"})
    limit = fields.Integer(metadata={"description": "413: the limit exceeded"})
    unit = fields.String(metadata={
        "description": "413: what the limit counts (bytes, rows, columns, characters per line, bytes unpacked)"})
    line = fields.Integer(metadata={"description": "413 for a line too long: the line of the file it starts on"})
    recognized_headers = fields.Dict(metadata={
        "description": "422 for a file without an identifier column: the column names understood, by field"})
    reason = fields.String(metadata={"description": "503 from /readyz: `storage_full` when storage is full"})


class HealthSchema(Schema):
    status = fields.String()
    storage = fields.String()
