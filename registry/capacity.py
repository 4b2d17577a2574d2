"""How much of the machine this process may use: CPUs and memory as a container limits them.

``os.cpu_count()`` counts the host's CPUs, so a container limited to two
CPUs on a 64-core host would start 64 gunicorn workers, each with its own
SQLite page cache, and be killed for memory.  The limits that hold are the
CPU affinity mask and the cgroup's CPU quota (``cpu.max`` in cgroup v2,
``cpu.cfs_quota_us``/``cpu.cfs_period_us`` in v1), and the cgroup's memory
limit (``memory.max``, ``memory.limit_in_bytes``) under the machine's own.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")
NO_LIMIT_BYTES = 1 << 60  # cgroup v1 writes a number near 2**63 for "no limit"
CACHE_SHARE = 0.25  # of the memory limit, for the SQLite page caches of every connection together
MAX_CACHE_MB = 256  # a page cache per connection beyond this buys nothing at a million reports
MIN_CACHE_MB = 8


def available_cpus(cgroup_root: Path = CGROUP_ROOT) -> int:
    """CPUs this process may run on: its affinity mask, capped by the cgroup's CPU quota
    (rounded up: a quota of 1.5 CPUs keeps two workers busy)."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    quota = cgroup_cpu_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def cgroup_cpu_quota(cgroup_root: Path = CGROUP_ROOT) -> float | None:
    """The cgroup's CPU quota in CPUs, or ``None`` when it sets none."""
    v2 = _read(cgroup_root / "cpu.max")
    if v2 is not None:
        quota, _, period = v2.partition(" ")
        return None if quota == "max" or not period else int(quota) / int(period)
    quota_us = _read(cgroup_root / "cpu" / "cpu.cfs_quota_us") or _read(cgroup_root / "cpu.cfs_quota_us")
    period_us = _read(cgroup_root / "cpu" / "cpu.cfs_period_us") or _read(cgroup_root / "cpu.cfs_period_us")
    if quota_us is None or period_us is None or int(quota_us) <= 0:
        return None
    return int(quota_us) / int(period_us)


def memory_limit_bytes(cgroup_root: Path = CGROUP_ROOT) -> int:
    """The memory this process may use: the machine's, or less where the cgroup says so."""
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    limits = [physical]
    for candidate in (cgroup_root / "memory.max", cgroup_root / "memory" / "memory.limit_in_bytes",
                      cgroup_root / "memory.limit_in_bytes"):
        value = _read(candidate)
        if value is not None and value.isdigit() and int(value) < NO_LIMIT_BYTES:
            limits.append(int(value))
            break
    return min(limits)


def sqlite_cache_mb(memory_bytes: int, connections: int) -> int:
    """The page cache per SQLite connection so that ``connections`` of them (every thread of
    every worker) fit in a quarter of ``memory_bytes``."""
    share = memory_bytes * CACHE_SHARE / max(1, connections) / 1024 ** 2
    return int(min(MAX_CACHE_MB, max(MIN_CACHE_MB, share)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None
