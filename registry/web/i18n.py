"""How pages word the registry's vocabulary, dates and numbers in the reader's language
(the choice of language itself: ``registry.languages``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from flask_babel import format_date, format_datetime, format_decimal
from flask_babel import lazy_gettext as _l

from registry.languages import LANGUAGES, language

# How the registry's words read on a page (the API and files keep the words themselves).
LABELS: dict[str, Any] = {
    # verdicts
    "hit": _l("Hit: reported stolen or missing"),
    "possible_match": _l("Possible match: check the plate again"),
    "similar_serials": _l("Similar serials: no alarm"),
    "no_match": _l("No match"),
    # tiers of a match
    "alarm": _l("Strong evidence"), "similar": _l("Similar serial"),
    # report statuses (and job statuses)
    "stolen": _l("Stolen"), "missing": _l("Missing"), "recovered": _l("Recovered"), "cancelled": _l("Cancelled"),
    "queued": _l("Queued"), "running": _l("Running"), "done": _l("Done"), "failed": _l("Failed"),
    # categories
    "excavator": _l("Excavator"), "haul_truck": _l("Haul truck"), "truck": _l("Truck"), "loader": _l("Loader"),
    "dozer": _l("Dozer"), "grader": _l("Grader"), "drill_rig": _l("Drill rig"), "crusher": _l("Crusher"),
    "generator": _l("Generator"), "compressor": _l("Compressor"), "attachment": _l("Attachment"),
    "other": _l("Other"),
    # identifier types
    "pin": _l("PIN"), "vin": _l("VIN"), "serial": _l("Serial number"), "engine": _l("Engine number"),
    "component": _l("Component"), "telematics": _l("Telematics"),
    # roles
    "admin": _l("Administrator"), "agency": _l("Agency"), "border": _l("Border post"), "dealer": _l("Dealer"),
    "auditor": _l("Auditor"),
    # how an external registry did
    "ok": _l("answered"), "timeout": _l("did not answer in time"), "error": _l("failed"),
    "unavailable": _l("unavailable"), "skipped": _l("not asked"),
    # accounts and keys
    "active": _l("Active"), "disabled": _l("Disabled"), "locked": _l("Locked"), "expired": _l("Expired"),
    "revoked": _l("Revoked"),
    # confirmation requests
    "urgent": _l("Urgent (10 minutes)"), "routine": _l("Routine (1 hour)"), "open": _l("Awaiting an answer"),
    "overdue": _l("Overdue"), "confirmed": _l("Confirmed: the item is wanted"),
    "not_confirmed": _l("Not confirmed"), "record_outdated": _l("Record outdated"),
}


def label(word: str | None) -> str:
    """A word of the vocabulary as a page shows it, in the reader's language."""
    if word is None:
        return ""
    found = LABELS.get(word)
    return str(found) if found is not None else word


def when(value: str | None) -> str:
    """A stored timestamp (UTC ISO 8601) in the reader's locale."""
    if not value:
        return ""
    return format_datetime(dt.datetime.fromisoformat(value), "medium")


def day(value: str | None) -> str:
    """A stored date (ISO 8601) in the reader's locale."""
    if not value:
        return ""
    try:
        return format_date(dt.date.fromisoformat(value), "medium")
    except ValueError:
        return value


def number(value: float | None) -> str:
    return "" if value is None else format_decimal(value)


def configure(app: Flask) -> None:
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters.update(label=label, when=when, day=day, number=number)
    app.jinja_env.globals.update(LANGUAGES=LANGUAGES, language=language)
