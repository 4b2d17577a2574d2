"""What checks answer, shaped at the detail the asker may see.

A service decides the detail level from the actor (``Actor.match_detail``)
and puts it into the result it returns, so no caller (API, web, CLI, bulk
results) can forget the dealer's redaction: the only way to serialize a
match is through ``match_view`` with that level.  This module is the one
definition of a match's shape; ``registry.api.schemas.checks.MatchSchema``
documents it, and a test holds the two together.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from registry.access import CONTACT_ONLY
from registry.records import Document
from registry.vocabulary import HIT_MATCH_TYPES, SIMILAR, UNANSWERED_SOURCE_STATUSES
from search.matching import CheckOutcome, Match

if TYPE_CHECKING:
    from integrations.federation import SourceAnswer

LOCAL_SOURCE = "local"  # the ``source`` of a match from this registry
# What a dealer sees of a match: that the item is reported, how it matched and whether it is an
# alarm (a recovered machine reads as recovered), and whom to call; never what the investigation holds.
CONTACT_ONLY_FIELDS = ("external_ref", "status", "active", "match_type", "tier", "reporting_agency", "source",
                       "reference")


@dataclass(frozen=True)
class Decision:
    """The outcome of one reading, with each external source's answer for it."""

    outcome: CheckOutcome
    answers: Sequence[SourceAnswer]


@dataclass(frozen=True)
class CheckResult:
    """A recorded check: its record (id, time, query, verdict, where hits came from) and its
    outcome, to be shown at ``detail``."""

    record: Document
    outcome: CheckOutcome
    detail: str

    @property
    def verdict(self) -> str:
        return self.outcome.verdict

    def to_dict(self, explain: Callable[[Match], str] | None = None) -> dict[str, Any]:
        """What a check answers: the verdict, its matches at the detail the asker may see,
        where hits came from, how each source did and whether every one answered, and notes
        on what the reading let the check look for.  ``explain`` words each match's explanation
        (in the reader's language); by default it is search's English."""
        sources = self.record.get("sources", [])
        return {
            "check_id": self.record["check_id"],
            "checked_at": self.record["checked_at"],
            "verdict": self.outcome.verdict,
            "matches": [match_view(m, self.detail, explain) for m in self.outcome.matches],
            "hit_sources": self.record["hit_sources"],
            "sources": sources,
            **coverage(sources),
            "notes": self.outcome.notes,
            **replica_view(self.record),
        }


def replica_view(record: Document) -> dict[str, Any]:
    """On a replica: how current the copy that answered was (nothing at the centre)."""
    replica = record.get("replica")
    return {} if replica is None else {"registry_as_of": replica["registry_as_of"], "replica": replica}


def external_source(match: Match) -> str | None:
    """The external registry a match came from; ``None`` for this registry's reports."""
    source: str | None = match.report.get("external_source")
    return source


def hit_sources(outcome: CheckOutcome) -> list[str]:
    """Where the hit came from: the sources of active matches equal to the reading."""
    return sorted({
        external_source(m) or LOCAL_SOURCE
        for m in outcome.matches
        if m.active and m.match_type in HIT_MATCH_TYPES
    })


def source_view(answer: SourceAnswer) -> dict[str, Any]:
    """How one external source did for a check."""
    view: dict[str, Any] = {"name": answer.name, "status": answer.status, "elapsed_ms": answer.elapsed_ms,
                            "matches": len(answer.matches), "cached": answer.cached}
    if answer.detail:
        view["detail"] = answer.detail
    return view


def coverage(sources: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Whether every configured external registry answered (``complete``), and the names of those
    that failed, timed out or were unavailable: a ``no_match`` then vouches for less."""
    unanswered = [s["name"] for s in sources if s["status"] in UNANSWERED_SOURCE_STATUSES]
    return {"complete": not unanswered, "unanswered_sources": unanswered}


def match_view(match: Match, detail: str, explain: Callable[[Match], str] | None = None) -> dict[str, Any]:
    """One matched report, local or external, at ``detail``, its explanation worded by ``explain``
    (search's English when none)."""
    report = match.report
    source = external_source(match)
    full: dict[str, Any] = {
        "report_id": None if source else report["id"],
        "external_ref": report["external_ref"],
        "status": report["status"],
        "active": match.active,
        "identifier": _identifier(match),
        "score": match.score,
        "match_type": match.match_type,
        "tier": match.tier,
        "explanation": explain(match) if explain else english_explanation(match),
        "category": report.get("category"),
        "manufacturer": report.get("manufacturer"),
        "model": report.get("model"),
        "year": report.get("year"),
        "color": report.get("color"),
        "description": report.get("description"),
        "incident": report.get("incident"),
        "value": report.get("value"),
        "reporting_agency": report["reporting_agency"],
        "source": source or LOCAL_SOURCE,
        "review_due": report.get("review_due"),
        "recovery": report.get("recovery"),
    }
    if source:
        full["reference"] = report.get("external_reference")  # what to quote to follow up
    if detail == CONTACT_ONLY:
        return {name: full[name] for name in CONTACT_ONLY_FIELDS if name in full}
    return full


def english_explanation(match: Match) -> str:
    """Search's explanation, saying first when the report cannot make a hit."""
    if match.active:
        return match.explanation
    return f"report is {match.report['status']}: information only, not a hit; {match.explanation}"


def _identifier(match: Match) -> dict[str, str] | None:
    identifier = match.identifier
    return {"type": identifier["type"], "value": identifier["value"]} if identifier else None


def bulk_row_result(row: Document, decision: Decision | None, detail: str) -> dict[str, Any]:
    """What a bulk check answers about one uploaded row: its cells echoed, the verdict, the
    best match (at ``detail``), how many of the matches are similar serials rather than alarms,
    notes, and whether every external registry answered; or the row's error."""
    if decision is None:
        return {"row": row["number"], "input": row["cells"], "verdict": None, "match": None, "matches": 0,
                "similar_serials": 0, "notes": [], "complete": None, "unanswered_sources": [], "error": row["error"]}
    outcome = decision.outcome
    matches = outcome.matches
    return {
        "row": row["number"],
        "input": row["cells"],
        "verdict": outcome.verdict,
        "match": match_view(matches[0], detail) if matches else None,
        "matches": len(matches),
        "similar_serials": sum(m.tier == SIMILAR for m in matches),
        "notes": outcome.notes,
        **coverage([source_view(answer) for answer in decision.answers]),
        "error": row["error"],
    }
