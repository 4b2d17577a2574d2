"""The audit log's published heads: an append-only file outside the database.

Someone who can rewrite the database (the SQLite file, the cluster) can cut
entries off the end of the log, or empty it, and what is left is still a
whole chain.  So every serving process regularly appends the log's head
(``seq``, ``hash``, when) to this file, and verification checks the newest
head published here is still in the log.  Since each hash covers every entry
before it, that one head vouches for the whole log up to it, and a head is
only published when the one before it is still in the log, so the file never
vouches for a rewritten history.

Keep the file where the database's users cannot write (another volume,
another owner), or ship it off the machine with the logs.  Appends hold an
exclusive ``flock`` and are fsynced; a torn last line (a crash mid-append)
is ignored.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO

TAIL_BYTES = 4096  # the newest head is in the last line; read no more than this of the file


@dataclass(frozen=True)
class PublishedHead:
    seq: int
    hash: str
    at: str


class HeadsFile:
    def __init__(self, path: str) -> None:
        self.path = Path(path).expanduser()

    def latest(self) -> PublishedHead | None:
        """The newest head published, or ``None`` if none was (or the file does not exist)."""
        try:
            with self.path.open("rb") as file:
                return _last_head(file)
        except FileNotFoundError:
            return None

    def publish(self, decide: Callable[[PublishedHead | None], PublishedHead | None]) -> PublishedHead | None:
        """Under the file's lock (no other process publishes meanwhile), show ``decide`` the newest
        head and append, durably, the head it returns, if any; that head."""
        with self._locked() as file:
            head = decide(_last_head(file))
            if head is not None:
                file.seek(0, os.SEEK_END)
                file.write((json.dumps(asdict(head)) + "\n").encode())
                file.flush()
                os.fsync(file.fileno())
            return head

    @contextmanager
    def _locked(self) -> Iterator[IO[bytes]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a+b") as file:
            fcntl.flock(file, fcntl.LOCK_EX)
            try:
                yield file
            finally:
                fcntl.flock(file, fcntl.LOCK_UN)


def _last_head(file: IO[bytes]) -> PublishedHead | None:
    size = file.seek(0, os.SEEK_END)
    file.seek(max(0, size - TAIL_BYTES))
    for line in reversed(file.read().splitlines()):
        try:
            data = json.loads(line)
            return PublishedHead(int(data["seq"]), str(data["hash"]), str(data["at"]))
        except (ValueError, KeyError, TypeError):
            continue  # a torn line from a crash mid-append
    return None
