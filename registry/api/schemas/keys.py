"""Wire formats of /v1/keys."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.validation import text_field
from registry.vocabulary import KEY_STATES, ROLES


class KeyCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    agency = text_field(metadata={"description": "For agency keys: the reporting agency's name, as in its reports"})
    expires = fields.String(metadata={"description": "ISO 8601 date (00:00 UTC) or date-time after which "
                                                     "the key stops working"})
    label = text_field(200)


class KeySchema(Schema):
    key_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    agency = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    revoked_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    state = fields.String(validate=validate.OneOf(KEY_STATES))


class KeyCreatedSchema(KeySchema):
    key = fields.String(metadata={"description": "The API key. Shown this once; only its digest is stored."})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema))
