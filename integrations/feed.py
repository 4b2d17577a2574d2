"""Pulling a published list of stolen equipment into the local registry.

A feed is a CSV or NDJSON file of reports (the ``irontrace import`` formats)
published over HTTP.  Each pull sends the ETag and Last-Modified of the last
one (a ``304`` means nothing to do), upserts every row through
``ReportService.import_rows`` (idempotent on agency and case number) with
``source`` set to the feed's name, and withdraws the feed's reports that are
no longer in it: their status becomes ``cancelled``, so they stay on record
(and as information in checks) but never make a hit again; a withdrawn report
that reappears in the feed is restored by the next pull.

A feed that yields no rows at all withdraws nothing: an empty answer is far
more likely a publishing fault than every item recovered at once.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

import requests

from integrations.config import FeedConfig
from integrations.http import send
from registry.report_files import read_reports
from registry.access import ADMIN, Actor
from registry.services import ImportSummary, ReportService, RowError
from registry.storage.base import Document, ReportFilter, agency_key

FEED_TIMEOUT_SECONDS = 60.0  # a whole published list, not a check: no border officer waits on it
NOT_MODIFIED = 304
WITHDRAWN_STATUS = "cancelled"
LIST_PAGE_SIZE = 500


@dataclass
class FeedResult:
    """What one pull did."""

    name: str
    modified: bool
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    withdrawn: int = 0
    rejected: list[RowError] = field(default_factory=list)


class FeedState:
    """ETag and Last-Modified of each feed's last pull, in a small JSON file.

    Losing it costs one full pull, which changes nothing: imports are idempotent.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def get(self, name: str) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text()).get(name, {})
        except (OSError, ValueError):
            return {}

    def put(self, name: str, validators: dict[str, str]) -> None:
        try:
            everything = json.loads(self.path.read_text())
        except (OSError, ValueError):
            everything = {}
        everything[name] = validators
        partial = self.path.with_suffix(".tmp")
        partial.write_text(json.dumps(everything, indent=2))
        os.replace(partial, self.path)  # atomic: a crash leaves the old state or the new, never half


def pull_feed(feed: FeedConfig, reports: ReportService, state: FeedState,
              session: requests.Session | None = None) -> FeedResult:
    """One pull: conditional GET, upsert the rows marked with the feed's name, withdraw what left it.

    ``SourceError`` (from ``integrations.base``) when the feed cannot be fetched.
    """
    known = state.get(feed.name)
    headers = {name: value for name, value in (
        ("If-None-Match", known.get("etag")),
        ("If-Modified-Since", known.get("last_modified")),
        (feed.auth_header, feed.credential),
    ) if name and value}
    response = send(session or requests.Session(), "GET", feed.url, headers, FEED_TIMEOUT_SECONDS,
                    expected=(200, NOT_MODIFIED))
    if response.status_code == NOT_MODIFIED:
        return FeedResult(feed.name, modified=False)
    present: set[tuple[str, str]] = set()
    rows = _marked(read_reports(io.BytesIO(response.content), feed.format), feed.name, present)
    summary = reports.import_rows(rows)
    result = _result(feed.name, summary)
    if present:
        result.withdrawn = withdraw_missing(reports, feed.name, present)
    reports.record_import(feed_actor(feed.name), feed.url, summary, withdrawn=result.withdrawn)
    validators = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    state.put(feed.name, {k: v for k, v in validators.items() if v})
    return result


def feed_actor(name: str) -> Actor:
    """A feed writes the registry on its own authority, configured by the operator."""
    return Actor(principal=f"feed:{name}", role=ADMIN)


def withdraw_missing(reports: ReportService, source: str, present: set[tuple[str, str]]) -> int:
    """Cancel the reports from ``source`` whose (agency, case number) is not ``present``; how many."""
    gone = [
        report | {"status": WITHDRAWN_STATUS}  # an import ignores the server's fields
        for report in _reports_from(reports, source)
        if report["status"] != WITHDRAWN_STATUS and (agency_key(report), report["external_ref"]) not in present
    ]
    if not gone:
        return 0
    return reports.import_rows(enumerate(gone, start=1)).updated


def _reports_from(reports: ReportService, source: str) -> Iterator[Document]:
    cursor = None
    while True:
        page = reports.list(ReportFilter(source=source), LIST_PAGE_SIZE, cursor, feed_actor(source))
        yield from page.items
        cursor = page.next_cursor
        if cursor is None:
            return


def _marked(rows: Iterable[tuple[int, Any]], source: str, present: set[tuple[str, str]]) -> Iterator[tuple[int, Any]]:
    """Rows with ``source`` set, noting each (agency, case number) seen, valid or not:
    a row rejected for a typo must not withdraw the report it stands for."""
    for number, data in rows:
        if isinstance(data, dict):
            data = {**data, "source": source}
            agency = data.get("reporting_agency")
            if isinstance(agency, dict) and isinstance(agency.get("name"), str) and data.get("external_ref"):
                present.add((agency_key(data), str(data["external_ref"])))
        yield number, data


def _result(name: str, summary: ImportSummary) -> FeedResult:
    return FeedResult(name, True, summary.created, summary.updated, summary.unchanged, rejected=summary.rejected)
