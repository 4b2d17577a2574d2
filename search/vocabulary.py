"""The words matching decides with: which statuses can hit, match types, tiers, verdicts.

``registry.vocabulary`` re-exports these beside the registry's own words;
they are defined here because ``search`` imports nothing from ``registry``.
"""

from __future__ import annotations

from typing import Final

ACTIVE_STATUSES: Final = frozenset({"stolen", "missing"})  # report statuses that can make a hit

# Best first: ties between equal scores are broken in this order.
MATCH_TYPES: Final = ("exact", "normalized", "confusable", "fuzzy", "partial", "description")
HIT_MATCH_TYPES: Final = frozenset({"exact", "normalized"})

# How strong the evidence of one match is (``search.grading``): an alarm is very likely
# this machine misread; a similar serial is as likely another machine of the same series.
ALARM, SIMILAR = "alarm", "similar"
TIERS: Final = (ALARM, SIMILAR)

HIT, POSSIBLE_MATCH, SIMILAR_SERIALS, NO_MATCH = "hit", "possible_match", "similar_serials", "no_match"
VERDICTS: Final = (HIT, POSSIBLE_MATCH, SIMILAR_SERIALS, NO_MATCH)

# How the reading was obtained: typed by an officer (keyboard typos), copied from a file
# (almost no typos), or read by OCR (look-alike confusions).
TYPED, COPIED, OCR = "typed", "copied", "ocr"
READING_SOURCES: Final = (TYPED, COPIED, OCR)
