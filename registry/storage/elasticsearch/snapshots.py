"""Snapshots of the registry's indices, and restores through the versioned index and alias design.

Repository.  A filesystem repository (``type: fs``) named
``ES_SNAPSHOT_REPOSITORY`` at ``ES_SNAPSHOT_LOCATION``, registered on first
use.  Every node must list that location (or a parent) in its ``path.repo``
and see the same directory (a shared volume on a cluster); a relative
location is taken under the node's first ``path.repo``.

Snapshot.  One snapshot holds the concrete index behind each of the
registry's aliases (``{prefix}-{kind}-v{N}``) that holds anything, each as of
the moment its shard was snapshotted; the snapshot records the prefix in its
metadata, so several registries can share a repository.

Restore.  Never over the live indices: the snapshot's indices are restored
under a new version, ``{prefix}-{kind}-v{M}`` with ``M`` above every version
there is (an index the snapshot lacks, empty then or of a newer kind, is
created empty there), and then every alias moves to its new index in one
atomic ``update_aliases`` call.  The replaced indices are kept
until the caller has verified the restored audit chain: ``finish`` deletes
them, ``undo`` moves the aliases back and deletes the restored ones.
"""

from __future__ import annotations

import builtins
import datetime as dt
from dataclasses import dataclass

from elasticsearch import ApiError, Elasticsearch, NotFoundError

from registry.errors import Conflict, NotFound, StorageUnavailable
from registry.storage.elasticsearch.cluster import Cluster, aliased_index, index_version, versioned_index

PREFIX_META = "irontrace_prefix"
# A snapshot or restore is waited for in one request, which may take far longer than the usual
# ES_TIMEOUT_SECONDS (minutes for a large registry): this is its own bound, for every call they make.
WAIT_SECONDS = 6 * 3600
VERSIONED = r"(.+)-v[0-9]+"  # what the restore renames: ``{alias}-v{N}`` -> ``{alias}-v{M}``


@dataclass(frozen=True)
class Snapshot:
    name: str
    repository: str
    indices: tuple[str, ...]
    started_at: str


@dataclass(frozen=True)
class Swap:
    """A restore whose aliases have moved: ``finish`` it, or ``undo`` it."""

    snapshot: str
    moves: tuple[tuple[str, str | None, str | None], ...]  # (alias, index before, restored index)

    @property
    def restored(self) -> list[str]:
        return [new for _, _, new in self.moves if new]

    @property
    def replaced(self) -> list[str]:
        return [old for _, old, _ in self.moves if old]


class Snapshots:
    """``irontrace es snapshot`` and ``irontrace es restore`` for one registry (one index prefix)."""

    def __init__(self, cluster: Cluster, repository: str, location: str) -> None:
        self.cluster = cluster
        self.repository = repository
        self.location = location

    def create(self, name: str | None = None) -> Snapshot:
        """Snapshot every index behind the registry's aliases; waits until the snapshot is complete."""
        es = self._client()
        name = name or f"{self.cluster.prefix}-{dt.datetime.now(dt.UTC):%Y%m%d-%H%M%S-%f}"
        with self.cluster.translate_errors():
            self._ensure_repository()
            if not es.indices.exists_alias(name=self.cluster.reports_alias):
                raise NotFound(f"No registry under the prefix {self.cluster.prefix} to snapshot.")
            # Empty indices are left out (a restore creates them empty): each costs a restore seconds.
            indices = [aliased_index(es, alias) for alias, _, _ in self.cluster.indices
                       if es.indices.exists_alias(name=alias) and es.count(index=alias)["count"]]
            done = es.snapshot.create(
                repository=self.repository, snapshot=name, indices=",".join(indices), include_global_state=False,
                wait_for_completion=True, metadata={PREFIX_META: self.cluster.prefix})["snapshot"]
        if done["state"] != "SUCCESS":
            raise StorageUnavailable(f"Snapshot {name} ended {done['state']}: {done.get('failures')}")
        return Snapshot(name, self.repository, tuple(sorted(done["indices"])), done["start_time"])

    def list(self) -> builtins.list[Snapshot]:
        """This registry's snapshots in the repository, oldest first."""
        with self.cluster.translate_errors():
            self._ensure_repository()
            found = self._client().snapshot.get(repository=self.repository, snapshot="*")["snapshots"]
        return [Snapshot(s["snapshot"], self.repository, tuple(sorted(s["indices"])), s["start_time"])
                for s in sorted(found, key=lambda s: s["start_time_in_millis"])
                if (s.get("metadata") or {}).get(PREFIX_META) == self.cluster.prefix and s["state"] == "SUCCESS"]

    def restore(self, name: str | None, replace: bool) -> Swap:
        """Restore snapshot ``name`` (default: the newest) under new index versions and move every alias
        to it; ``replace`` must be given if the registry has indices now."""
        es, aliases = self._client(), [alias for alias, _, _ in self.cluster.indices]
        snapshot = self._named(name)
        with self.cluster.translate_errors():
            current = {alias: aliased_index(es, alias) if es.indices.exists_alias(name=alias) else None
                       for alias in aliases}
            if any(current.values()) and not replace:
                raise Conflict(f"A registry exists under the prefix {self.cluster.prefix}: restoring would replace "
                               f"it. Pass --force to replace it.")
            foreign = [index for index in snapshot.indices if _alias_of(index) not in aliases]
            if foreign:
                raise Conflict(f"Snapshot {snapshot.name} holds indices of no alias of this registry: {foreign}.")
            existing = list(es.indices.get(index=f"{self.cluster.prefix}-*", expand_wildcards="all"))
            version = max(index_version(i) for i in [*existing, *snapshot.indices] if _alias_of(i) in aliases) + 1
            es.snapshot.restore(
                repository=self.repository, snapshot=snapshot.name, indices=",".join(snapshot.indices),
                include_aliases=False, include_global_state=False, wait_for_completion=True,
                rename_pattern=VERSIONED, rename_replacement=f"$1-v{version}")
            in_snapshot = {_alias_of(index) for index in snapshot.indices}
            for alias, mappings, settings in self.cluster.indices:  # empty when snapshotted, or newer kinds
                if alias not in in_snapshot:
                    es.indices.create(index=versioned_index(alias, version), mappings=mappings, settings=settings)
            moves = tuple((alias, current[alias], versioned_index(alias, version)) for alias in aliases)
            self._move(moves)
        return Swap(snapshot.name, moves)

    def finish(self, swap: Swap) -> None:
        """The restore stands: delete the indices it replaced."""
        if swap.replaced:
            with self.cluster.translate_errors():
                self._client().indices.delete(index=",".join(swap.replaced))

    def undo(self, swap: Swap) -> None:
        """The restore is refused: the aliases go back to the indices before it, and the restored ones go."""
        with self.cluster.translate_errors():
            self._move(tuple((alias, new, old) for alias, old, new in swap.moves))
            if swap.restored:
                self._client().indices.delete(index=",".join(swap.restored))
        self.cluster.indices_moved()

    def _move(self, moves: tuple[tuple[str, str | None, str | None], ...]) -> None:
        """Every alias to its new index (or none), in one atomic call; the alias leaves any version of its
        index, even one a live process created meanwhile, so it never ends up on two."""
        actions: builtins.list[dict[str, dict[str, str | bool]]] = []
        for alias, _, new in moves:
            actions.append({"remove": {"index": f"{alias}-v*", "alias": alias, "must_exist": False}})
            if new:
                actions.append({"add": {"index": new, "alias": alias}})
        if actions:
            self._client().indices.update_aliases(actions=actions)

    def _client(self) -> Elasticsearch:
        """The client for the operator's long operations: the snapshot or restore itself, and the index
        creations and alias moves around it (cluster-state changes, slow on a busy cluster)."""
        return self.cluster.client.options(request_timeout=WAIT_SECONDS)

    def _named(self, name: str | None) -> Snapshot:
        found = self.list()
        if name is None and found:
            return found[-1]
        for snapshot in found:
            if snapshot.name == name:
                return snapshot
        raise NotFound(f"No snapshot {name or ''} of the registry {self.cluster.prefix} in the repository "
                       f"{self.repository}.".replace("  ", " "))

    def _ensure_repository(self) -> None:
        """Register the filesystem repository (the same settings again change nothing)."""
        es = self._client()
        try:
            es.snapshot.get_repository(name=self.repository)
            return
        except NotFoundError:
            pass
        try:
            es.snapshot.create_repository(name=self.repository,
                                          repository={"type": "fs", "settings": {"location": self.location}})
        except ApiError as exc:
            raise StorageUnavailable(
                f"Cannot register the snapshot repository {self.repository} at {self.location}: every node must "
                f"list that location (or a parent) in path.repo ({exc}).") from exc


def _alias_of(index: str) -> str:
    """``{alias}-v{N}`` -> ``{alias}``."""
    return index.rsplit("-v", 1)[0]
