"""What a check asks: the reading and what the officer knows about the item."""

from __future__ import annotations

from dataclasses import dataclass

from search.vocabulary import TYPED


@dataclass(frozen=True)
class CheckQuery:
    """What an officer read and knows about the item in front of them."""

    identifier: str | None = None
    manufacturer: str | None = None
    category: str | None = None
    description: str | None = None
    model: str | None = None
    reading_source: str = TYPED  # how the reading was obtained: typed, copied (from a file) or ocr
