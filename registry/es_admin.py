"""Operations on the Elasticsearch indices: create them, and rebuild them with a new mapping.

``reindex`` copies every report into ``{prefix}-reports-v{N+1}`` built from the
current mapping, then moves the alias in one atomic ``update_aliases`` call and
deletes the old index, so readers never see a missing or half-filled index.
The copy is done with ``search_after`` pages and ``bulk`` (this distribution
has no ``_reindex``), and every indexed field is recomputed from the stored
``document``, so new derived fields are filled in too.

Known limitation: writes made while the copy runs are not carried over.  A
report created or deleted meanwhile makes the counts differ and the reindex
aborts (the alias does not move; run it again); an update of an existing
report meanwhile is lost from the new index.  Run it when imports and edits
are paused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from elasticsearch import Elasticsearch

from registry.errors import Conflict, StorageUnavailable
from registry.storage.elasticsearch import (
    REPORTS_MAPPINGS,
    ElasticsearchStorage,
    bulk_items,
    ref_id,
    report_fields,
    versioned_index,
)
from registry.storage.jobs_elasticsearch import ElasticsearchJobStore

INDEX_VERSION = re.compile(r"-v(\d+)$")
COPY_BATCH_SIZE = 1000  # reports per bulk request while copying


@dataclass(frozen=True)
class ReindexResult:
    old_index: str
    new_index: str
    copied: int


def init(storage: ElasticsearchStorage) -> list[str]:
    """Create the missing indices and aliases, the bulk-check job store's too (idempotent);
    the names of those created."""
    return storage.init_indices() + ElasticsearchJobStore(storage).init_indices()


def reindex(storage: ElasticsearchStorage) -> ReindexResult:
    """Rebuild the reports index with the current mapping and switch the alias to it."""
    storage.init_indices()
    es, alias = storage.client, storage.reports_alias
    with storage.translate_errors():
        old = aliased_index(es, alias)
        new = versioned_index(alias, index_version(old) + 1)
        if es.indices.exists(index=new):  # left by an interrupted reindex; never behind the alias
            es.indices.delete(index=new)
        es.indices.create(index=new, mappings=REPORTS_MAPPINGS, settings=storage.index_settings)
        copied = _copy(storage, old, new)
        es.indices.refresh(index=new)
        if es.count(index=old)["count"] != copied or es.count(index=new)["count"] != copied:
            es.indices.delete(index=new)
            raise Conflict("Reports were created or deleted during the reindex; the alias did not move. "
                           "Run it again.")
        es.indices.update_aliases(
            actions=[{"remove": {"index": old, "alias": alias}}, {"add": {"index": new, "alias": alias}}]
        )
        es.indices.delete(index=old)
    return ReindexResult(old, new, copied)


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


def _copy(storage: ElasticsearchStorage, source: str, target: str) -> int:
    """Copy every report of ``source`` into ``target`` page by page; how many were copied."""
    copied = 0
    operations: list[dict] = []
    for hit in storage.scan(source):
        document = hit["_source"]["document"]
        operations += [{"index": {"_index": target, "_id": ref_id(document)}},
                       report_fields(document, hit["_source"]["seq"])]
        copied += 1
        if len(operations) >= 2 * COPY_BATCH_SIZE:  # an action line and a source line per report
            _send(storage.client, operations)
            operations = []
    if operations:
        _send(storage.client, operations)
    return copied


def _send(es: Elasticsearch, operations: list[dict]) -> None:
    """One bulk of copies; any refused one aborts the reindex (the alias has not moved)."""
    failed = [item for item in bulk_items(es, operations) if item["status"] >= 300]
    if failed:
        error = failed[0].get("error") or {}
        raise StorageUnavailable(
            f"Elasticsearch refused {len(failed)} reports while reindexing "
            f"(first: {error.get('type')}: {error.get('reason')}); the alias did not move."
        )
