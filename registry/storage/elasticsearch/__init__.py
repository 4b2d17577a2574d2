"""Elasticsearch as the registry's engine, for deployments that outgrow one file.

Every store shares one ``Cluster`` (client, index names, error translation);
see ``cluster`` for the index layout and availability, ``reports`` for
uniqueness and ordering, ``candidates`` for retrieval.
"""

from __future__ import annotations

from typing import Any

from registry.stamps import Clock, clock_from
from registry.storage.elasticsearch import retention
from registry.storage.elasticsearch.admin import ElasticsearchIndexAdmin
from registry.storage.elasticsearch.audit import ElasticsearchAuditLog
from registry.storage.elasticsearch.candidates import ElasticsearchCandidateIndex
from registry.storage.elasticsearch.changes import ElasticsearchChangeFeed
from registry.storage.elasticsearch.checks import ElasticsearchCheckLog
from registry.storage.elasticsearch.cluster import Cluster, client_from_settings
from registry.storage.elasticsearch.confirmations import ElasticsearchConfirmationStore
from registry.storage.elasticsearch.counters import ElasticsearchCounters
from registry.storage.elasticsearch.deliveries import ElasticsearchWebhookStore
from registry.storage.elasticsearch.documents import key_index, user_index
from registry.storage.elasticsearch.jobs import ElasticsearchJobStore
from registry.storage.elasticsearch.outbox import Outbox
from registry.storage.elasticsearch.reports import ElasticsearchReportStore
from registry.storage.elasticsearch.sightings import ElasticsearchSightingLog
from registry.storage.elasticsearch.snapshots import Snapshots
from registry.storage.interfaces import Engine

NAME = "elasticsearch"
IN_PROCESS_WORKERS = 0  # bulk-check jobs run in `irontrace worker` processes, which scale apart from serving


def open_cluster(cluster: Cluster, clock: Clock, outbox_grace_seconds: float,
                 snapshot_repository: str = "irontrace-backups", snapshot_location: str = "irontrace-backups"
                 ) -> Engine:
    """Every store of the Elasticsearch engine over one cluster connection, each audited write
    through one outbox (whose intents ``clock`` dates and recovery takes after the grace period);
    snapshots go to the filesystem repository named, at the location given."""
    audit = ElasticsearchAuditLog(cluster)
    outbox = Outbox(cluster, audit, clock, outbox_grace_seconds)
    audit.outbox = outbox
    reports = ElasticsearchReportStore(cluster, outbox)
    retention.register(outbox)

    def close() -> None:
        outbox.flush()  # finished intents this process would otherwise leave to recovery
        cluster.close()

    return Engine(
        name=NAME,
        reports=reports,
        candidates=ElasticsearchCandidateIndex(cluster),
        checks=ElasticsearchCheckLog(cluster, outbox),
        keys=key_index(cluster, outbox),
        users=user_index(cluster, outbox),
        audit=audit,
        jobs=ElasticsearchJobStore(cluster, outbox),
        counters=ElasticsearchCounters(cluster),
        confirmations=ElasticsearchConfirmationStore(cluster, outbox),
        webhooks=ElasticsearchWebhookStore(cluster, outbox),
        sightings=ElasticsearchSightingLog(cluster, outbox),
        changes=ElasticsearchChangeFeed(cluster),
        review_notices=ElasticsearchSightingLog(cluster, outbox, "review_notices"),
        ping=cluster.ping,
        close=close,
        in_process_workers=IN_PROCESS_WORKERS,
        admin=ElasticsearchIndexAdmin(cluster, reports, Snapshots(cluster, snapshot_repository, snapshot_location)),
    )


def open_from_settings(settings: dict[str, Any]) -> Engine:
    return open_cluster(_cluster(settings), clock_from(settings), settings["AUDIT_OUTBOX_GRACE_SECONDS"],
                        settings["ES_SNAPSHOT_REPOSITORY"], settings["ES_SNAPSHOT_LOCATION"])


def registry_exists(settings: dict[str, Any]) -> bool:
    """Whether the cluster holds a registry under the configured prefix (nothing is created)."""
    cluster = _cluster(settings)
    try:
        return cluster.holds_registry()
    finally:
        cluster.close()


def registry_location(settings: dict[str, Any]) -> str:
    return f"Elasticsearch {settings['ES_URL']}, indices {settings['ES_INDEX_PREFIX']}-*"


def _cluster(settings: dict[str, Any]) -> Cluster:
    return Cluster(client_from_settings(settings), settings["ES_INDEX_PREFIX"], settings["ES_REFRESH_INTERVAL"],
                   settings["ES_SHARDS"], settings["ES_REPLICAS"])
