"""Fetching a published list of stolen equipment: the HTTP side of a feed pull.

A feed is a CSV or NDJSON file of reports (the ``irontrace import`` formats)
published over HTTP.  Each fetch sends the ETag and Last-Modified of the last
pull (a ``304`` means nothing to do); ``registry.services.feeds`` imports what
was fetched and only then records the new validators, so a failed import is
fetched again next time.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import requests

from integrations.config import FeedConfig
from integrations.http import send

FEED_TIMEOUT_SECONDS = 60.0  # a whole published list, not a check: no border officer waits on it
NOT_MODIFIED = 304


@dataclass(frozen=True)
class FetchedFeed:
    """A feed's content as published now, and the validators to send next time."""

    content: bytes
    validators: dict[str, str]


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


def fetch_feed(feed: FeedConfig, state: FeedState, session: requests.Session | None = None) -> FetchedFeed | None:
    """The feed's content, or ``None`` when it has not changed since the last recorded pull.

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
        return None
    validators = {"etag": response.headers.get("ETag"), "last_modified": response.headers.get("Last-Modified")}
    return FetchedFeed(response.content, {k: v for k, v in validators.items() if v})
