"""Adapter for a screening style service (protocol in ``integrations/README.md``).

Shaped like INTERPOL's I-Checkit: dealers and private parties learn only
*hit* or *no hit* and a reference number to quote to the police, never the
record.  A screening is a POST that the service logs under a new reference,
so it is not idempotent and the fan-out never retries it.
"""

from __future__ import annotations

import requests

from integrations.base import ExternalMatch, ExternalSource, MalformedResponse, asked_identifier
from integrations.http import field, request_json
from search.query import CheckQuery

SCREENINGS_PATH = "/screening/v1/screenings"
HEALTH_PATH = "/screening/v1/health"
HIT, NO_HIT = "hit", "no_hit"
HIT_STATUS = "stolen"  # what a screening hit means; the service says nothing more


class ScreeningSource(ExternalSource):
    idempotent = False

    def __init__(self, name: str, base_url: str, api_key: str, session: requests.Session) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self._headers = {"X-Api-Key": api_key}
        self.session = session

    def lookup(self, query: CheckQuery, timeout: float) -> list[ExternalMatch]:
        identifier = asked_identifier(query)
        answer = request_json(
            self.session, "POST", self.base_url + SCREENINGS_PATH, self._headers, timeout,
            body={"identifier": identifier},
        )
        result = field(answer, "result")
        reference = field(answer, "reference")
        if result == NO_HIT:
            return []
        if result != HIT:
            raise MalformedResponse(f"unknown screening result {result!r}")
        # The hit is on the identifier as asked: that is all the service discloses.
        return [ExternalMatch(self.name, reference, identifier, HIT_STATUS, reference=reference)]

    def health(self, timeout: float) -> None:
        request_json(self.session, "GET", self.base_url + HEALTH_PATH, self._headers, timeout)
