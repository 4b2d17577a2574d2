"""Index settings and explicit ``dynamic: strict`` mappings of every index the registry uses.

A report is kept, unindexed, in ``document``; beside it sit the fields
queries need (keywords for filters, ``terms`` and ``suffix_keys`` from
``search.keys``, ``description_terms`` and ``text`` from ``search.text``).
Changing the reports mapping needs ``irontrace es reindex``.

Description terms depend on the analysis code and vocabulary: the reports
index records the ``search.text.ANALYSIS_VERSION`` it was built with in its
mapping's ``_meta`` (``ANALYSIS_META``); ``cluster.Cluster`` checks it.
"""

from __future__ import annotations

from typing import Any, Final

from search.text import ANALYSIS_VERSION

AUTO_REPLICAS: Final = "0-1"  # ``ES_REPLICAS=auto``: a replica wherever a second node can hold it


def shard_settings(shards: int = 1, replicas: int | str = "auto") -> dict[str, Any]:
    """Primary shards and replicas of a new index (``ES_SHARDS``, ``ES_REPLICAS``).

    Nothing the registry asks depends on the number of shards: searches sort by
    fields or by ``constant_score`` sums (never by term statistics, which are per
    shard) and counts are totals, so N shards give the answers one does.  A shard
    of the reports index holds about 10M reports (README, sizing).
    """
    if replicas == "auto":
        return {"number_of_shards": shards, "auto_expand_replicas": AUTO_REPLICAS}
    return {"number_of_shards": shards, "number_of_replicas": int(replicas), "auto_expand_replicas": False}


KEYWORD: Final = {"type": "keyword"}
STORED_ONLY: Final = {"type": "object", "enabled": False}
ANALYSIS_META: Final = "description_analysis"

REPORTS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "_meta": {ANALYSIS_META: ANALYSIS_VERSION},
    "properties": {
        "id": KEYWORD,
        "agency_key": KEYWORD,
        "external_ref": KEYWORD,
        "status": KEYWORD,
        "category": KEYWORD,
        "manufacturer_key": KEYWORD,
        "country": KEYWORD,
        "source": KEYWORD,
        "version": {"type": "integer"},
        "created_at": {"type": "date"},
        "validated_at": {"type": "date"},  # the last validation, when there was one (review dates count from it)
        "seq": {"type": "long"},
        "terms": KEYWORD,
        "suffix_keys": KEYWORD,
        "skeletons": {"type": "keyword", "index": False},  # read from doc values to screen candidates
        "text": {"type": "text", "analyzer": "standard"},
        "description_terms": KEYWORD,
        "document": STORED_ONLY,
    },
}

CHECKS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "check_id": KEYWORD,
        "checked_at": {"type": "date"},
        "verdict": KEYWORD,
        "matched_report_ids": KEYWORD,
        "terms": KEYWORD,  # the reading's lookup keys (``search.keys.reading_terms``), for sightings
        "document": STORED_ONLY,
    },
}

KEYS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"key_id": KEYWORD, "created_at": {"type": "date"}, "document": STORED_ONLY},
}

USERS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"username": KEYWORD, "created_at": {"type": "date"}, "document": STORED_ONLY},
}

AUDIT_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {
        "seq": {"type": "long"},
        "at": {"type": "date"},
        "action": KEYWORD,
        "principal": KEYWORD,
        "subject": KEYWORD,
        "intent": KEYWORD,  # the outbox intent an entry completed: recovery never appends it twice
        "entry": STORED_ONLY,
    },
}

# Writes announced before they are made (``outbox``): one document per subject being written.
OUTBOX_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"intent": KEYWORD, "kind": KEYWORD, "created": {"type": "double"}, "document": STORED_ONLY},
}

# Rate-limit state and daily usage (``counters``).
COUNTERS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"expires": {"type": "double"}, "document": STORED_ONLY},
}

JOBS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"status": KEYWORD, "created_at": {"type": "date"}, "owner": KEYWORD, "job_id": KEYWORD,
                   "results_purged": {"type": "boolean"}, "document": STORED_ONLY},
}
JOB_ROWS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"job_id": KEYWORD, "data": STORED_ONLY},
}

# Acting on a hit: confirmation requests, webhooks, their deliveries (the webhook outbox), sightings.
CONFIRMATIONS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"agency_key": KEYWORD, "checker": KEYWORD, "status": KEYWORD, "due": {"type": "double"},
                   "seq": {"type": "long"}, "document": STORED_ONLY},
}
WEBHOOKS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"owner": KEYWORD, "events": KEYWORD, "deleted": {"type": "boolean"}, "seq": {"type": "long"},
                   "document": STORED_ONLY},
}
DELIVERIES_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"webhook_id": KEYWORD, "status": KEYWORD, "next_attempt": {"type": "double"},
                   "seq": {"type": "long"}, "document": STORED_ONLY},
}
SIGHTINGS_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"document": STORED_ONLY},
}

# The change feed (``changes``): one document per report, its newest write, ordered by ``_seq_no``.
CHANGES_MAPPINGS: Final[dict[str, Any]] = {
    "dynamic": "strict",
    "properties": {"report_id": KEYWORD, "report": STORED_ONLY},
}
