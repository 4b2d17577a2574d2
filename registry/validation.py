"""What valid input is: a report, and a check request, as marshmallow schemas.

The same schemas validate HTTP bodies (the API's schemas extend them),
imported files, merge-patched reports and the rows of bulk-check files.
Stored reports are plain JSON documents: dates stay ISO strings end to end,
so what is stored is exactly what is served.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pycountry
from marshmallow import Schema, ValidationError, fields, validate, validates, validates_schema

from registry.errors import ValidationFailed, flatten_messages
from registry.records import Report
from registry.vocabulary import CATEGORIES, IDENTIFIER_TYPES, READING_SOURCES, STATUSES, TYPED, canonical_category
from search.normalize import normalize

MAX_IDENTIFIER_LENGTH = 64
MAX_IDENTIFIERS = 20
MAX_TEXT_LENGTH = 4000
EARLIEST_YEAR = 1900
MAX_JSON_DEPTH = 32  # a report nests 3 deep; nothing a client sends needs more
REFUSED_DOCUMENT = "<refused>"  # what a refusal names as its document: never empty, which readers take for "no body"


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


class Category(fields.String):
    """One of the registry's categories, however it is spelt (``Drill rig`` is ``drill_rig``)."""

    def __init__(self, **kwargs):
        super().__init__(validate=validate.OneOf(CATEGORIES), **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        return canonical_category(text) or text  # an unknown name is left for OneOf to name


def text_field(max_length: int = 200, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


def identifier_problem(value: str) -> str | None:
    """Why ``value`` cannot be an identifier once normalized, if it cannot.

    Compatibility characters expand under NFKC (one Arabic ligature becomes
    15 letters), so a value of 64 characters may normalize to hundreds, whose
    lookup keys grow with the square of the length: bounded here, for
    registered identifiers and readings alike, so each still finds the other.
    """
    letters_and_digits = len(normalize(value))
    if not letters_and_digits:
        return "Identifier has no letters or digits."
    if letters_and_digits > MAX_IDENTIFIER_LENGTH:
        return (f"Identifier has {letters_and_digits} letters and digits once normalized (compatibility "
                f"characters such as ligatures expand); at most {MAX_IDENTIFIER_LENGTH}.")
    return None


class IdentifierSchema(Schema):
    type = fields.String(required=True, validate=validate.OneOf(IDENTIFIER_TYPES))
    value = fields.String(required=True, validate=validate.Length(min=1, max=MAX_IDENTIFIER_LENGTH))
    location = text_field()

    @validates("value")
    def _is_an_identifier(self, value: str, **_) -> None:
        if problem := identifier_problem(value):
            raise ValidationError(problem)


class IncidentSchema(Schema):
    date = IsoDate()
    country = CountryCode(required=True)
    region = text_field()
    place = text_field()
    circumstances = text_field(MAX_TEXT_LENGTH)


class ValueSchema(Schema):
    amount = fields.Float(required=True, validate=validate.Range(min=0), allow_nan=False)
    currency = CurrencyCode(required=True)


class AgencySchema(Schema):
    name = text_field(required=True)
    country = CountryCode()
    contact = text_field()


class RecoverySchema(Schema):
    """How a report's item was found: required when the report is marked recovered."""

    date = IsoDate(required=True)
    place = text_field(required=True)
    country = CountryCode(required=True)
    agency = text_field(required=True, metadata={"description": "The agency that recovered the item"})
    note = text_field(MAX_TEXT_LENGTH)


class CancellationSchema(Schema):
    """Why a report was cancelled: required when it is."""

    reason = text_field(MAX_TEXT_LENGTH, required=True)


class ReportInputSchema(Schema):
    """What an agency submits for one missing item."""

    external_ref = text_field(100, required=True, metadata={"description": "Agency case number"})
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    category = Category(required=True)
    manufacturer = text_field()
    model = text_field()
    year = fields.Integer(validate=validate.Range(min=EARLIEST_YEAR, max=dt.date.today().year + 1))
    color = text_field(60)
    identifiers = fields.List(
        fields.Nested(IdentifierSchema), load_default=list, validate=validate.Length(max=MAX_IDENTIFIERS)
    )
    description = text_field(MAX_TEXT_LENGTH)
    distinguishing_marks = text_field(MAX_TEXT_LENGTH)
    incident = fields.Nested(IncidentSchema, required=True)
    value = fields.Nested(ValueSchema)
    reporting_agency = fields.Nested(AgencySchema, required=True)
    source = text_field(100, metadata={"description": "The feed this report was imported from; set by feed imports"})
    recovery = fields.Nested(RecoverySchema, metadata={
        "description": "Required when the status changes to recovered: date, place, country, recovering agency, note"})
    cancellation = fields.Nested(CancellationSchema, metadata={
        "description": "Required when the status changes to cancelled: the reason"})

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


READING_SOURCE_DOC = (
    "How the identifier was obtained: `typed` by an officer (default for a single check), `copied` "
    "from a file or system (default for bulk checks: typos are rare there, so a typo counts less), "
    "or read by `ocr` (look-alike confusions are common there)"
)


class CheckRequestSchema(Schema):
    identifier = fields.String(validate=validate.Length(min=1, max=MAX_IDENTIFIER_LENGTH))
    manufacturer = text_field()
    model = text_field(metadata={"description": "Model as read or known; its agreement with a report strengthens "
                                                "a worn tail"})
    category = Category()
    description = text_field(MAX_TEXT_LENGTH)
    reading_source = fields.String(validate=validate.OneOf(READING_SOURCES),
                                   metadata={"description": READING_SOURCE_DOC, "default": TYPED})

    @validates_schema
    def _something_to_check(self, data: dict, **_) -> None:
        if not data.get("identifier") and not data.get("description"):
            raise ValidationError("Give an identifier, a description, or both.", "identifier")
        if data.get("identifier") is not None and (problem := identifier_problem(data["identifier"])):
            raise ValidationError(problem, "identifier")



_report_schema = ReportInputSchema()


def load_json(text: str | bytes) -> Any:
    """JSON from a client, refused as ``json.JSONDecodeError`` (what every JSON reader here already
    handles) when it nests deeper than ``MAX_JSON_DEPTH``, holds an integer over Python's 4,300
    digits or a string with a lone surrogate (which no storage can encode)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise json.JSONDecodeError("the body is not UTF-8 text", REFUSED_DOCUMENT, 0) from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", REFUSED_DOCUMENT, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer past the digit limit
        raise json.JSONDecodeError("an integer has more than 4,300 digits", REFUSED_DOCUMENT, 0) from None
    check_json_value(value)
    return value


def check_json_value(value: Any) -> None:
    """Walk a parsed value without recursion: depth, and strings UTF-8 can encode (``load_json``'s
    checks, for a reader that decodes JSON piece by piece)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _encodable(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise json.JSONDecodeError(f"nested deeper than {MAX_JSON_DEPTH} levels", REFUSED_DOCUMENT, 0)
        if isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((member, depth + 1) for member in item.values())
        else:
            pending.extend((member, depth + 1) for member in item)


def _encodable(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            detail = f"a string holds a lone surrogate ({text[exc.start]!r})"
            raise json.JSONDecodeError(detail, REFUSED_DOCUMENT, 0) from None


def validate_report(data: Any) -> Report:
    """A report as submitted, validated; ``ValidationFailed`` lists every bad field."""
    try:
        report: Report = _report_schema.load(data)
    except ValidationError as exc:
        raise ValidationFailed(flatten_messages(exc.messages)) from exc
    return report
