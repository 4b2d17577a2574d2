"""Wire formats of /v1/audit."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.api.schemas.common import Instant, PageSchema
from registry.validation import text_field
from registry.vocabulary import AUDIT_ACTIONS


class AuditArgsSchema(Schema):
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    principal = text_field(200, metadata={"description": "A key id, or cli:<user> for the command line"})
    subject = text_field(200, metadata={"description": "A report id, check id or key id"})
    since = Instant(metadata={"description": "Entries at or after this moment"})
    until = Instant(metadata={"description": "Entries before this moment"})


class AuditPageArgsSchema(AuditArgsSchema):
    limit = fields.Integer(validate=validate.Range(min=1, max=500), load_default=100)
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class AuditActorSchema(Schema):
    principal = fields.String()
    role = fields.String()
    agency = fields.String(allow_none=True)
    address = fields.String(allow_none=True)


class AuditEntrySchema(Schema):
    seq = fields.Integer()
    corrupt = fields.String(metadata={"description": "Only on an entry that cannot be read back: what is wrong "
                                                     "with it (the other fields are then absent)"})
    at = fields.String(metadata={"format": "date-time"})
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    actor = fields.Nested(AuditActorSchema)
    subject = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(PageSchema):
    items = fields.List(fields.Nested(AuditEntrySchema))


ANCHOR_PATTERN = r"^[0-9]{1,18}:[0-9a-f]{64}$"


class AuditVerifyArgsSchema(Schema):
    anchor = fields.String(validate=validate.Regexp(ANCHOR_PATTERN, error="Expected SEQ:HASH as printed by "
                                                                            "`irontrace audit verify`."),
                           metadata={"description": "A head recorded earlier (SEQ:HASH): also prove it is still "
                                                    "in the log"})


class PublishedHeadSchema(Schema):
    seq = fields.Integer()
    hash = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    restored_from = fields.String(metadata={"description": "Set when a restore published this head: the backup "
                                                           "or snapshot restored"})
    rolled_back_from = fields.Integer(metadata={"description": "A restore's: the newest head published before it, "
                                                               "when the restore rolled the log back past it"})


class ChainReportSchema(Schema):
    intact = fields.Boolean()
    entries = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    broken_at = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)
    published = fields.Nested(PublishedHeadSchema, allow_none=True,
                              metadata={"description": "The newest head published outside the database, "
                                                       "which the log must still hold"})
    pending = fields.Integer(metadata={"description": "Writes whose entry is still to be appended (Elasticsearch: "
                                                      "intents that recovery completes)"})
