"""Wire formats of /v1/checks and /v1/sources."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from registry.validation import CheckRequestSchema, IncidentSchema, RecoverySchema, ValueSchema
from registry.vocabulary import CIRCUIT_STATES, MATCH_TYPES, SOURCE_STATUSES, STATUSES, TIERS, VERDICTS

__all__ = ["CheckRequestSchema", "CheckResultSchema", "MatchSchema", "SourceHealthSchema", "COMPLETE_DOC",
           "UNANSWERED_DOC", "VERDICT_DOC"]

COMPLETE_DOC = ("False when a configured external registry failed, timed out or was unavailable: the answer then "
                "covers less than it should (`unanswered_sources` names them)")
UNANSWERED_DOC = "External registries that did not answer this check"
VERDICT_DOC = (
    "What to do. `hit`: the identifier is registered as stolen or missing (case, separators and "
    "look-alike letters aside): stop the item and call the reporting agency. `possible_match`: strong "
    "evidence that this is a reported machine with its plate misread (look-alike characters only, a "
    "selective tail, a missing maker code): stop and confirm with the agency before acting. "
    "`similar_serials`: no alarm; reported machines have serials close to this one (a typo apart, or "
    "the same short tail), which in a numbered series is as likely a neighbouring machine: the list "
    "is for reference; re-read the plate if in doubt. `no_match`: nothing reported resembles it "
    "(recovered and cancelled reports may still be listed, as information)."
)
TIER_DOC = (
    "`alarm`: strong evidence that the item is this report's machine (the check's verdict is then "
    "`hit` or `possible_match`); `similar`: a similar serial, as likely another machine of the same "
    "series: listed for reference, never an alarm"
)


class MatchedIdentifierSchema(Schema):
    type = fields.String()
    value = fields.String()


class MatchAgencySchema(Schema):
    name = fields.String()
    country = fields.String()
    contact = fields.String()


class MatchSchema(Schema):
    """A matched report.  Dealers see only ``external_ref``, ``status``, ``active``, ``match_type``, ``tier``,
    ``reporting_agency``, ``source`` and, for an external record, ``reference``."""

    report_id = fields.String(allow_none=True, metadata={"description": "Null for a record of an external source"})
    external_ref = fields.String()
    status = fields.String(validate=validate.OneOf(STATUSES))
    active = fields.Boolean(metadata={"description": "False for recovered or cancelled reports: information only"})
    identifier = fields.Nested(MatchedIdentifierSchema, allow_none=True)
    score = fields.Float(metadata={"description": "0..1; every alarm scores above every similar serial"})
    match_type = fields.String(validate=validate.OneOf(MATCH_TYPES))
    tier = fields.String(validate=validate.OneOf(TIERS), metadata={"description": TIER_DOC})
    explanation = fields.String(metadata={"description": "What differs, and why that is strong or weak evidence"})
    category = fields.String()
    manufacturer = fields.String(allow_none=True)
    model = fields.String(allow_none=True)
    year = fields.Integer(allow_none=True)
    color = fields.String(allow_none=True)
    description = fields.String(allow_none=True)
    incident = fields.Nested(IncidentSchema)
    value = fields.Nested(ValueSchema, allow_none=True)
    reporting_agency = fields.Nested(MatchAgencySchema)
    source = fields.String(metadata={"description": "'local' for this registry, else the external source's name"})
    reference = fields.String(
        allow_none=True, metadata={"description": "External sources: link or reference number for follow-up"}
    )
    review_due = fields.Boolean(allow_none=True, metadata={
        "description": "The report is past its review date unvalidated: the agency has not said for a year "
                       "(REPORT_REVIEW_MONTHS) that it is current; null for an external record"})
    recovery = fields.Nested(RecoverySchema, allow_none=True, metadata={
        "description": "A recovered report: when, where and by whom the item was recovered"})


class SourceStatusSchema(Schema):
    name = fields.String()
    status = fields.String(validate=validate.OneOf(SOURCE_STATUSES))
    elapsed_ms = fields.Integer(metadata={"description": "How long the source took (its deadline on timeout)"})
    matches = fields.Integer(metadata={"description": "Records it returned"})
    cached = fields.Boolean(metadata={"description": "Answered from the short cache of external answers"})
    detail = fields.String(metadata={"description": "Why the source gave no usable answer"})


class SourceHealthSchema(Schema):
    name = fields.String()
    status = fields.String(validate=validate.OneOf(SOURCE_STATUSES))
    circuit = fields.String(validate=validate.OneOf(CIRCUIT_STATES))
    detail = fields.String()


class ReplicaNoteSchema(Schema):
    """How current the replica that answered was."""

    centre = fields.String(metadata={"description": "The registry the replica copies"})
    registry_as_of = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "When the replica last held every change of the centre"})
    stale = fields.Boolean(metadata={"description": "Older than IRONTRACE_REPLICA_STALE_MINUTES"})
    warning = fields.String(allow_none=True)


class CheckResultSchema(Schema):
    check_id = fields.String()
    checked_at = fields.String(metadata={"format": "date-time"})
    verdict = fields.String(validate=validate.OneOf(VERDICTS), metadata={"description": VERDICT_DOC})
    matches = fields.List(fields.Nested(MatchSchema), metadata={
        "description": "Best first: active reports, then by score, so alarms before similar serials"})
    hit_sources = fields.List(
        fields.String(), metadata={"description": "Where the hit came from: 'local' and/or external source names"}
    )
    sources = fields.List(
        fields.Nested(SourceStatusSchema), metadata={"description": "Every configured external source, and how it did"}
    )
    complete = fields.Boolean(metadata={"description": COMPLETE_DOC})
    unanswered_sources = fields.List(fields.String(), metadata={"description": UNANSWERED_DOC})
    notes = fields.List(fields.String(), metadata={
        "description": "What the reading let the check look for, e.g. that one too short was matched only exactly"})
    registry_as_of = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "Answers of a replica only: how current its copy was"})
    replica = fields.Nested(ReplicaNoteSchema, metadata={"description": "Answers of a replica only"})
