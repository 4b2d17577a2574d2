"""Rows written in chunks bounded by count and by size, whatever the shape of each row.

An upload's rows are stored before its job exists (see ``JobStore.create_job``);
a chunk per write transaction (SQLite) or bulk request (Elasticsearch) keeps
each write short, and the size bound keeps a chunk of wide rows from holding
hundreds of megabytes (or going over Elasticsearch's request size).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from registry.records import Document

MAX_CHUNK_CHARS = 8 * 1024 * 1024

Numbered = tuple[int, Document, str]  # (row index from 0, the row, its JSON text)


def numbered_chunks(rows: Iterable[Document], max_rows: int, max_chars: int = MAX_CHUNK_CHARS
                    ) -> Iterator[list[Numbered]]:
    """Rows numbered from 0 with their JSON, in chunks of at most ``max_rows`` rows and, past
    the first row of a chunk, at most ``max_chars`` characters of JSON."""
    chunk: list[Numbered] = []
    size = 0
    for index, row in enumerate(rows):
        text = json.dumps(row, ensure_ascii=False)
        if chunk and (len(chunk) == max_rows or size + len(text) > max_chars):
            yield chunk
            chunk, size = [], 0
        chunk.append((index, row, text))
        size += len(text)
    if chunk:
        yield chunk
