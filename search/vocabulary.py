"""The words matching decides with: which statuses can hit, match types and verdicts.

``registry.vocabulary`` re-exports these beside the registry's own words;
they are defined here because ``search`` imports nothing from ``registry``.
"""

from __future__ import annotations

from typing import Final

ACTIVE_STATUSES: Final = frozenset({"stolen", "missing"})  # report statuses that can make a hit

# Best first: ties between equal scores are broken in this order.
MATCH_TYPES: Final = ("exact", "normalized", "confusable", "fuzzy", "partial", "description")
HIT_MATCH_TYPES: Final = frozenset({"exact", "normalized"})

HIT, POSSIBLE_MATCH, NO_MATCH = "hit", "possible_match", "no_match"
VERDICTS: Final = (HIT, POSSIBLE_MATCH, NO_MATCH)
