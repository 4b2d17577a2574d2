"""Candidate retrieval in Elasticsearch: the paths of the embedded engine, with its limits.

Lookup keys are plain ``keyword`` terms and trailing parts a ``prefix`` query
on a keyword field of reversed skeletons: the index needs no analysis plugin
(the official test distribution ships none, and managed clusters often
restrict them), and both engines retrieve the same candidates by
construction.  Only the order among more than 50 reports sharing a trailing
part differs (oldest first here, by suffix in SQLite).  Description terms are
keywords too: a description check first counts each term's reports (one
``msearch``, capped as SQLite caps them), and ``search.text`` plans the
searches from those counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from elasticsearch import Elasticsearch

from registry.errors import StorageUnavailable
from registry.records import Document, Report
from registry.storage.elasticsearch.cluster import Cluster
from registry.storage.elasticsearch.reports import ref_id_of
from registry.storage.interfaces import Lookup
from search.keys import IdentifierKeys
from search.policy import (
    DESCRIPTION_ANCHOR_POSTINGS,
    KEY_CANDIDATE_LIMIT,
    MIN_PARTIAL_LENGTH,
    SUFFIX_CANDIDATE_LIMIT,
    TEXT_CANDIDATE_LIMIT,
)
from search.scoring import reaches_any
from search.text import DescriptionLookup, description_candidates, plan_description_lookup, query_description_terms

# Enough to screen a candidate and name it (its ``_id`` is ``ref_id_of`` these fields), all from doc
# values.  No stored field at all, not even ``_id``: a hit's stored fields sit in compressed blocks
# of whole report documents, and decompressing one block per hit was 5 of the 9 ms a key search of
# 200 hits took at a million reports.
SCREENING_FIELDS: dict[str, Any] = {"stored_fields": "_none_",
                                    "docvalue_fields": ["skeletons", "agency_key", "external_ref"]}
WHOLE_DOCUMENT: dict[str, Any] = {"_source": ["document"]}
KEYS, SUFFIX, ANCHORED, HOLDING_ALL = "keys", "suffix", "anchored", "holding_all"  # the retrieval paths


class ElasticsearchCandidateIndex:
    """Searches the fields ``reports.content_fields`` indexes with every report."""

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def find_candidates_many(self, lookups: Sequence[Lookup]) -> list[list[Report]]:
        """The retrieval paths of the SQLite engine, with its limits and screening.

        One ``msearch`` returns only the identifier skeletons and names of
        identifier candidates (from doc values); those that reach the reading are
        then fetched whole with one ``mget``.  Loading and shipping every
        candidate's full document would dominate a check.  A batch of checks
        (bulk checks) sends the searches of all of them in that one
        ``msearch`` and fetches each screened report once.
        """
        with self.cluster.session() as es:
            plans = self._description_plans(es, [description for _, description in lookups])
            searches = [_candidate_searches(keys, plan) for (keys, _), plan in zip(lookups, plans)]
            flat = [body for bodies in searches for _, body in bodies]
            if not flat:
                return [[] for _ in lookups]
            responses = iter(self._msearch(es, flat))
            hits_per_lookup = [{path: next(responses)["hits"]["hits"] for path, _ in bodies} for bodies in searches]
            whole = {h["_id"]: h["_source"]["document"]
                     for hits in hits_per_lookup for path_hits in hits.values() for h in path_hits if "_source" in h}
            screened = [
                [_screened_id(h) for path in (KEYS, SUFFIX) for h in hits.get(path, ())
                 if keys is not None and reaches_any(keys.skeleton, h["fields"]["skeletons"])]
                + description_candidates([h["_id"] for h in hits.get(ANCHORED, ())],
                                         [h["_id"] for h in hits.get(HOLDING_ALL, ())])
                for hits, (keys, _) in zip(hits_per_lookup, lookups)
            ]
            wanted = list(dict.fromkeys(i for ids in screened for i in ids if i not in whole))
            if wanted:
                found = es.mget(index=self.cluster.reports_alias, ids=wanted, source_includes=["document"])["docs"]
                whole.update({d["_id"]: d["_source"]["document"] for d in found if d.get("found")})
        candidates = []
        for ids in screened:
            by_report: dict[str, Report] = {}
            for doc_id in ids:
                if doc_id in whole:
                    by_report.setdefault(whole[doc_id]["id"], whole[doc_id])
            candidates.append(list(by_report.values()))
        return candidates

    def _description_plans(self, es: Elasticsearch, descriptions: list[str | None]) -> list[DescriptionLookup | None]:
        """Each description's lookup plan, from one ``msearch`` counting its terms' reports (up to the cap)."""
        weights = [query_description_terms(d) if d else {} for d in descriptions]
        counted = sorted({t for w in weights for t in w})
        if not counted:
            return [None for _ in descriptions]
        counts = self._msearch(es, [{"size": 0, "track_total_hits": DESCRIPTION_ANCHOR_POSTINGS + 1,
                                     "query": {"term": {"description_terms": t}}} for t in counted])
        postings = {t: c["hits"]["total"]["value"] for t, c in zip(counted, counts)}
        return [plan_description_lookup(w, postings) if w else None for w in weights]

    def _msearch(self, es: Elasticsearch, searches: list[Document]) -> list[Document]:
        """Responses to searches of the reports, in order; a failed one fails them all."""
        responses = es.msearch(index=self.cluster.reports_alias, searches=[part for s in searches for part in ({}, s)])[
            "responses"]
        for response in responses:
            if "error" in response:
                error = response["error"]
                raise StorageUnavailable(f"Elasticsearch could not search for candidates ({error.get('type')}).")
        return responses


def _screened_id(hit: Document) -> str:
    """The ``_id`` of a hit searched with ``SCREENING_FIELDS``."""
    fields = hit["fields"]
    return ref_id_of(fields["agency_key"][0], fields["external_ref"][0])


def _candidate_searches(keys: IdentifierKeys | None, plan: DescriptionLookup | None) -> list[tuple[str, Document]]:
    """The searches of one check, each with its path: shared keys, shared trailing part, description terms."""
    searches: list[tuple[str, Document]] = []
    if keys is not None:
        # Each shared key adds exactly 1 to the score: best = most keys in common, then oldest.
        shared = [{"constant_score": {"filter": {"term": {"terms": t}}, "boost": 1}} for t in keys.terms]
        searches.append((KEYS, _search({"bool": {"should": shared}}, KEY_CANDIDATE_LIMIT, SCREENING_FIELDS,
                                       ranked=True)))
        if len(keys.skeleton) >= MIN_PARTIAL_LENGTH:
            searches.append((SUFFIX, _search({"prefix": {"suffix_keys": keys.suffix_key}}, SUFFIX_CANDIDATE_LIMIT,
                                             SCREENING_FIELDS)))
    if plan is not None and plan.anchors:
        # Each query term a report holds adds its weight: best = heaviest in common, then oldest.
        held = [{"constant_score": {"filter": {"term": {"description_terms": t}}, "boost": w}}
                for t, w in plan.weights.items()]
        anchored = {"bool": {"filter": [{"terms": {"description_terms": list(plan.anchors)}}], "should": held}}
        searches.append((ANCHORED, _search(anchored, TEXT_CANDIDATE_LIMIT, WHOLE_DOCUMENT, ranked=True)))
    if plan is not None and plan.required:
        holding_all = {"bool": {"filter": [{"term": {"description_terms": t}} for t in plan.required]}}
        searches.append((HOLDING_ALL, _search(holding_all, TEXT_CANDIDATE_LIMIT, WHOLE_DOCUMENT)))
    return searches


def _search(query: Document, size: int, returned: Document, ranked: bool = False) -> Document:
    """One ``msearch`` body: best score first (then oldest) when ranked, else oldest first."""
    sort = [{"_score": "desc"}, {"seq": "asc"}] if ranked else [{"seq": "asc"}]
    return {"query": query, "size": size, "sort": sort, "track_total_hits": False, **returned}
