"""The audit log's published heads: an append-only file outside the database.

Someone who can rewrite the database (the SQLite file, the cluster) can cut
entries off the end of the log, or empty it, and what is left is still a
whole chain.  So every serving process regularly appends the log's head
(``seq``, ``hash``, when) to this file, and verification checks the newest
head published here is still in the log.  Since each hash covers every entry
before it, that one head vouches for the whole log up to it, and a head is
only published when the one before it is still in the log, so the file never
vouches for a rewritten history.

A restore from a backup rolls the log back to the backup's head, which the
newest head published may be beyond.  ``irontrace restore`` (and ``es
restore``) then publishes the restored head as a restore (``restored_from``:
the backup; ``rolled_back_from``: the newest head published before it, if
the log was rolled back past it): verification holds the log to that head
and says it was a restore, and the heads before it stay in the file as the
record of what the restore discarded.  A restored log is first verified
against the heads of its own history (``since_last_restore``).

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

from registry.audit_chain import Anchor

TAIL_BYTES = 4096  # the newest head is in the last line; read no more than this of the file


@dataclass(frozen=True)
class PublishedHead:
    seq: int
    hash: str
    at: str
    restored_from: str | None = None  # set on the head a restore published: the backup restored
    rolled_back_from: int | None = None  # ... and the newest head published before, when beyond it

    def as_dict(self) -> dict[str, str | int]:
        """The fields that are set (a head that is no restore has no restore fields)."""
        return {name: value for name, value in asdict(self).items() if value is not None}


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
                file.write((json.dumps(head.as_dict()) + "\n").encode())
                file.flush()
                os.fsync(file.fileno())
            return head

    def since_last_restore(self) -> list[PublishedHead]:
        """The heads of the log's current history, oldest first: those published since the last
        restore, that restore's head included (read whole: only a restore needs this)."""
        try:
            lines = self.path.read_bytes().splitlines()
        except FileNotFoundError:
            return []
        heads = [head for head in map(_parsed, lines) if head is not None]
        restores = [i for i, head in enumerate(heads) if head.restored_from is not None]
        return heads[restores[-1]:] if restores else heads

    def anchors_up_to(self, head_seq: int) -> list[Anchor]:
        """What a restored log ending at ``head_seq`` must hold: the newest head of its own history
        (published since the last restore) that it reaches."""
        reached = [head for head in self.since_last_restore() if 0 < head.seq <= head_seq]
        return [Anchor(reached[-1].seq, reached[-1].hash, f"the head published at {reached[-1].at}")] if reached \
            else []

    def publish_restore(self, head: tuple[int, str], backup: str, at: str) -> PublishedHead:
        """Publish a restored log's ``head`` as a restore of ``backup``, saying which published head it
        rolled the log back from, if any: from now on the log is held to it, and the file keeps the
        heads the restore discarded."""
        def decide(latest: PublishedHead | None) -> PublishedHead:
            rolled_back_from = latest.seq if latest is not None and latest.seq > head[0] else None
            return PublishedHead(head[0], head[1], at, backup, rolled_back_from)

        published = self.publish(decide)
        assert published is not None, "a restore always publishes"
        return published

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
        head = _parsed(line)
        if head is not None:
            return head
    return None


def _parsed(line: bytes) -> PublishedHead | None:
    """A line of the file as a head; ``None`` for a torn line (a crash mid-append)."""
    try:
        data = json.loads(line)
        restored_from, rolled_back_from = data.get("restored_from"), data.get("rolled_back_from")
        return PublishedHead(int(data["seq"]), str(data["hash"]), str(data["at"]),
                             None if restored_from is None else str(restored_from),
                             None if rolled_back_from is None else int(rolled_back_from))
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
