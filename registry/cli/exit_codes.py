"""Exit codes of ``irontrace check`` and ``bulk-check``: scripts act on the verdict, never on text.

A failure to check at all (no registry, a server that refused, a file that
cannot be read) is 1, and a mistake in the command line 2, as for every
command; neither can be mistaken for an all clear, which is 0 alone.
"""

from __future__ import annotations

from collections.abc import Mapping

NO_MATCH = 0
FAILED = 1
USAGE = 2
HIT = 3
POSSIBLE_MATCH = 4
INCOMPLETE = 5  # no match here, but an external registry did not answer: not an all clear
UNCHECKED_ROWS = 6  # bulk-check: no hit and no possible match, but some rows could not be checked
SIMILAR_SERIALS = 7  # no alarm, but reported machines have similar serials (a neighbour in a series, or a typo)

HELP = f"""\b
Exit codes:
  {NO_MATCH}  no match (every configured registry answered)
  {HIT}  hit: a stolen or missing report
  {POSSIBLE_MATCH}  possible match: check the plate again
  {INCOMPLETE}  no alarm, but an external registry did not answer
  {SIMILAR_SERIALS}  no alarm, but reported machines have similar serials (listed for reference)
  {UNCHECKED_ROWS}  (bulk-check) no hit or possible match, but some rows could not be checked
  {FAILED}  the check could not be made (no registry, refused, unreadable)
  {USAGE}  bad command line
A file's code is that of its most serious row, in the order {HIT}, {POSSIBLE_MATCH}, {UNCHECKED_ROWS}, {INCOMPLETE},
{SIMILAR_SERIALS}."""


def for_check(verdict: str, complete: bool) -> int:
    """The exit code of one check's answer."""
    if verdict == "hit":
        return HIT
    if verdict == "possible_match":
        return POSSIBLE_MATCH
    if not complete:
        return INCOMPLETE
    return SIMILAR_SERIALS if verdict == "similar_serials" else NO_MATCH


def for_rows(counts: Mapping[str, int]) -> int:
    """The exit code of a file's counts (``hits``, ``possible_matches``, ``errors``, ``incomplete_rows``,
    ``similar_serials``)."""
    for counter, code in (("hits", HIT), ("possible_matches", POSSIBLE_MATCH), ("errors", UNCHECKED_ROWS),
                          ("incomplete_rows", INCOMPLETE), ("similar_serials", SIMILAR_SERIALS)):
        if counts.get(counter):
            return code
    return NO_MATCH
