"""Elasticsearch as the registry's engine, for deployments that outgrow one file.

Every store shares one ``Cluster`` (client, index names, error translation);
see ``cluster`` for the index layout and availability, ``reports`` for
uniqueness and ordering, ``candidates`` for retrieval.
"""

from __future__ import annotations

from typing import Any

from registry.storage.elasticsearch.admin import ElasticsearchIndexAdmin
from registry.storage.elasticsearch.audit import ElasticsearchAuditLog
from registry.storage.elasticsearch.candidates import ElasticsearchCandidateIndex
from registry.storage.elasticsearch.checks import ElasticsearchCheckLog
from registry.storage.elasticsearch.cluster import Cluster, client_from_settings
from registry.storage.elasticsearch.documents import key_index, user_index
from registry.storage.elasticsearch.jobs import ElasticsearchJobStore
from registry.storage.elasticsearch.reports import ElasticsearchReportStore
from registry.storage.interfaces import Engine

NAME = "elasticsearch"
IN_PROCESS_WORKERS = 0  # bulk-check jobs run in `irontrace worker` processes, which scale apart from serving


def open_cluster(cluster: Cluster) -> Engine:
    """Every store of the Elasticsearch engine over one cluster connection."""
    reports = ElasticsearchReportStore(cluster)
    return Engine(
        name=NAME,
        reports=reports,
        candidates=ElasticsearchCandidateIndex(cluster),
        checks=ElasticsearchCheckLog(cluster),
        keys=key_index(cluster),
        users=user_index(cluster),
        audit=ElasticsearchAuditLog(cluster),
        jobs=ElasticsearchJobStore(cluster),
        ping=cluster.ping,
        close=cluster.close,
        in_process_workers=IN_PROCESS_WORKERS,
        admin=ElasticsearchIndexAdmin(cluster, reports),
    )


def open_from_settings(settings: dict[str, Any]) -> Engine:
    cluster = Cluster(client_from_settings(settings), settings["ES_INDEX_PREFIX"], settings["ES_REFRESH_INTERVAL"])
    return open_cluster(cluster)
