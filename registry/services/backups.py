"""Backups and restores of either engine, with the audit log's published heads kept truthful.

A restore rolls the registry, and so its audit log, back to the backup: the
heads file (``registry.files.heads``) may hold heads published after the
backup was made.  Before a restore takes effect, the restored chain must
verify, held to the newest head of its own history it reaches; after, the
restored head is published as a restore (naming the backup, and the head it
rolled the log back from), so ``irontrace audit verify`` holds the log to it
and says so, instead of reporting entries cut off the end, and the heads file
keeps the record of what the restore discarded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.audit_chain import ChainReport, verify_chain
from registry.errors import Conflict
from registry.files.heads import HeadsFile, PublishedHead
from registry.stamps import iso_at
from registry.storage.interfaces import Engine
from registry.storage.sqlite.backups import Copy, back_up, restore


@dataclass(frozen=True)
class Restored:
    """What a restore put in place: its audit chain, and the head published for it."""

    what: Any  # the engine's account of what it restored (a ``Copy``, or a snapshot's ``Swap``)
    chain: ChainReport
    published: PublishedHead


def back_up_file(settings: dict[str, Any], target: str) -> Copy:
    """``irontrace backup FILE``: a consistent copy of the embedded registry, taken while it serves."""
    return back_up(settings["DB"], target)


def restore_file(settings: dict[str, Any], backup: str, replace: bool, now: float) -> Restored:
    """``irontrace restore FILE``: the embedded registry from a backup, once its audit chain verifies."""
    heads = HeadsFile(settings["AUDIT_HEADS_FILE"])
    copy, chain = restore(backup, settings["DB"], heads.anchors_up_to, replace)
    return Restored(copy, chain, heads.publish_restore(copy.head, Path(backup).name, iso_at(now)))


def restore_snapshot(engine: Engine, settings: dict[str, Any], name: str | None, replace: bool,
                     now: float) -> Restored:
    """``irontrace es restore``: the registry's indices from a snapshot, kept only if the restored audit
    chain verifies (else the aliases go back and nothing changed)."""
    assert engine.admin is not None, "only an engine with indices has snapshots"
    snapshots = engine.admin.snapshots
    heads = HeadsFile(settings["AUDIT_HEADS_FILE"])
    swap = snapshots.restore(name, replace)
    try:
        head = engine.audit.head()
        chain = verify_chain(engine.audit.iter_stored(), heads.anchors_up_to(head[0]))
    except BaseException:
        snapshots.undo(swap)
        raise
    if not chain.intact:
        snapshots.undo(swap)
        raise Conflict(f"The snapshot's audit chain is broken at entry {chain.broken_at}: {chain.reason}. "
                       f"Nothing was restored.")
    snapshots.finish(swap)
    return Restored(swap, chain, heads.publish_restore(head, swap.snapshot, iso_at(now)))
