"""Purges on Elasticsearch: what is past its retention period is deleted through the engine's
``Outbox``, so that the purge's audit entry (counts and cutoff) is appended once the deletes are
done, or by recovery if the process died meanwhile (the probe: nothing the purge named is left)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from elasticsearch import Elasticsearch

from registry.records import AuditEntry, Document
from registry.storage.elasticsearch.cluster import Cluster, bulk_items, refusal
from registry.storage.elasticsearch.outbox import Outbox

KIND = "purge"
DELETE_PAGE = 1000  # documents deleted per bulk request
AuditOf = Callable[[int], AuditEntry]  # the purge's entry, given how many records it removes


def register(outbox: Outbox) -> None:
    """Tell recovery how to see that a purge is done."""
    outbox.register(KIND, _purged)


@contextmanager
def purging(cluster: Cluster, outbox: Outbox, what: str, entry: AuditEntry, indices: Sequence[str],
            query: Document) -> Iterator[Elasticsearch]:
    """Announce the purge of ``query``'s documents of ``indices``, let the block delete them, then
    append ``entry``."""
    with outbox.recorded(f"{KIND}:{what}", KIND, entry, {"indices": list(indices), "query": query}) as pending, \
            cluster.session() as es:
        yield es
        pending.written = True


def delete_where(es: Elasticsearch, indices: Sequence[str], query: Document) -> int:
    """Delete every document of ``indices`` matching ``query``, a page of ids at a time in bulk requests
    (not ``_delete_by_query``, which a minimal node lacks), visible to searches at once; how many."""
    deleted = 0
    while True:
        es.indices.refresh(index=list(indices))
        hits = es.search(index=list(indices), query=query, size=DELETE_PAGE, source=False,
                         track_total_hits=False)["hits"]["hits"]
        if not hits:
            return deleted
        operations = [{"delete": {"_index": hit["_index"], "_id": hit["_id"]}} for hit in hits]
        items = bulk_items(es, operations)
        failed = [item for item in items if item["status"] >= 300 and item["status"] != 404]
        if failed:
            raise refusal(failed, f"Elasticsearch refused {len(failed)} deletes of a purge.")
        deleted += len(items)


def count_where(es: Elasticsearch, indices: Sequence[str], query: Document) -> int:
    found: int = es.count(index=list(indices), query=query)["count"]
    return found


def _purged(es: Elasticsearch, probe: Document, entry: AuditEntry) -> AuditEntry | None:
    """Probe: nothing the purge named is left (a real-time refresh first)."""
    es.indices.refresh(index=list(probe["indices"]))
    return entry if count_where(es, probe["indices"], probe["query"]) == 0 else None

