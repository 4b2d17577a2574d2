"""Why a reading matched a report, as structured reasons that can be put in any language.

``search`` explains a match in one English sentence (``Match.explanation``).
This module builds the same explanation from the match's structured
differences: its edits (``Match.edits``), the look-alike letters the reading
was typed with, the part of a tail that was not read, the structure problems
of a VIN or PIN (``search.identifiers.structure_findings``), the grounds of
its grade (``Match.grounds``: why it is an alarm or a similar serial,
``search.grading.GROUNDS``), what the query said of the item.  Each
``Reason`` is an English template, which is the message id a translation
catalog looks up, and its values; rendered with no translation it gives back
``Match.explanation`` word for word (a test holds the two together), so a new
kind of reason in ``search`` shows up there until it has a template here.

``highlighted`` marks, in the registered value, the characters that differ
from the reading, for a page to show.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from search.attributes import analyse, describe_report
from search.description import compare_description
from search.grading import GROUNDS, Context
from search.identifiers import STRUCTURE_PROBLEMS, structure_findings
from search.matching import Match
from search.normalize import lookalikes_typed, normalize
from search.query import CheckQuery
from search.scoring import SAME_AFTER_NORMALIZATION, Edit
from search.vocabulary import HIT_MATCH_TYPES

Translate = Callable[[str], str]


def N_(message: str) -> str:  # noqa: N802 - the conventional marker of a message id for extraction
    """Marks a message id for ``pybabel extract`` without translating it here."""
    return message


IDENTICAL = N_("identical to the registered value")
SAME = N_(SAME_AFTER_NORMALIZATION)
INACTIVE = N_("report is %(status)s: information only, not a hit")
SUBSTITUTED = N_("query has %(query)s where the record has %(record)s at position %(position)d")
MISREAD = N_("query has %(query)s where the record has %(record)s at position %(position)d (often misread)")
EXTRA_AT_START = N_("query has an extra %(query)s at the start")
EXTRA = N_("query has an extra %(query)s after position %(position)d")
MISSING = N_("query is missing %(record)s at position %(position)d")
SWAPPED = N_("query has %(query)s where the record has %(record)s at positions %(position)d-%(next)d "
             "(swapped neighbours)")
LOOKALIKES = N_("query was typed with non-Latin look-alike letters (%(letters)s)")
LOOKALIKE = N_("%(typed)s for %(latin)s")
TAIL = N_("query matches the last %(legible)d of %(length)d characters; the first %(unread)d (%(prefix)s) "
          "were not read")
TAIL_MISREAD = N_("query matches the last %(legible)d of %(length)d characters; the first %(unread)d "
                  "(%(prefix)s) were not read, %(misreads)d of the matched characters read as look-alikes")
CONTEXT_DIFFERS = {
    "manufacturer": N_("manufacturer differs (query %(asked)s, record %(registered)s)"),
    "model": N_("model differs (query %(asked)s, record %(registered)s)"),
    "category": N_("category differs (query %(asked)s, record %(registered)s)"),
}
STRUCTURE = {code: N_(template) for code, template in STRUCTURE_PROBLEMS.items()}
GROUND = {template: N_(template) for template in GROUNDS}  # why a match is an alarm or a similar serial
MESSAGES = (IDENTICAL, SAME, INACTIVE, SUBSTITUTED, MISREAD, EXTRA_AT_START, EXTRA, MISSING, SWAPPED, LOOKALIKES,
            LOOKALIKE, TAIL, TAIL_MISREAD, *CONTEXT_DIFFERS.values(), *STRUCTURE.values(), *GROUND.values())


def _same(text: str) -> str:
    return text


@dataclass(frozen=True)
class Reason:
    """One part of an explanation: an English template and its values.  Values named in
    ``terms`` are words of the registry's vocabulary (a status), translated too."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)
    terms: tuple[str, ...] = ()
    parts: tuple[Reason, ...] = ()  # rendered and joined with ", " as the value ``letters``

    def render(self, translate: Translate = _same, term: Translate = _same) -> str:
        values = {name: term(value) if name in self.terms else value for name, value in self.values.items()}
        if self.parts:
            values["letters"] = ", ".join(part.render(translate, term) for part in self.parts)
        return translate(self.template) % values if values else translate(self.template)


def explain(match: Match, query: CheckQuery) -> list[Reason]:
    """The reasons ``search`` gave for ``match``, as structure."""
    reasons = [] if match.active else [Reason(INACTIVE, {"status": match.report["status"]}, ("status",))]
    identifier = match.identifier
    reading = query.identifier or ""
    if match.match_type == "exact":
        reasons.append(Reason(IDENTICAL))
    elif match.match_type == "normalized":
        reasons += [Reason(SAME), *_lookalikes(reading)]
    elif match.match_type == "partial" and identifier is not None:
        reasons += [_tail(normalize(reading), normalize(identifier["value"])), *_lookalikes(reading)]
    elif identifier is not None:
        typed, registered = normalize(reading), normalize(identifier["value"])
        hints = structure_findings(identifier["type"], typed) if len(typed) == len(registered) else []
        reasons += [*map(edit_reason, match.edits), *_lookalikes(reading),
                    *(Reason(STRUCTURE[h.code], h.params) for h in hints)]
    else:
        reasons.append(_description(query.description or "", match.report))
    reasons += [Reason(GROUND[ground.template], dict(ground.values)) for ground in match.grounds]
    if match.match_type not in HIT_MATCH_TYPES:
        reasons += _context(query, match.report)
    return reasons


def render(reasons: list[Reason], translate: Translate = _same, term: Translate = _same) -> str:
    """An explanation in one sentence, parts separated by semicolons, as ``search`` writes it."""
    rendered = [reason.render(translate, term) for reason in reasons]
    if reasons and reasons[0].template == INACTIVE:
        return f"{rendered[0]}; {'; '.join(rendered[1:])}"
    return "; ".join(rendered)


def edit_reason(edit: Edit) -> Reason:
    values = {"query": edit.query_text, "record": edit.record_text, "position": edit.position}
    if edit.kind == "sub":
        return Reason(MISREAD if edit.is_confusable else SUBSTITUTED, values)
    if edit.kind == "extra":
        return Reason(EXTRA_AT_START if edit.position == 0 else EXTRA, values)
    if edit.kind == "missing":
        return Reason(MISSING, values)
    return Reason(SWAPPED, {**values, "next": edit.position + 1})


def _lookalikes(reading: str) -> list[Reason]:
    typed = lookalikes_typed(reading)
    if not typed:
        return []
    parts = tuple(Reason(LOOKALIKE, {"typed": c, "latin": latin}) for c, latin in typed)
    return [Reason(LOOKALIKES, parts=parts)]


def _tail(typed: str, registered: str) -> Reason:
    unread = len(registered) - len(typed)
    misreads = sum(a != b for a, b in zip(typed, registered[unread:]))
    values = {"legible": len(typed), "length": len(registered), "unread": unread, "prefix": registered[:unread],
              "misreads": misreads}
    return Reason(TAIL_MISREAD if misreads else TAIL, values)


def _description(description: str, report: Mapping[str, Any]) -> Reason:
    """What a description confirms, as ``search.description`` words it.  That wording has no
    structure yet, so it is shown as written (English) in every language."""
    comparison = compare_description(analyse(description), describe_report(report))
    return Reason(comparison.explanation if comparison else "")


def _context(query: CheckQuery, report: Mapping[str, Any]) -> list[Reason]:
    """What the query said of the item that the report contradicts (as ``search.grading`` judges it)."""
    return [Reason(CONTEXT_DIFFERS[name], {"asked": asked, "registered": registered})
            for name, asked, registered in Context.of(query, report).differing]


@dataclass(frozen=True)
class Segment:
    """A run of the registered value: ``differs`` (the reading has something else there),
    ``unread`` (a tail reading did not reach it) or ``None`` (as read)."""

    text: str
    mark: str | None = None


def highlighted(match: Match, reading: str) -> list[Segment]:
    """The registered value of ``match`` in runs, marking where the reading differs from it."""
    if match.identifier is None:
        return []
    value: str = match.identifier["value"]
    registered = normalize(value)
    marks: dict[int, str] = {}  # 0-based positions in the normalized value
    if match.match_type == "partial":
        unread = len(registered) - len(normalize(reading))
        marks.update(dict.fromkeys(range(unread), "unread"))
    for edit in match.edits:
        first = max(edit.position - 1, 0)
        width = 2 if edit.kind == "swap" else 1
        marks.update(dict.fromkeys(range(first, min(first + width, len(registered))), "differs"))
    return _runs(value, registered, marks)


def _runs(value: str, registered: str, marks: dict[int, str]) -> list[Segment]:
    """Carry marks of normalized positions onto the value as registered (separators kept)."""
    segments: list[Segment] = []
    position = 0
    for char in value:
        mark = None
        if normalize(char):
            mark = marks.get(position)
            position += len(normalize(char))
        if segments and segments[-1].mark == mark:
            segments[-1] = Segment(segments[-1].text + char, mark)
        else:
            segments.append(Segment(char, mark))
    return segments
