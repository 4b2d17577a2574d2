"""Keeping a replica: pull the centre's change feed into the local registry, forward local checks.

A sync first forwards the checks answered here since the last forwarded one
(the centre keeps each check id once, so a sync killed after the centre took
them and before this side noted it only sends them again), then applies the
feed page by page: each page, the cursor it leads to and its audit entry
commit in one transaction, so a sync (or the first one, the snapshot) killed
anywhere resumes where the last applied page ended.  The copy is *as of* the
centre's ``as_of`` of the last page that left nothing waiting.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from registry.access import Actor
from registry.errors import IronTraceError
from registry.records import Document, Report
from registry.services.audit import AuditService
from registry.storage.interfaces import ReplicaStore

TIMEOUT_SECONDS = 60
SNAPSHOT_TIMEOUT_SECONDS = 1800  # the centre may take minutes to make a snapshot of a large registry
DOWNLOAD_CHUNK_BYTES = 1 << 20
FORWARD_BATCH = 200  # checks per forwarding request (the centre takes up to 500)


class CentreUnreachable(IronTraceError):
    """The centre did not answer (the link is down): the replica keeps answering from its copy."""


class CentreRefused(IronTraceError):
    """The centre refused the replica's key (revoked, expired, or not a replica key): syncing stops."""


@dataclass
class SyncSummary:
    forwarded: int = 0
    upserts: int = 0
    removals: int = 0
    pages: int = 0
    as_of: str | None = None


class Centre:
    """The centre's API, as a replica calls it."""

    def __init__(self, url: str, key: str) -> None:
        self.url = url.rstrip("/")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {key}"

    def changes(self, after: str | None, limit: int) -> Document:
        return self._call("GET", "/v1/changes", params={"limit": limit, **({"after": after} if after else {})})

    def forward(self, checks: Sequence[Document]) -> Document:
        return self._call("POST", "/v1/changes/checks", json={"checks": list(checks)})

    def download_snapshot(self, partial: Path) -> bool:
        """Download the centre's snapshot into ``partial``, resuming what an earlier download left
        there if it is still the same snapshot; ``False`` if the centre makes none."""
        tag = partial.with_name(partial.name + ".etag")
        resume = partial.exists() and tag.exists()
        headers = {"Range": f"bytes={partial.stat().st_size}-", "If-Range": tag.read_text()} if resume else {}
        try:
            with self._request("GET", "/v1/changes/snapshot", headers=headers, stream=True,
                               timeout=(TIMEOUT_SECONDS, SNAPSHOT_TIMEOUT_SECONDS)) as answer:
                if answer.status_code == 404:
                    return False
                if answer.status_code == 416:  # the whole file was there already: start again to be sure
                    partial.unlink()
                    tag.unlink()
                    return self.download_snapshot(partial)
                self._refused(answer)
                if answer.status_code == 200:  # a new snapshot (or a first download): from its start
                    partial.write_bytes(b"")  # before the new tag: old bytes are never resumed as the new file's
                    tag.write_text(answer.headers["ETag"])
                with partial.open("ab" if answer.status_code == 206 else "wb") as out:
                    for chunk in answer.iter_content(DOWNLOAD_CHUNK_BYTES):
                        out.write(chunk)
        except requests.RequestException as exc:
            raise CentreUnreachable(f"The centre {self.url} cannot be reached ({type(exc).__name__}).") from exc
        tag.unlink()
        return True

    def _call(self, method: str, path: str, **kwargs: Any) -> Document:
        try:
            answer = self._request(method, path, timeout=TIMEOUT_SECONDS, **kwargs)
        except requests.RequestException as exc:
            raise CentreUnreachable(f"The centre {self.url} cannot be reached ({type(exc).__name__}).") from exc
        self._refused(answer)
        body: Document = answer.json()
        return body

    def _request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        return self.http.request(method, self.url + path, **kwargs)

    def _refused(self, answer: requests.Response) -> None:
        """Raise unless the centre answered with success."""
        if answer.status_code in (401, 403):
            raise CentreRefused(f"The centre {self.url} refused this replica's key ({answer.status_code}): "
                                "ask the centre's admin for a replica key (irontrace keys create --role replica).")
        if answer.status_code >= 300:
            raise CentreUnreachable(f"The centre {self.url} answered {answer.status_code}: {answer.text[:300]}")


class Replica:
    """The local registry as a replica of one centre."""

    def __init__(self, store: ReplicaStore, audit: AuditService, centre: Centre, page_size: int) -> None:
        self.store = store
        self.audit = audit
        self.centre = centre
        self.page_size = page_size
        self.actor = Actor.operator()

    def sync(self) -> SyncSummary:
        """Forward this replica's checks, then apply every change the centre has.  The next page is
        fetched while this one is applied: the centre's work and the replica's overlap."""
        summary = SyncSummary(forwarded=self.forward())
        with ThreadPoolExecutor(max_workers=1) as fetcher:
            cursor = (self.store.state() or {}).get("cursor")
            coming = fetcher.submit(self.centre.changes, cursor, self.page_size)
            while True:
                page = coming.result()
                if page["more"]:
                    coming = fetcher.submit(self.centre.changes, page["next"], self.page_size)
                self._apply(cursor, page, summary)
                cursor = page["next"]
                if not page["more"]:
                    return summary

    def _apply(self, cursor: str | None, page: Document, summary: SyncSummary) -> None:
        """One page, its cursor and its audit entry, in one transaction."""
        upserts, removed = apply_order(page["changes"])
        as_of = None if page["more"] else page["as_of"]
        entry = self.audit.entry(self.actor, "replica.sync", self.centre.url, {
            "after": cursor, "next": page["next"], "upserts": len(upserts), "removals": len(removed),
            "as_of": as_of})
        self.store.apply(upserts, removed, page["next"], as_of, entry)
        summary.upserts += len(upserts)
        summary.removals += len(removed)
        summary.pages += 1
        summary.as_of = as_of

    def forward(self) -> int:
        """Hand the centre every check answered here that it does not hold yet; how many were sent."""
        sent = 0
        while True:
            state = self.store.state() or {}
            batch = self.store.checks_after(state.get("forwarded", 0), FORWARD_BATCH)
            if not batch:
                return sent
            self.centre.forward([record for _, record in batch])
            self.store.forwarded(batch[-1][0])
            sent += len(batch)


def apply_order(entries: Sequence[Document]) -> tuple[list[Report], list[str]]:
    """A page of the feed as the reports to store and the ids to drop (a report's last entry wins)."""
    last: dict[str, Document] = {}
    for entry in entries:
        last.pop(entry["report_id"], None)
        last[entry["report_id"]] = entry
    return ([e["report"] for e in last.values() if e["op"] == "upsert"],
            [e["report_id"] for e in last.values() if e["op"] == "remove"])
