"""What a check asks: the reading and what the officer knows about the item."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckQuery:
    """What an officer read and knows about the item in front of them."""

    identifier: str | None = None
    manufacturer: str | None = None
    category: str | None = None
    description: str | None = None
