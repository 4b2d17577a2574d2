"""How much damage a reading may have and still be matched: the one place to tune matching.

Both the lookup keys (``search.keys``) and the scorer (``search.scoring``)
follow these numbers, so retrieval never misses what scoring would accept.
Changing a length threshold changes the keys an identifier is indexed
under: rebuild the indices afterwards (``irontrace es reindex``, or a fresh
``irontrace import`` into a new SQLite file).
"""

from __future__ import annotations

from typing import Final

MIN_FUZZY_LENGTH: Final = 6  # shorter values collide too often for edit-distance matching
MIN_TWO_EDIT_LENGTH: Final = 8  # from this length on a value may carry two typos, below it one
LONG_VALUE_LENGTH: Final = 12  # from here three pigeonhole classes, one per key, are selective enough
MIN_PARTIAL_LENGTH: Final = 6  # the shortest legible tail worth matching
MAX_EDITS: Final = 2  # typos (non-confusable edits) a fuzzy match may have
MAX_EDITS_SHORT: Final = 1  # ... for values shorter than MIN_TWO_EDIT_LENGTH
MAX_MISSING_CHARACTERS: Final = 2  # characters a reading may lack and still be matched
INDEX_DELETIONS: Final = 1  # deletion neighbourhood stored for every registered value
QUERY_DELETIONS: Final = 2  # deletion neighbourhood looked up for a reading

# When a legible tail is selective enough to be strong evidence (``search.grading``).  The
# running number is the registered value's last run of digits: machines of one series share
# everything before it, so a tail must hold all of it and reach into the characters before it.
SELECTIVE_TAIL_FIXED_CHARACTERS: Final = 2  # characters before the running number a tail must hold

# How many candidates one check may pull from each retrieval path.  Every
# engine orders identifier candidates by the number of lookup keys they share
# with the reading (most first), then oldest first; tails and description
# candidates likewise, so that engines hand the scorer the same candidates.
KEY_CANDIDATE_LIMIT: Final = 200
SUFFIX_CANDIDATE_LIMIT: Final = 50
TEXT_CANDIDATE_LIMIT: Final = 50

# Description candidates (``search.text.plan_description_lookup``): the query's
# rarest terms, while together they index at most this many reports, are its
# anchors; every report holding one is ranked by the weight of all the terms
# it shares with the query.  The query's other, common, attributes fill the
# candidates up to TEXT_CANDIDATE_LIMIT with the oldest reports holding all of
# them.  Engines count a term's reports only up to this number, so both see the
# same anchors; it bounds what a check reads of the index.
DESCRIPTION_ANCHOR_POSTINGS: Final = 2_000


def allowed_typos(record_length: int) -> int:
    """Typos a fuzzy match on a registered value of this length may have."""
    return MAX_EDITS_SHORT if record_length < MIN_TWO_EDIT_LENGTH else MAX_EDITS
