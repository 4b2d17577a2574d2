"""Wire formats of acting on a hit: /v1/checks/{id}/confirmations, /v1/confirmations, /v1/webhooks and
/v1/reports/{id}/sightings."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.api.schemas.common import PageArgsSchema, PageSchema
from registry.validation import text_field
from registry.vocabulary import (
    CONFIRMATION_OUTCOMES,
    CONFIRMATION_STATUSES,
    DELIVERY_STATUSES,
    PRIORITIES,
    ROLES,
    VERDICTS,
    WEBHOOK_EVENTS,
)


class ConfirmationRequestSchema(Schema):
    report_id = fields.String(metadata={"description": "A report the check matched (or name it by external_ref)"})
    external_ref = fields.String(metadata={"description": "The case number of a report the check matched (for "
                                                          "dealers, who are shown no report ids)"})
    priority = fields.String(required=True, validate=validate.OneOf(PRIORITIES),
                             metadata={"description": "urgent: due in 10 minutes; routine: in an hour (configurable)"})
    location = text_field(500, required=True, metadata={"description": "Where the item is now"})
    note = text_field(2000)


class PartySchema(Schema):
    principal = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    agency = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class AnswerSchema(Schema):
    outcome = fields.String(required=True, validate=validate.OneOf(CONFIRMATION_OUTCOMES),
                            metadata={"description": "confirmed: the record is current and the item is wanted"})
    reason = text_field(2000, metadata={"description": "Required for not_confirmed"})


class GivenAnswerSchema(AnswerSchema):
    answered_at = fields.String(metadata={"format": "date-time"})
    answered_by = fields.Nested(PartySchema)


class ConfirmationSchema(Schema):
    id = fields.String()
    check_id = fields.String()
    report_id = fields.String(metadata={"description": "Not shown to dealers"})
    external_ref = fields.String(metadata={"description": "The report's case number"})
    agency = fields.String(metadata={"description": "The owning agency, which answers"})
    checker = fields.Nested(PartySchema, metadata={"description": "Who asked (the checker)"})
    priority = fields.String(validate=validate.OneOf(PRIORITIES))
    location = fields.String()
    note = fields.String(allow_none=True)
    status = fields.String(validate=validate.OneOf(CONFIRMATION_STATUSES),
                           metadata={"description": "open until answered; overdue once past due_at unanswered"})
    requested_at = fields.String(metadata={"format": "date-time"})
    due_at = fields.String(metadata={"format": "date-time"})
    answer = fields.Nested(GivenAnswerSchema, allow_none=True)


class ConfirmationListArgsSchema(PageArgsSchema):
    status = fields.String(validate=validate.OneOf(CONFIRMATION_STATUSES))


class ConfirmationPageSchema(PageSchema):
    items = fields.List(fields.Nested(ConfirmationSchema))


class WebhookCreateSchema(Schema):
    url = text_field(2000, required=True, metadata={"description": "http or https URL that receives the events"})
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)), required=True,
                         validate=validate.Length(min=1))
    secret = fields.String(metadata={"description": "Standard Webhooks secret (whsec_ + base64 of 24+ bytes); "
                                                    "left out, one is made and shown once"})


class WebhookSchema(Schema):
    id = fields.String()
    url = fields.String()
    events = fields.List(fields.String(validate=validate.OneOf(WEBHOOK_EVENTS)))
    owner = fields.Nested(PartySchema)
    created_at = fields.String(metadata={"format": "date-time"})
    deleted_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class WebhookCreatedSchema(WebhookSchema):
    secret = fields.String(metadata={"description": "The signing secret. Shown this once."})


class WebhookListSchema(Schema):
    items = fields.List(fields.Nested(WebhookSchema))


class DeliverySchema(Schema):
    id = fields.String(metadata={"description": "The webhook-id of every attempt: the same on retries"})
    webhook_id = fields.String()
    type = fields.String(validate=validate.OneOf(WEBHOOK_EVENTS))
    body = fields.String(metadata={"description": "The JSON body sent and signed"})
    status = fields.String(validate=validate.OneOf(DELIVERY_STATUSES))
    attempts = fields.Integer()
    created_at = fields.String(metadata={"format": "date-time"})
    last_attempt_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    last_response = fields.String(allow_none=True, metadata={"description": "HTTP status, or why there was none"})
    delivered_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    next_attempt_at = fields.String(allow_none=True, metadata={"format": "date-time"})


class DeliveryPageSchema(PageSchema):
    items = fields.List(fields.Nested(DeliverySchema))


class SightingCheckerSchema(Schema):
    role = fields.String(validate=validate.OneOf(ROLES))
    agency = fields.String(allow_none=True)


class SightingSchema(Schema):
    check_id = fields.String()
    checked_at = fields.String(metadata={"format": "date-time"})
    reading = fields.String(metadata={"description": "What was read off the plate"})
    verdict_now = fields.String(validate=validate.OneOf(VERDICTS),
                                metadata={"description": "What that check would answer now"})
    match_type = fields.String()
    score = fields.Float()
    checker = fields.Nested(SightingCheckerSchema)


class SightingsSchema(Schema):
    report_id = fields.String()
    found_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    sightings = fields.List(fields.Nested(SightingSchema))
