"""The connection to the cluster that every Elasticsearch store shares, and its indices.

Layout.  Each kind of record has an index ``{prefix}-{kind}-v{N}`` behind the
alias ``{prefix}-{kind}`` (reports, checks, keys, users, audit, bulk jobs, their rows
and results, confirmation requests, webhooks, their deliveries, sightings, review notices); code only ever
names the aliases, so ``admin.reindex`` can build ``v{N+1}`` and swap the alias atomically.

Description analysis.  A reports index built by other description analysis
code (``mappings.ANALYSIS_META``), or before description terms existed, gets
the field added to its mapping on first use, so writes keep working, and a
warning until ``irontrace es reindex`` rebuilds it.

Availability.  Nothing touches the cluster at start-up: indices are created on
first use, so the service starts with the cluster down, answers 503 through
``StorageUnavailable`` and recovers by itself.  Every client failure
(connection, timeout, 5xx, refusal, red health) becomes ``StorageUnavailable``;
each request is bounded by ``ES_TIMEOUT_SECONDS`` and retried on another node
only on fast failures (``client_from_settings``).

A cluster.  Indices get ``ES_SHARDS`` primaries (the change feed one, always)
and ``ES_REPLICAS`` replicas; every document write waits for
``ES_WAIT_FOR_ACTIVE_SHARDS`` copies (``ClusterClient``).  A write acknowledged
by Elasticsearch is on every in-sync copy whatever that number, so losing a
node loses no acknowledged write while a copy remains.  A request retried
after its node went away may have been carried out already: the stores tell
their own earlier attempt from another writer's (``retried_create``).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Self, TypedDict

from elastic_transport import ApiResponse
from elasticsearch import ApiError, BadRequestError, Elasticsearch, NotFoundError, TransportError

from registry.errors import StorageFull, StorageUnavailable
from registry.records import Document
from registry.storage.elasticsearch.mappings import (
    ANALYSIS_META,
    AUDIT_MAPPINGS,
    CHANGES_MAPPINGS,
    CHECKS_MAPPINGS,
    CONFIRMATIONS_MAPPINGS,
    COUNTERS_MAPPINGS,
    DELIVERIES_MAPPINGS,
    JOB_ROWS_MAPPINGS,
    JOBS_MAPPINGS,
    KEYS_MAPPINGS,
    KEYWORD,
    OUTBOX_MAPPINGS,
    REPORTS_MAPPINGS,
    SIGHTINGS_MAPPINGS,
    USERS_MAPPINGS,
    WEBHOOKS_MAPPINGS,
    shard_settings,
)
from search.text import ANALYSIS_VERSION

log = logging.getLogger(__name__)

# A node shutting down, restarting or overloaded: another node may serve the request.
RETRIED_STATUSES = (429, 502, 503, 504)

INDEX_VERSION = re.compile(r"-v(\d+)$")

FIRST_VERSION = 1
SHARDS_READY_TIMEOUT = "30s"  # how long a process waits for another's new index to start serving
# What Elasticsearch puts on an index when its node's disk passes the flood-stage watermark; writes to
# it then fail with ``cluster_block_exception`` until space is freed (and the block lifted).
FULL_DISK_BLOCK = "index.blocks.read_only_allow_delete"
# The client's endpoints that write documents: each waits for ``ES_WAIT_FOR_ACTIVE_SHARDS``.
WRITE_ENDPOINTS = frozenset({"index", "create", "update", "delete", "bulk"})


def versioned_index(alias: str, version: int) -> str:
    return f"{alias}-v{version}"


class ClusterClient(Elasticsearch):
    """The official client, but every document write (index, create, update, delete, bulk) waits for
    the active shard copies the configuration asks for, unless the call names its own."""

    write_shards: str | None = None

    def perform_request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                        headers: Mapping[str, str] | None = None, body: Any | None = None,
                        endpoint_id: str | None = None, path_parts: Mapping[str, Any] | None = None,
                        ) -> ApiResponse[Any]:
        if endpoint_id in WRITE_ENDPOINTS and self.write_shards and "wait_for_active_shards" not in (params or {}):
            params = {**(params or {}), "wait_for_active_shards": self.write_shards}
        return super().perform_request(method, path, params=params, headers=headers, body=body,
                                       endpoint_id=endpoint_id, path_parts=path_parts)

    def options(self, **changes: Any) -> Self:
        """A copy with other request options (``Elasticsearch.options``) that still waits for shards."""
        client = super().options(**changes)
        client.write_shards = self.write_shards
        return client


def client_from_settings(settings: dict[str, Any]) -> ClusterClient:
    """A client from the ``ES_*`` settings; it connects on first use, never here.

    Given every node (``ES_URL`` comma-separated), it sends requests round-robin and
    takes a node that fails to connect out of the rotation for a while (1 s, doubling
    up to 30 s).  A request that failed because a node went away (connection refused
    or reset, or 502/503/504/429 from a node) is sent again to another node, up to
    ``ES_MAX_RETRIES`` times; a timeout is never retried (the request may still be
    running, and the caller has waited ``ES_TIMEOUT_SECONDS`` already).  No sniffing:
    the nodes' own published addresses may not be reachable from here (containers,
    TLS names), while the ones configured are.
    """
    auth: dict[str, Any] = {}
    if settings.get("ES_API_KEY"):
        auth["api_key"] = settings["ES_API_KEY"]
    elif settings.get("ES_USERNAME"):
        auth["basic_auth"] = (settings["ES_USERNAME"], settings.get("ES_PASSWORD") or "")
    tls: dict[str, Any] = {}
    if settings.get("ES_CA_CERTS"):
        tls["ca_certs"] = settings["ES_CA_CERTS"]
    client = ClusterClient(
        [url.strip() for url in settings["ES_URL"].split(",")],
        request_timeout=settings["ES_TIMEOUT_SECONDS"],
        max_retries=settings["ES_MAX_RETRIES"],
        retry_on_status=RETRIED_STATUSES,
        retry_on_timeout=False,
        **auth,
        **tls,
    )
    client.write_shards = str(settings["ES_WAIT_FOR_ACTIVE_SHARDS"])
    return client


class Cluster:
    """The client, the index names under one prefix, and the plumbing every store uses."""

    def __init__(self, client: Elasticsearch, index_prefix: str, refresh_interval: str = "1s",
                 shards: int = 1, replicas: int | str = "auto") -> None:
        self.client = client
        self.prefix = index_prefix
        # How soon writes become searchable; ``refresh=wait_for`` writes wait up to this long.
        self.index_settings = {**shard_settings(shards, replicas), "refresh_interval": refresh_interval}
        # Check records, like SQLite's, skip the fsync per write: a check is not worth doubling
        # its latency for, and the translog is flushed within seconds anyway.
        checks_settings = {**self.index_settings, "translog": {"durability": "async"}}
        self.reports_alias = f"{index_prefix}-reports"
        self.checks_alias = f"{index_prefix}-checks"
        self.keys_alias = f"{index_prefix}-keys"
        self.users_alias = f"{index_prefix}-users"
        self.audit_alias = f"{index_prefix}-audit"
        self.jobs_alias = f"{index_prefix}-bulk-jobs"
        self.job_rows_alias = f"{index_prefix}-bulk-rows"
        self.job_results_alias = f"{index_prefix}-bulk-results"
        self.outbox_alias = f"{index_prefix}-audit-outbox"
        self.counters_alias = f"{index_prefix}-counters"
        self.confirmations_alias = f"{index_prefix}-confirmations"
        self.webhooks_alias = f"{index_prefix}-webhooks"
        self.deliveries_alias = f"{index_prefix}-webhook-deliveries"
        self.sightings_alias = f"{index_prefix}-sightings"
        self.changes_alias = f"{index_prefix}-changes"
        self.review_notices_alias = f"{index_prefix}-review-notices"
        # Counters change on every request and matter for a day at most: no fsync per update.
        counters_settings = {**self.index_settings, "translog": {"durability": "async"}}
        self.indices: tuple[tuple[str, Document, Document], ...] = (
            (self.reports_alias, REPORTS_MAPPINGS, self.index_settings),
            (self.checks_alias, CHECKS_MAPPINGS, checks_settings),
            (self.keys_alias, KEYS_MAPPINGS, self.index_settings),
            (self.users_alias, USERS_MAPPINGS, self.index_settings),
            (self.audit_alias, AUDIT_MAPPINGS, self.index_settings),
            (self.outbox_alias, OUTBOX_MAPPINGS, self.index_settings),
            (self.counters_alias, COUNTERS_MAPPINGS, counters_settings),
            (self.jobs_alias, JOBS_MAPPINGS, self.index_settings),
            (self.job_rows_alias, JOB_ROWS_MAPPINGS, self.index_settings),
            (self.job_results_alias, JOB_ROWS_MAPPINGS, self.index_settings),
            (self.confirmations_alias, CONFIRMATIONS_MAPPINGS, self.index_settings),
            (self.webhooks_alias, WEBHOOKS_MAPPINGS, self.index_settings),
            (self.deliveries_alias, DELIVERIES_MAPPINGS, self.index_settings),
            (self.sightings_alias, SIGHTINGS_MAPPINGS, self.index_settings),
            # One shard, always: the feed's order is that shard's sequence numbers (``changes``).
            (self.changes_alias, CHANGES_MAPPINGS, {**self.index_settings, "number_of_shards": 1}),
            (self.review_notices_alias, SIGHTINGS_MAPPINGS, self.index_settings),
        )
        self._indices_ready = False
        self._seq_lock = threading.Lock()
        self._last_seq = 0

    @contextmanager
    def translate_errors(self) -> Iterator[None]:
        """Every client failure leaves as ``StorageUnavailable`` (503 + Retry-After), chained."""
        try:
            yield
        except ApiError as exc:
            if exc.error == "index_not_found_exception":
                self._indices_ready = False  # deleted behind our back: recreated on the next call
            if is_full_disk_block(exc.error, str(exc)):
                raise StorageFull("Elasticsearch refuses writes: its disk is full (flood-stage watermark); "
                                  "they resume once space is freed.") from exc
            detail = f"Elasticsearch cannot serve the request ({exc.status_code} {exc.error})."
            raise StorageUnavailable(detail) from exc
        except TransportError as exc:
            raise StorageUnavailable(f"Elasticsearch cannot be reached ({type(exc).__name__}).") from exc

    @contextmanager
    def session(self) -> Iterator[Elasticsearch]:
        """The client, with indices in place and failures translated.

        No lock around the lazy init: it is idempotent, and a lock would queue
        every request behind one attempt that may wait a whole timeout.
        """
        with self.translate_errors():
            if not self._indices_ready:
                self.init_indices()
            yield self.client

    def init_indices(self) -> list[str]:
        """Create each missing index with its alias; safe when every worker does it at once."""
        with self.translate_errors():
            # All at once: the master batches the cluster-state updates, one by one each waits its turn.
            with ThreadPoolExecutor(max_workers=len(self.indices)) as pool:
                created = [index for index in pool.map(
                    lambda spec: create_aliased_index(self.client, *spec), self.indices) if index]
            if versioned_index(self.reports_alias, FIRST_VERSION) not in created:
                self._check_analysis_version()
                if versioned_index(self.changes_alias, FIRST_VERSION) in created:
                    log.warning("The change feed was created for a registry that holds reports: run "
                                "`irontrace es init` to enter them, or replicas will miss them.")
        self._indices_ready = True
        return created

    def _check_analysis_version(self) -> None:
        """A reports index built with other description analysis: add the field so writes keep working
        (the mapping is strict), and warn until ``irontrace es reindex`` rebuilds it."""
        mapping = next(iter(self.client.indices.get_mapping(index=self.reports_alias).values()))["mappings"]
        if "description_terms" not in mapping.get("properties", {}):
            self.client.indices.put_mapping(index=self.reports_alias, properties={"description_terms": KEYWORD})
        built_with = mapping.get("_meta", {}).get(ANALYSIS_META)
        if built_with != ANALYSIS_VERSION:
            log.warning("The reports index was built with description analysis %s, this code uses %s: "
                        "description checks miss reports until `irontrace es reindex` rebuilds it.",
                        built_with, ANALYSIS_VERSION)

    def indices_moved(self) -> None:
        """Aliases were moved or dropped (a restore): check the indices again on next use."""
        self._indices_ready = False

    def next_seq(self) -> int:
        """Creation order: wall-clock nanoseconds, strictly increasing within this process."""
        with self._seq_lock:
            self._last_seq = max(time.time_ns(), self._last_seq + 1)
            return self._last_seq

    def close(self) -> None:
        self.client.close()

    def holds_registry(self) -> bool:
        """Whether the registry's reports index exists (looked at, never created)."""
        with self.translate_errors():
            return bool(self.client.indices.exists_alias(name=self.reports_alias))

    def ping(self) -> None:
        """Red health, or an index blocked for a full disk, means the registry cannot serve."""
        aliases = [alias for alias, _, _ in self.indices]
        with self.session() as es:
            health = es.cluster.health(index=aliases)
            blocks = es.indices.get_settings(index=aliases, name=FULL_DISK_BLOCK, flat_settings=True)
        if health["status"] == "red":
            raise StorageUnavailable("Elasticsearch reports red health: some registry data is unavailable.")
        blocked = sorted(index for index, found in blocks.items() if found["settings"].get(FULL_DISK_BLOCK) == "true")
        if blocked:
            raise StorageFull(f"Elasticsearch blocks writes to {', '.join(blocked)}: its disk is full.")


def create_aliased_index(client: Elasticsearch, alias: str, mappings: Document, settings: Document) -> str | None:
    """Create the first version of an index behind ``alias`` unless the alias exists; the index created.

    Safe when every worker does it at once: the loser of the race sees the index already there,
    and waits, as the creator did, until its primary shard can serve (a search of an index whose
    shard is still starting fails).
    """
    index = versioned_index(alias, FIRST_VERSION)
    if not client.indices.exists_alias(name=alias):
        try:
            client.indices.create(index=index, mappings=mappings, settings=settings, aliases={alias: {}})
            return index
        except BadRequestError as exc:
            if exc.error != "resource_already_exists_exception":
                raise
    else:
        add_missing_fields(client, alias, mappings)
    # Not ``wait_for_status``: a new index reports yellow before its primaries have started.
    client.cluster.health(index=alias, wait_for_active_shards=str(settings["number_of_shards"]),
                          timeout=SHARDS_READY_TIMEOUT)
    return None


def is_full_disk_block(error_type: str | None, reason: str) -> bool:
    """Whether a refusal is the block Elasticsearch sets on indices when its disk is full."""
    return error_type == "cluster_block_exception" and ("read-only-allow-delete" in reason or "flood" in reason)


def refusal(failed: list[Document], detail: str, **extra: Any) -> StorageUnavailable:
    """The error for items a bulk call refused: ``StorageFull`` when the disk was the reason."""
    error = failed[0].get("error") or {}
    if is_full_disk_block(error.get("type"), str(error.get("reason"))):
        return StorageFull("Elasticsearch refuses writes: its disk is full (flood-stage watermark).", **extra)
    return StorageUnavailable(detail, **extra)


def add_missing_fields(client: Elasticsearch, alias: str, mappings: Document) -> None:
    """Add the fields the mapping gained since an older release created the index (a job's
    ``owner``); fields already there are never changed (that needs ``irontrace es reindex``)."""
    [existing] = client.indices.get_mapping(index=alias).values()
    have = existing["mappings"].get("properties", {})
    missing = {name: field for name, field in mappings["properties"].items() if name not in have}
    if missing:
        client.indices.put_mapping(index=alias, properties=missing)


def bulk_items(client: Elasticsearch, operations: list[Document], **params: Any) -> list[Document]:
    """One bulk call; the result of each operation (``status``, ``error``, ``_seq_no``...) in order."""
    response = client.bulk(operations=operations, **params)
    return [next(iter(item.values())) for item in response["items"]]


def retried_create(es: Elasticsearch, index: str, doc_id: str, mine: Callable[[Document], bool]) -> Document | None:
    """After a ``create`` answered 409 (the id is taken): the document there, with its position, if
    ``mine`` says it is this writer's own, i.e. an earlier attempt of the same request was carried out
    before its node went away and the client sent it again; else None (another writer's)."""
    try:
        found = es.get(index=index, id=doc_id).body
    except NotFoundError:
        return None
    return found if mine(found["_source"]) else None


class ReadPosition(TypedDict):
    """A document's position as read, for a write that must find it unchanged."""

    if_seq_no: int
    if_primary_term: int


def read_position(hit: Document) -> ReadPosition:
    """Optimistic concurrency: the write applies only if the document is still as read."""
    return {"if_seq_no": hit["_seq_no"], "if_primary_term": hit["_primary_term"]}


def aliased_index(es: Elasticsearch, alias: str) -> str:
    """The one concrete index behind ``alias``."""
    indices = list(es.indices.get_alias(name=alias))
    if len(indices) != 1:
        raise StorageUnavailable(f"Alias {alias} points to {len(indices)} indices, not one: {sorted(indices)}.")
    return indices[0]


def index_version(index: str) -> int:
    """The N of ``{alias}-v{N}``."""
    match = INDEX_VERSION.search(index)
    if match is None:
        raise StorageUnavailable(f"Index {index} is not named {{alias}}-v{{N}}; cannot tell its version.")
    return int(match[1])
