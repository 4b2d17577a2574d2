"""The domain vocabulary (``search/data/vocabulary.toml``), read once: package data, not I/O at query time."""

from __future__ import annotations

import hashlib
import tomllib
from importlib import resources
from typing import Any, Final

_SOURCE: Final = resources.files("search").joinpath("data/vocabulary.toml").read_bytes()
VOCABULARY: Final[dict[str, Any]] = tomllib.loads(_SOURCE.decode("utf-8"))
VOCABULARY_DIGEST: Final = hashlib.sha256(_SOURCE).hexdigest()[:16]  # changes whenever the file does
