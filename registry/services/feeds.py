"""Feeds: published lists of stolen equipment pulled into the registry.

Each pull fetches the feed (``integrations.feed``: a ``304`` means nothing to
do), upserts every row (idempotent on agency and case number) with ``source``
set to the feed's name, and withdraws the feed's reports that are no longer
in it: their status becomes ``cancelled``, so they stay on record (and as
information in checks) but never make a hit again; a withdrawn report that
reappears in the feed is restored by the next pull.

A feed that yields no rows at all withdraws nothing: an empty answer is far
more likely a publishing fault than every item recovered at once.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import requests

from integrations.config import FeedConfig
from integrations.feed import FeedState, fetch_feed
from registry.access import Actor
from registry.files.reports import read_reports
from registry.records import Report, ReportFilter, agency_key
from registry.services.imports import ImportService, ImportSummary, Row, RowError
from registry.services.reports import ReportService
from registry.vocabulary import ADMIN

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


def feed_actor(name: str) -> Actor:
    """A feed writes the registry on its own authority, configured by the operator."""
    return Actor(principal=f"feed:{name}", role=ADMIN)


class FeedService:
    def __init__(self, reports: ReportService, imports: ImportService) -> None:
        self.reports = reports
        self.imports = imports

    def pull(self, feed: FeedConfig, state: FeedState, session: requests.Session | None = None) -> FeedResult:
        """One pull: conditional GET, upsert the rows marked with the feed's name, withdraw what left it."""
        fetched = fetch_feed(feed, state, session)
        if fetched is None:
            return FeedResult(feed.name, modified=False)
        actor = feed_actor(feed.name)
        present: set[tuple[str, str]] = set()
        rows = _marked(read_reports(io.BytesIO(fetched.content), feed.format), feed.name, present)
        summary = self.imports.import_rows(actor, rows, source=feed.url)
        result = _result(feed.name, summary)
        if present:
            result.withdrawn = self.withdraw_missing(feed.name, present)
        self.imports.record(actor, summary, withdrawn=result.withdrawn)
        state.put(feed.name, fetched.validators)
        return result

    def withdraw_missing(self, source: str, present: set[tuple[str, str]]) -> int:
        """Cancel the reports from ``source`` whose (agency, case number) is not ``present``; how many."""
        gone = [
            # An import ignores the server's fields; a cancellation says why, as every one must.
            report | {"status": WITHDRAWN_STATUS,
                      "cancellation": {"reason": f"Withdrawn from the feed {source}: no longer published."}}
            for report in self._reports_from(source)
            if report["status"] != WITHDRAWN_STATUS and (agency_key(report), report["external_ref"]) not in present
        ]
        if not gone:
            return 0
        return self.imports.import_rows(feed_actor(source), enumerate(gone, start=1), source=source).updated

    def _reports_from(self, source: str) -> Iterator[Report]:
        cursor = None
        while True:
            page = self.reports.list(feed_actor(source), ReportFilter(source=source), LIST_PAGE_SIZE, cursor)
            yield from page.items
            cursor = page.next_cursor
            if cursor is None:
                return


def _marked(rows: Iterable[Row], source: str, present: set[tuple[str, str]]) -> Iterator[Row]:
    """Rows with ``source`` set, noting each (agency, case number) seen, valid or not:
    a row rejected for a typo must not withdraw the report it stands for."""
    for number, data in rows:
        if isinstance(data, dict):
            data = {**data, "source": source}
            agency = data.get("reporting_agency")
            if isinstance(agency, dict) and isinstance(agency.get("name"), str) and data.get("external_ref"):
                present.add((agency_key(data), str(data["external_ref"])))  # type: ignore[arg-type]
        yield number, data


def _result(name: str, summary: ImportSummary) -> FeedResult:
    return FeedResult(name, True, summary.created, summary.updated, summary.unchanged, rejected=summary.rejected)



