"""Wire formats of the v1 API, as marshmallow schemas.

The same schemas validate HTTP bodies and imported files, and generate the
OpenAPI document.  Stored reports are plain JSON documents: dates stay ISO
strings end to end, so what is stored is exactly what is served.
"""

from __future__ import annotations

import datetime as dt

import pycountry
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from registry.access import ROLES
from registry.audit import AUDIT_ACTIONS
from registry.stamps import iso
from registry.storage.jobs import ACTIVE_STATUSES, FINAL_STATUSES
from search.normalize import normalize
from search.vocabulary import MATCH_TYPES, READING_SOURCES, TIERS, TYPED, VERDICTS

STATUSES = ("stolen", "missing", "recovered", "cancelled")
CATEGORIES = (
    "excavator", "haul_truck", "truck", "loader", "dozer", "grader", "drill_rig",
    "crusher", "generator", "compressor", "attachment", "other",
)
IDENTIFIER_TYPES = ("pin", "vin", "serial", "engine", "component", "telematics", "other")
SOURCE_STATUSES = ("ok", "timeout", "error", "unavailable", "skipped")

MAX_IDENTIFIER_LENGTH = 64
MAX_IDENTIFIERS = 20
MAX_TEXT_LENGTH = 4000
EARLIEST_YEAR = 1900


class IsoDate(fields.String):
    """A calendar date kept as its ISO 8601 string (``2025-11-14``)."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"format": "date", **kwargs.pop("metadata", {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            day = dt.date.fromisoformat(text)
        except ValueError as exc:
            raise ValidationError("Not a valid date (YYYY-MM-DD).") from exc
        if day > dt.date.today() + dt.timedelta(days=1):
            raise ValidationError("Date is in the future.")
        return day.isoformat()


class CountryCode(fields.String):
    """ISO 3166-1 alpha-2 country code, upper case."""

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ValidationError("Not an ISO 3166-1 alpha-2 country code.")
        return code


class CurrencyCode(fields.String):
    """ISO 4217 currency code, upper case."""

    def _deserialize(self, value, attr, data, **kwargs):
        code = super()._deserialize(value, attr, data, **kwargs).strip().upper()
        if len(code) != 3 or pycountry.currencies.get(alpha_3=code) is None:
            raise ValidationError("Not an ISO 4217 currency code.")
        return code


def _text(max_length: int = 200, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class IdentifierSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(IDENTIFIER_TYPES))
    value = fields.String(required=True, validate=validate.Length(min=1, max=MAX_IDENTIFIER_LENGTH))
    location = _text()

    @validates("value")
    def _has_characters(self, value: str, **_) -> None:
        if not normalize(value):
            raise ValidationError("Identifier has no letters or digits.")


class IncidentSchema(Schema):
    date = IsoDate()
    country = CountryCode(required=True)
    region = _text()
    place = _text()
    circumstances = _text(MAX_TEXT_LENGTH)


class ValueSchema(Schema):
    amount = fields.Float(required=True, validate=validate.Range(min=0), allow_nan=False)
    currency = CurrencyCode(required=True)


class AgencySchema(Schema):
    name = _text(required=True)
    country = CountryCode()
    contact = _text()


class ReportInputSchema(Schema):
    """What an agency submits for one missing item."""

    external_ref = _text(100, required=True, metadata={"description": "Agency case number"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    manufacturer = _text()
    model = _text()
    year = fields.Integer(validate=validate.Range(min=EARLIEST_YEAR, max=dt.date.today().year + 1))
    color = _text(60)
    identifiers = fields.List(
        fields.Nested(IdentifierSchema), load_default=list, validate=validate.Length(max=MAX_IDENTIFIERS)
    )
    description = _text(MAX_TEXT_LENGTH)
    distinguishing_marks = _text(MAX_TEXT_LENGTH)
    incident = fields.Nested(IncidentSchema, required=True)
    value = fields.Nested(ValueSchema)
    reporting_agency = fields.Nested(AgencySchema, required=True)
    source = _text(100, metadata={"description": "The feed this report was imported from; set by feed imports"})

    @validates_schema
    def _identifiable(self, data: dict, partial=None, **_) -> None:
        if partial:
            return
        identifiers = data.get("identifiers") or []
        if not identifiers and not data.get("description"):
            raise ValidationError("A report needs at least one identifier or a description.", "identifiers")
        seen = set()
        for item in identifiers:
            key = (item["type"], normalize(item["value"]))
            if key in seen:
                raise ValidationError(f"Duplicate identifier {item['value']!r}.", "identifiers")
            seen.add(key)


class ReportSchema(ReportInputSchema):
    """A stored report, with the fields the server sets."""

    id = fields.String(dump_only=True)
    version = fields.Integer(dump_only=True)
    created_at = fields.String(dump_only=True, metadata={"format": "date-time"})
    updated_at = fields.String(dump_only=True, metadata={"format": "date-time"})


class ReportPatchSchema(ReportInputSchema):
    """A JSON merge patch (RFC 7396) of a report: send only what changes.

    Nulls remove optional fields; the merged report is then validated in full.
    """

    def __init__(self, **kwargs):
        super().__init__(partial=True, **kwargs)


class ReportListArgsSchema(Schema):
    status = fields.String(validate=validate.OneOf(STATUSES))
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    manufacturer = _text()
    country = CountryCode()
    q = _text(500, metadata={"description": "Full-text search in descriptions"})
    source = _text(100, metadata={"description": "Reports imported from this feed"})
    limit = fields.Integer(validate=validate.Range(min=1, max=500), load_default=50)
    cursor = fields.String(metadata={"description": "next_cursor of the previous page"})


class ReportPageSchema(Schema):
    items = fields.List(fields.Nested(ReportSchema))
    next_cursor = fields.String(allow_none=True)


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
READING_SOURCE_DOC = (
    "How the identifier was obtained: `typed` by an officer (default for a single check), `copied` "
    "from a file or system (default for bulk checks: typos are rare there, so a typo counts less), "
    "or read by `ocr` (look-alike confusions are common there)"
)


class CheckRequestSchema(Schema):
    identifier = fields.String(validate=validate.Length(min=1, max=MAX_IDENTIFIER_LENGTH))
    manufacturer = _text()
    model = _text(metadata={"description": "Model as read or known; agreement with a report strengthens a worn tail"})
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    description = _text(MAX_TEXT_LENGTH)
    reading_source = fields.String(validate=validate.OneOf(READING_SOURCES),
                                   metadata={"description": READING_SOURCE_DOC, "default": TYPED})

    @validates_schema
    def _something_to_check(self, data: dict, **_) -> None:
        if not data.get("identifier") and not data.get("description"):
            raise ValidationError("Give an identifier, a description, or both.", "identifier")
        if data.get("identifier") is not None and not normalize(data["identifier"]):
            raise ValidationError("Identifier has no letters or digits.", "identifier")


class MatchedIdentifierSchema(Schema):
    type = fields.String()
    value = fields.String()


class MatchAgencySchema(Schema):
    name = fields.String()
    country = fields.String()
    contact = fields.String()


class MatchSchema(Schema):
    """A matched report.  Dealers see only ``external_ref``, ``active``, ``reporting_agency``,
    ``source`` and, for an external record, ``reference``."""

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
    circuit = fields.String(validate=validate.OneOf(("closed", "open", "half_open")))
    detail = fields.String()


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


class Instant(fields.AwareDateTime):
    """A moment in time given in ISO 8601 (UTC if no offset), loaded as the stored form:
    UTC with milliseconds and ``Z``, so it compares with stored timestamps as a string."""

    def __init__(self, **kwargs) -> None:
        super().__init__(format="iso", default_timezone=dt.timezone.utc, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs) -> str:
        return iso(super()._deserialize(value, attr, data, **kwargs))


class KeyCreateSchema(Schema):
    role = fields.String(required=True, validate=validate.OneOf(ROLES))
    agency = _text(metadata={"description": "For agency keys: the reporting agency's name, as in its reports"})
    expires = fields.String(metadata={"description": "ISO 8601 date (00:00 UTC) or date-time after which "
                                                     "the key stops working"})
    label = _text(200)


class KeySchema(Schema):
    key_id = fields.String()
    role = fields.String(validate=validate.OneOf(ROLES))
    agency = fields.String(allow_none=True)
    label = fields.String(allow_none=True)
    created_at = fields.String(metadata={"format": "date-time"})
    expires_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    revoked_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    state = fields.String(validate=validate.OneOf(("active", "expired", "revoked")))


class KeyCreatedSchema(KeySchema):
    key = fields.String(metadata={"description": "The API key. Shown this once; only its digest is stored."})


class KeyListSchema(Schema):
    items = fields.List(fields.Nested(KeySchema))


class AuditArgsSchema(Schema):
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    principal = _text(200, metadata={"description": "A key id, or cli:<user> for the command line"})
    subject = _text(200, metadata={"description": "A report id, check id or key id"})
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
    at = fields.String(metadata={"format": "date-time"})
    action = fields.String(validate=validate.OneOf(AUDIT_ACTIONS))
    actor = fields.Nested(AuditActorSchema)
    subject = fields.String(allow_none=True)
    details = fields.Dict()
    prev_hash = fields.String()
    hash = fields.String()


class AuditPageSchema(Schema):
    items = fields.List(fields.Nested(AuditEntrySchema))
    next_cursor = fields.String(allow_none=True)


class ChainReportSchema(Schema):
    intact = fields.Boolean()
    entries = fields.Integer()
    head_seq = fields.Integer()
    head_hash = fields.String()
    broken_at = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


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


BULK_STATUSES = ACTIVE_STATUSES + FINAL_STATUSES


class BulkJobSchema(Schema):
    """A bulk check: its progress and counts so far."""

    id = fields.String()
    status = fields.String(validate=validate.OneOf(BULK_STATUSES))
    created_at = fields.String(metadata={"format": "date-time"})
    started_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    finished_at = fields.String(allow_none=True, metadata={"format": "date-time"})
    format = fields.String(metadata={"description": "csv, ndjson or json, as read"})
    filename = fields.String(allow_none=True)
    rows_total = fields.Integer()
    rows_done = fields.Integer()
    hits = fields.Integer()
    possible_matches = fields.Integer(metadata={"description": "Rows with an alarm short of a hit"})
    similar_serials = fields.Integer(metadata={"description": "Rows with similar serials only: no alarm"})
    no_matches = fields.Integer()
    errors = fields.Integer(metadata={"description": "Rows that could not be checked (see each row's error)"})
    eta_seconds = fields.Float(allow_none=True, metadata={"description": "While running: seconds left at the current rate"})
    error = fields.String(allow_none=True, metadata={"description": "Why the job failed"})


class BulkRowResultSchema(Schema):
    """The answer for one uploaded row."""

    row = fields.Integer(metadata={"description": "Line of the row in the file (CSV counts the header as 1)"})
    input = fields.Dict(keys=fields.String(), values=fields.String(), metadata={"description": "The row as uploaded"})
    verdict = fields.String(allow_none=True, validate=validate.OneOf(VERDICTS), metadata={"description": VERDICT_DOC})
    match = fields.Nested(MatchSchema, allow_none=True, metadata={"description": "The best match (its tier says "
                                                                                "whether it is an alarm)"})
    matches = fields.Integer(metadata={"description": "How many reports matched"})
    similar_serials = fields.Integer(metadata={"description": "How many of them are similar serials, not alarms"})
    error = fields.String(allow_none=True, metadata={"description": "Why the row could not be checked"})


class BulkCheckResultSchema(Schema):
    """Every row of a small file, answered at once."""

    rows_total = fields.Integer()
    hits = fields.Integer()
    possible_matches = fields.Integer()
    similar_serials = fields.Integer()
    no_matches = fields.Integer()
    errors = fields.Integer()
    results = fields.List(fields.Nested(BulkRowResultSchema))
