"""Adapter for a stolen-vehicles style database (protocol in ``integrations/README.md``).

Shaped like INTERPOL's Stolen Motor Vehicles database: accredited law
enforcement asks about an identifier and gets the full records back.  The
lookup is a GET, so the fan-out may retry it.
"""

from __future__ import annotations

from urllib.parse import quote

import requests

from integrations.base import ExternalMatch, ExternalSource, MalformedResponse, asked_identifier
from integrations.http import field, request_json
from registry.vocabulary import CATEGORIES, IDENTIFIER_TYPES, STATUSES
from search.query import CheckQuery

RECORDS_PATH = "/smv/v1/records"
HEALTH_PATH = "/smv/v1/health"


class StolenVehiclesSource(ExternalSource):
    idempotent = True

    def __init__(self, name: str, base_url: str, token: str, session: requests.Session) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"}
        self.session = session

    def lookup(self, query: CheckQuery, timeout: float) -> list[ExternalMatch]:
        url = f"{self.base_url}{RECORDS_PATH}?identifier={quote(asked_identifier(query), safe='')}"
        answer = request_json(self.session, "GET", url, self._headers, timeout)
        return [self._match(record) for record in field(answer, "records", list)]

    def health(self, timeout: float) -> None:
        request_json(self.session, "GET", self.base_url + HEALTH_PATH, self._headers, timeout)

    def _match(self, record: object) -> ExternalMatch:
        identifier = field(record, "identifier", dict)
        status = field(record, "status")
        if status not in STATUSES:
            raise MalformedResponse(f"unknown record status {status!r}")
        identifier_type = field(identifier, "type")
        category = field(record, "category", required=False)
        return ExternalMatch(
            source=self.name,
            record_id=field(record, "record_id"),
            identifier=field(identifier, "value"),
            identifier_type=identifier_type if identifier_type in IDENTIFIER_TYPES else "other",
            status=status,
            owner_country=field(record, "owner_country", required=False),
            reference=field(record, "reference", required=False),
            category=category if category in CATEGORIES else None,
            manufacturer=field(record, "manufacturer", required=False),
            model=field(record, "model", required=False),
        )
