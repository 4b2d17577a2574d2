"""Opaque page cursors: an engine's position, encoded so that clients cannot forge a meaningful one."""

from __future__ import annotations

import base64
import json
from typing import Any

from registry.errors import InvalidRequest

BAD_CURSOR = "The cursor is not one this service issued."


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, expected: type) -> Any:
    """The position a cursor encodes; ``InvalidRequest`` for anything this service did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(BAD_CURSOR) from exc
    if not isinstance(position, expected) or isinstance(position, bool):
        raise InvalidRequest(BAD_CURSOR)
    return position
