"""Examples for the OpenAPI document: what a client sends and gets, from the demo registry's
Tulkubas case.  ``tests/test_openapi_document.py`` holds each to its schema."""

from __future__ import annotations

from typing import Any

from registry.files.results import csv_lines

REPORT_ID = "01a21362-b95b-7a3e-99d2-01ddabfc8f0d"
AGENCY = {"name": "Police Department of Turkestan Region", "country": "KZ",
          "contact": "Criminal Police Division, duty officer, stolen-equipment@trk.police.example"}

REPORT_INPUT: dict[str, Any] = {
    "external_ref": "KZ-TRK-2026-008741/2",
    "status": "stolen",
    "category": "excavator",
    "manufacturer": "Komatsu",
    "model": "PC300-8",
    "year": 2019,
    "identifiers": [{"type": "pin", "value": "KMTPC300C55A17044", "location": "plate on the right side of the boom"}],
    "description": "Yellow tracked excavator, held on the impound lot since November.",
    "incident": {"date": "2026-11-14", "country": "KZ", "region": "Turkestan", "place": "Tulkubas impound lot"},
    "value": {"amount": 180000000, "currency": "KZT"},
    "reporting_agency": AGENCY,
}
REPORT: dict[str, Any] = {**REPORT_INPUT, "id": REPORT_ID, "version": 1, "created_at": "2026-11-25T15:40:02.118Z",
                          "updated_at": "2026-11-25T15:40:02.118Z", "review_at": "2027-11-25T15:40:02.118Z",
                          "review_due": False}
RECOVERY: dict[str, Any] = {"date": "2026-11-26", "place": "Zhibek Zholy border post", "country": "KZ",
                            "agency": "Border Service of Kazakhstan, Zhibek Zholy post",
                            "note": "Found on a low-loader bound for Uzbekistan; the PIN plate had been ground off."}
REPORT_PATCH: dict[str, Any] = {"status": "recovered", "recovery": RECOVERY, "description": None}
REPORT_PATCHED: dict[str, Any] = {**{k: v for k, v in REPORT.items() if k != "description"}, "status": "recovered",
                                  "recovery": RECOVERY, "version": 2, "updated_at": "2026-11-27T08:12:45.500Z",
                                  "review_at": None}
REPORT_VALIDATED: dict[str, Any] = {**REPORT, "version": 2, "updated_at": "2027-11-20T09:30:00.000Z",
                                    "validated_at": "2027-11-20T09:30:00.000Z", "review_at": "2028-11-20T09:30:00.000Z"}
REPORT_PAGE: dict[str, Any] = {"items": [REPORT], "next_cursor": "MTIz"}

CHECK_REQUEST: dict[str, Any] = {"identifier": "КМТ РС300 С55А17О44", "manufacturer": "Komatsu"}
MATCH: dict[str, Any] = {
    "report_id": REPORT_ID, "external_ref": "KZ-TRK-2026-008741/2", "status": "stolen", "active": True,
    "identifier": {"type": "pin", "value": "KMTPC300C55A17044"}, "score": 0.9757, "match_type": "confusable",
    "tier": "alarm", "explanation": "query has O where the record has 0 at position 15 (often misread)",
    "category": "excavator", "manufacturer": "Komatsu", "model": "PC300-8", "reporting_agency": AGENCY,
    "source": "local", "review_due": False, "recovery": None,
}
CHECK_RESULT: dict[str, Any] = {
    "check_id": "01a21362-bb18-77cc-98a1-e9ba1f390f21", "checked_at": "2026-11-25T15:46:07.256Z",
    "verdict": "possible_match", "matches": [MATCH], "hit_sources": [], "sources": [], "complete": True,
    "unanswered_sources": [], "notes": [],
}

JOB: dict[str, Any] = {
    "id": "01a21370-0c1e-7d2a-8f3b-5e6f7a8b9c0d", "status": "running", "created_at": "2026-11-25T16:02:11.031Z",
    "started_at": "2026-11-25T16:02:11.412Z", "finished_at": None, "format": "csv", "filename": "inventory.csv",
    "rows_total": 12000, "rows_done": 4500, "hits": 1, "possible_matches": 3, "similar_serials": 2,
    "no_matches": 4488, "errors": 6, "incomplete_rows": 0, "eta_seconds": 14.2, "error": None,
}
JOB_PAGE: dict[str, Any] = {"items": [JOB], "next_cursor": None}
ROW_RESULT: dict[str, Any] = {"row": 2, "input": {"serial": "KMTPC300C55A17044", "lot": "17"}, "verdict": "hit",
                              "match": {**MATCH, "score": 1.0, "match_type": "exact", "explanation": "exact"},
                              "matches": 1, "similar_serials": 0, "notes": [], "complete": True,
                              "unanswered_sources": [], "error": None}
SYNC_RESULT: dict[str, Any] = {"rows_total": 1, "hits": 1, "possible_matches": 0, "similar_serials": 0,
                               "no_matches": 0, "errors": 0, "incomplete_rows": 0, "results": [ROW_RESULT]}
# UTF-8 with a BOM, in the upload's delimiter: what Excel opens by double-click in any locale.
RESULTS_CSV = "".join(csv_lines([ROW_RESULT], list(ROW_RESULT["input"])))

SOURCES: list[dict[str, Any]] = [{"name": "smv", "status": "ok", "circuit": "closed"}]

KEY_CREATE: dict[str, Any] = {"role": "border", "label": "post 7, Zhibek Zholy", "expires": "2027-06-30"}
KEY: dict[str, Any] = {"key_id": "5f0c3a9e1d2b4c6f", "role": "border", "agency": None, "label": "post 7, Zhibek Zholy",
                       "created_at": "2026-11-25T09:00:00.000Z", "expires_at": "2027-06-30T00:00:00.000Z",
                       "revoked_at": None, "state": "active"}
KEY_CREATED: dict[str, Any] = {**KEY, "key": "itk_5f0c3a9e1d2b4c6f_Q2xhc3NpZmllZCBzZWNyZXQgZXhhbXBsZQ"}
KEY_REVOKED: dict[str, Any] = {**KEY, "revoked_at": "2026-12-01T10:00:00.000Z", "state": "revoked"}
KEY_LIST: dict[str, Any] = {"items": [KEY]}

AUDIT_ENTRY: dict[str, Any] = {
    "seq": 42, "at": "2026-11-25T15:46:07.260Z", "action": "check",
    "actor": {"principal": "5f0c3a9e1d2b4c6f", "role": "border", "agency": None, "address": "10.20.0.7"},
    "subject": "01a21362-bb18-77cc-98a1-e9ba1f390f21",
    "details": {"query": CHECK_REQUEST, "verdict": "possible_match", "matched_report_ids": [REPORT_ID]},
    "prev_hash": "9c1d4e0b7f3a6b2c8d5e1f4a7b0c3d6e9f2a5b8c1d4e7f0a3b6c9d2e5f8a1b4c",
    "hash": "2b5e8f1c4d7a0b3e6f9c2d5a8b1e4f7c0d3a6b9e2f5c8d1a4b7e0f3c6d9a2b5e",
}
AUDIT_PAGE: dict[str, Any] = {"items": [AUDIT_ENTRY], "next_cursor": "NDI"}
AUDIT_NDJSON = '{"seq": 42, "at": "2026-11-25T15:46:07.260Z", "action": "check", "...": "..."}\n'
CHAIN_REPORT: dict[str, Any] = {"intact": True, "entries": 42, "head_seq": 42, "head_hash": AUDIT_ENTRY["hash"],
                                "broken_at": None, "reason": None, "published": None, "pending": 0}

LIVE: dict[str, Any] = {"status": "ok"}
READY: dict[str, Any] = {"status": "ready", "storage": "sqlite"}
METRICS_TEXT = ('# HELP irontrace_checks_total Readings checked (single and bulk), by verdict and the best match\'s '
                'type\n# TYPE irontrace_checks_total counter\n'
                'irontrace_checks_total{match_type="confusable",verdict="possible_match"} 1.0\n')

# Acting on a hit: the Tulkubas excavator, checked at the border, confirmed by its agency.
CHECK_ID = "01a21d5e-0c3b-7f41-8a2e-6b1f0d3c9e77"
CONFIRMATION_ID = "01a21d5f-47a0-7c12-9b55-0e2d7a61c3f4"
BORDER_POST = {"principal": "key:5f2c1a9e8b7d6c4a", "role": "border", "agency": None, "address": "10.20.0.7"}
CONFIRMATION_REQUEST: dict[str, Any] = {
    "report_id": REPORT_ID, "priority": "urgent", "location": "Zhibek Zholy border post, lane 3",
    "note": "Plate read off the boom; the driver holds a sale contract from Shymkent.",
}
CONFIRMATION: dict[str, Any] = {
    "id": CONFIRMATION_ID, "check_id": CHECK_ID, "report_id": REPORT_ID,
    "external_ref": REPORT_INPUT["external_ref"], "agency": AGENCY["name"],
    "checker": BORDER_POST, "priority": "urgent", "location": CONFIRMATION_REQUEST["location"],
    "note": CONFIRMATION_REQUEST["note"], "status": "open", "requested_at": "2026-11-27T09:14:05.331Z",
    "due_at": "2026-11-27T09:24:05.331Z", "answer": None,
}
CONFIRMATION_ANSWER: dict[str, Any] = {"outcome": "confirmed"}
CONFIRMATION_ANSWERED: dict[str, Any] = {
    **CONFIRMATION, "status": "confirmed",
    "answer": {"outcome": "confirmed", "reason": None, "answered_at": "2026-11-27T09:19:40.012Z",
               "answered_by": {"principal": "key:9a0b1c2d3e4f5a6b", "role": "agency", "agency": AGENCY["name"],
                               "address": "10.1.4.22"}},
}
CONFIRMATION_PAGE: dict[str, Any] = {"items": [CONFIRMATION], "next_cursor": None}
WEBHOOK_CREATE: dict[str, Any] = {"url": "https://hooks.trk.police.example/irontrace",
                                  "events": ["check.matched", "confirmation.requested"]}
WEBHOOK: dict[str, Any] = {
    "id": "01a21c40-9d1e-7b33-a0f2-55c8e9d10a6b", **WEBHOOK_CREATE,
    "owner": {"principal": "key:9a0b1c2d3e4f5a6b", "role": "agency", "agency": AGENCY["name"], "address": "10.1.4.22"},
    "created_at": "2026-11-26T10:02:11.870Z", "deleted_at": None,
}
WEBHOOK_CREATED: dict[str, Any] = {**WEBHOOK, "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw1Fzr4U0lV0M="}
WEBHOOK_LIST: dict[str, Any] = {"items": [WEBHOOK]}
WEBHOOK_DELETED: dict[str, Any] = {**WEBHOOK, "deleted_at": "2026-11-28T16:40:00.000Z"}
DELIVERY: dict[str, Any] = {
    "id": "01a21d5e-0c41-7aa0-8d13-2f6c51b0e9a2", "webhook_id": WEBHOOK["id"], "type": "check.matched",
    "body": '{"type":"check.matched","timestamp":"2026-11-27T09:13:58.102Z","data":{"check_id":"' + CHECK_ID + '"}}',
    "status": "delivered", "attempts": 1, "created_at": "2026-11-27T09:13:58.102Z",
    "last_attempt_at": "2026-11-27T09:13:58.102Z", "last_response": "204", "delivered_at": "2026-11-27T09:13:58.102Z",
    "next_attempt_at": None,
}
DELIVERY_PAGE: dict[str, Any] = {"items": [DELIVERY], "next_cursor": None}
DELIVERY_REDELIVERED: dict[str, Any] = {**DELIVERY, "status": "pending", "next_attempt_at": "2026-11-28T08:00:00.000Z"}
SIGHTINGS: dict[str, Any] = {
    "report_id": REPORT_ID, "found_at": "2026-11-25T15:40:02.118Z",
    "sightings": [{"check_id": CHECK_ID, "checked_at": "2026-11-03T11:52:40.004Z", "reading": "KMTPC300C55A17O44",
                   "verdict_now": "hit", "match_type": "confusable", "score": 0.99,
                   "checker": {"role": "border", "agency": None}}],
}

CHANGES_PAGE: dict[str, Any] = {
    "changes": [{"op": "upsert", "report_id": REPORT["id"], "report": REPORT},
                {"op": "remove", "report_id": "01a21362-bb18-77cc-98a1-e9ba1f390f99"}],
    "next": "NDI", "more": False, "as_of": "2026-11-25T15:46:07.256Z"}
FORWARDED_CHECKS: dict[str, Any] = {"checks": [{
    "check_id": CHECK_RESULT["check_id"], "checked_at": CHECK_RESULT["checked_at"],
    "query": {"identifier": "CAT0336DLTJF00123"}, "verdict": "hit", "matched_report_ids": [REPORT["id"]],
    "hit_sources": ["local"], "checker": {"principal": "key:7f3a", "role": "border", "agency": None,
                                          "address": "10.0.0.7"},
    "terms": [], "replica": {"centre": "https://irontrace.example", "registry_as_of": "2026-11-25T15:30:00+00:00",
                             "stale": False, "warning": None}}]}
FORWARDED_OUTCOME: dict[str, Any] = {"recorded": [CHECK_RESULT["check_id"]], "already_recorded": []}
