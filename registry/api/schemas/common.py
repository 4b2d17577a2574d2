"""Schemas every part of the API shares: problems, health, instants."""

from __future__ import annotations

import datetime as dt

from marshmallow import Schema, fields

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
        return iso(self._moment.deserialize(value, attr, data, **kwargs))


class ProblemSchema(Schema):
    """RFC 9457 problem details."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.List(fields.Dict(), metadata={"description": "Field-level validation errors"})


class HealthSchema(Schema):
    status = fields.String()
    storage = fields.String()
