"""A REST/JSON registry described by configuration, so a national registry is added without code.

The configuration names a URL template (``{identifier}`` is replaced by the
URL-encoded reading), the header that carries the credential, where the list
of records sits in the answer, and where each ``ExternalMatch`` field sits in
a record (dotted paths).  Lookups are GETs, so the fan-out may retry them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any
from urllib.parse import quote

import requests

from integrations.base import ExternalMatch, ExternalSource, MalformedResponse, asked_identifier
from integrations.http import request_json
from registry.vocabulary import CATEGORIES, IDENTIFIER_TYPES, STATUSES
from search.query import CheckQuery

REQUIRED_FIELDS = ("record_id", "identifier", "status")
OPTIONAL_FIELDS = ("owner_country", "reference", "identifier_type", "category", "manufacturer", "model")


@dataclass(frozen=True)
class FieldMapping:
    """Where the parts of an answer are: dotted paths, ``records`` empty for a top-level list."""

    records: str
    fields: Mapping[str, str]
    status_map: Mapping[str, str] = dataclass_field(default_factory=dict)

    def __post_init__(self) -> None:
        missing = [name for name in REQUIRED_FIELDS if name not in self.fields]
        unknown = set(self.fields) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS)
        if missing or unknown:
            raise ValueError(f"field mapping: missing {missing}, unknown {sorted(unknown)}")


class GenericRestSource(ExternalSource):
    idempotent = True

    def __init__(
        self,
        name: str,
        url_template: str,
        mapping: FieldMapping,
        session: requests.Session,
        auth_header: str | None = None,
        credential: str | None = None,
        health_url: str | None = None,
    ) -> None:
        if "{identifier}" not in url_template:
            raise ValueError("url_template must contain {identifier}")
        self.name = name
        self.url_template = url_template
        self.mapping = mapping
        self.session = session
        self._headers = {auth_header: credential} if auth_header and credential else {}
        self.health_url = health_url

    def lookup(self, query: CheckQuery, timeout: float) -> list[ExternalMatch]:
        url = self.url_template.replace("{identifier}", quote(asked_identifier(query), safe=""))
        answer = request_json(self.session, "GET", url, self._headers, timeout)
        records = dig(answer, self.mapping.records)
        if not isinstance(records, list):
            raise MalformedResponse(f"no list of records at {self.mapping.records or 'the top level'!r}")
        return [self._match(record) for record in records]

    def health(self, timeout: float) -> None:
        if self.health_url:
            request_json(self.session, "GET", self.health_url, self._headers, timeout)

    def _match(self, record: Any) -> ExternalMatch:
        values = {name: dig(record, path) for name, path in self.mapping.fields.items()}
        for name in REQUIRED_FIELDS:
            if values[name] in (None, ""):
                raise MalformedResponse(f"record has no {name} at {self.mapping.fields[name]!r}")
        status = self.mapping.status_map.get(str(values["status"]), str(values["status"]))
        if status not in STATUSES:
            raise MalformedResponse(f"unknown record status {values['status']!r}")
        text = {name: str(value) for name, value in values.items() if value not in (None, "")}
        return ExternalMatch(
            source=self.name,
            record_id=text["record_id"],
            identifier=text["identifier"],
            status=status,
            owner_country=text.get("owner_country"),
            reference=text.get("reference"),
            identifier_type=text["identifier_type"] if text.get("identifier_type") in IDENTIFIER_TYPES else "other",
            category=text.get("category") if text.get("category") in CATEGORIES else None,
            manufacturer=text.get("manufacturer"),
            model=text.get("model"),
        )


def dig(data: Any, path: str) -> Any:
    """The value at a dotted path (``result.items``); ``None`` where the path does not lead."""
    for part in filter(None, path.split(".")):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data
