"""Opaque page cursors: an engine's position, encoded so that clients cannot forge a meaningful one."""

from __future__ import annotations

import base64
import json
from typing import Any

from registry.errors import InvalidRequest
from registry.validation import load_json

BAD_CURSOR = "The cursor is not one this service issued."
LARGEST_POSITION = 2**63 - 1  # positions are 64-bit integers in every engine


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expected: type) -> Any:
    """The position a cursor encodes; ``InvalidRequest`` for anything this service did not issue
    (including integers no engine can hold and strings no engine can encode)."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = load_json(base64.urlsafe_b64decode(padded.encode()))
    except ValueError as exc:
        raise InvalidRequest(BAD_CURSOR) from exc
    if not isinstance(position, expected) or isinstance(position, bool) or not _within_range(position):
        raise InvalidRequest(BAD_CURSOR)
    return position


def decode_pair(cursor: str) -> list:
    """A cursor that is ``[integer, string]`` (a sort value and a tiebreaking id)."""
    position = decode_cursor(cursor, list)
    if len(position) != 2 or type(position[0]) is not int or not isinstance(position[1], str):
        raise InvalidRequest(BAD_CURSOR)
    return position


def _within_range(position: Any) -> bool:
    values = position if isinstance(position, list) else [position]
    return all(not isinstance(v, int) or 0 <= v <= LARGEST_POSITION for v in values)
