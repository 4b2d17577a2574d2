"""Which external sources and feeds IronTrace uses: from a TOML file and/or a JSON variable.

``IRONTRACE_SOURCES_FILE`` names a TOML file; ``IRONTRACE_SOURCES`` holds the
same structure as JSON (its entries are added after the file's).  With
neither, no external source is ever called.  Credentials are never written in
the configuration: an entry names the environment variable that holds its
credential (``api_key_env = "SMV_API_KEY"``), read once at start-up.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from integrations.base import ExternalSource
from integrations.federation import (
    DEFAULT_DEADLINE_SECONDS,
    FAILURES_TO_OPEN,
    OPEN_SECONDS,
    POOL_WORKERS,
    CircuitBreaker,
    FederatedSource,
    Federation,
)
from integrations.generic_rest import FieldMapping, GenericRestSource
from integrations.screening import ScreeningSource
from integrations.stolen_vehicles import StolenVehiclesSource
from registry.vocabulary import ADMIN, AGENCY, BORDER, ROLES

SOURCE_TYPES = ("stolen_vehicles", "screening", "generic_rest")
FEED_FORMATS = ("csv", "ndjson")

LAW_ENFORCEMENT_ROLES = frozenset({ADMIN, AGENCY, BORDER})


class SourceConfigError(ValueError):
    """The sources configuration cannot be used; the message says which entry and why."""


@dataclass(frozen=True)
class FeedConfig:
    """A published list pulled into the local registry (see ``integrations.feed``)."""

    name: str
    url: str
    format: str
    auth_header: str | None = None
    credential: str | None = None

    def __repr__(self) -> str:  # never print the credential
        return f"FeedConfig(name={self.name!r}, url={self.url!r}, format={self.format!r})"


def load_sources_config(settings: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The ``sources`` and ``feeds`` entries from ``SOURCES_FILE`` and ``SOURCES``."""
    merged: dict[str, list[dict[str, Any]]] = {"sources": [], "feeds": []}
    parts = []
    if settings.get("SOURCES_FILE"):
        try:
            with open(settings["SOURCES_FILE"], "rb") as file:
                parts.append(tomllib.load(file))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SourceConfigError(f"cannot read sources file {settings['SOURCES_FILE']}: {exc}") from exc
    inline = settings.get("SOURCES")
    if isinstance(inline, str) and inline.strip():
        try:
            inline = json.loads(inline)
        except json.JSONDecodeError as exc:
            raise SourceConfigError(f"IRONTRACE_SOURCES is not JSON: {exc.msg}") from exc
    if inline:
        parts.append(inline)
    for part in parts:
        if not isinstance(part, dict):
            raise SourceConfigError("sources configuration must be an object with 'sources' and/or 'feeds'")
        for key in merged:
            merged[key].extend(part.get(key) or [])
    return merged


def build_federation(settings: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> Federation | None:
    """The enabled sources ready to be asked, or ``None`` when none is configured."""
    entries = [e for e in load_sources_config(settings)["sources"] if e.get("enabled", True)]
    if not entries:
        return None
    names = [entry.get("name") for entry in entries]
    if len(set(names)) != len(names):
        raise SourceConfigError(f"source names must be unique: {names}")
    federated = [
        FederatedSource(
            build_source(entry, environ, pooled_session()),
            deadline=float(entry.get("deadline_ms", DEFAULT_DEADLINE_SECONDS * 1000)) / 1000,
            breaker=CircuitBreaker(int(entry.get("failures_to_open", FAILURES_TO_OPEN)),
                                   float(entry.get("open_seconds", OPEN_SECONDS))),
            roles=source_roles(entry),
        )
        for entry in entries
    ]
    return Federation(federated)


def source_roles(entry: Mapping[str, Any]) -> frozenset[str] | None:
    """Whose checks may ask the source: its ``roles``, else by type.  A screening service answers
    anyone; the others return full records to accredited law enforcement, so by default only
    checks made as admin, agency or border ask them (never a dealer's)."""
    roles = entry.get("roles")
    if roles is None:
        return None if entry.get("type") == "screening" else LAW_ENFORCEMENT_ROLES
    if not isinstance(roles, list) or not set(roles) <= set(ROLES):
        raise SourceConfigError(f"source {entry.get('name')}: roles must be a list of {', '.join(ROLES)}")
    return frozenset(roles)


def build_source(entry: Mapping[str, Any], environ: Mapping[str, str], session: requests.Session) -> ExternalSource:
    """One adapter from its configuration entry."""
    name = _required(entry, "name", "a source")
    kind = entry.get("type")
    if kind not in SOURCE_TYPES:
        raise SourceConfigError(f"source {name}: type must be one of {', '.join(SOURCE_TYPES)}")
    credential = credential_from(entry, environ, f"source {name}")
    if kind == "stolen_vehicles":
        return StolenVehiclesSource(name, _required(entry, "url", name), credential or "", session)
    if kind == "screening":
        return ScreeningSource(name, _required(entry, "url", name), credential or "", session)
    try:
        mapping = FieldMapping(entry.get("records", ""), dict(entry.get("fields") or {}),
                               dict(entry.get("status_map") or {}))
        return GenericRestSource(name, _required(entry, "url_template", name), mapping, session,
                                 entry.get("auth_header"), auth_value(entry, credential, f"source {name}"),
                                 entry.get("health_url"))
    except ValueError as exc:
        raise SourceConfigError(f"source {name}: {exc}") from exc


def load_feeds(settings: Mapping[str, Any], environ: Mapping[str, str] = os.environ) -> list[FeedConfig]:
    """The configured feeds; the format comes from the entry, else from the URL's suffix."""
    feeds = []
    for entry in load_sources_config(settings)["feeds"]:
        name = _required(entry, "name", "a feed")
        url = _required(entry, "url", name)
        file_format = entry.get("format") or ("csv" if url.lower().split("?")[0].endswith(".csv") else "ndjson")
        if file_format not in FEED_FORMATS:
            raise SourceConfigError(f"feed {name}: format must be one of {', '.join(FEED_FORMATS)}")
        header = auth_value(entry, credential_from(entry, environ, f"feed {name}"), f"feed {name}")
        feeds.append(FeedConfig(name, url, file_format, entry.get("auth_header") if header else None, header))
    return feeds


def credential_from(entry: Mapping[str, Any], environ: Mapping[str, str], what: str) -> str | None:
    """The credential held by the variable ``api_key_env`` names; an error names the variable, never a value."""
    variable = entry.get("api_key_env")
    if not variable:
        return None
    value = environ.get(variable)
    if not value:
        raise SourceConfigError(f"{what}: environment variable {variable} (api_key_env) is not set")
    return value


def auth_value(entry: Mapping[str, Any], credential: str | None, what: str) -> str | None:
    """The ``auth_header`` value: ``auth_prefix`` then the credential.  A credential with no
    header to carry it is a configuration error, not a silently unauthenticated call."""
    if credential and not entry.get("auth_header"):
        raise SourceConfigError(f"{what}: api_key_env needs auth_header (the header that carries it)")
    return f"{entry.get('auth_prefix', '')}{credential}" if credential else None


def pooled_session() -> requests.Session:
    """A session keeping as many connections to its source as the fan-out has threads."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_WORKERS)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _required(entry: Mapping[str, Any], key: str, owner: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value:
        raise SourceConfigError(f"{owner}: {key!r} is required")
    return value
