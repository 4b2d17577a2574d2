"""A new replica's first copy: the centre's snapshot file, downloaded (resumably) and installed.

An embedded centre sends its active reports with their index rows as
computed (``registry.storage.sqlite.feed_snapshots``), so the replica writes
them as they are instead of computing a million reports' lookup keys itself;
the feed then brings what was written after.  A centre on Elasticsearch makes
no such file and the replica copies it through the feed.
"""

from __future__ import annotations

from pathlib import Path

from registry.errors import StorageUnavailable
from registry.replica.sync import Centre
from registry.storage.interfaces import FeedSnapshot
from registry.storage.sqlite.feed_snapshots import install


def start_from_snapshot(centre: Centre, database: str) -> FeedSnapshot | None:
    """Make the (new) registry at ``database`` the centre's snapshot; ``None`` if the centre makes
    none.  Killed during the download, it resumes it when run again."""
    partial = Path(f"{database}.snapshot")
    if not centre.download_snapshot(partial):
        return None
    try:
        return install(str(partial), database, centre.url)
    except StorageUnavailable:
        partial.unlink(missing_ok=True)  # damaged in transit: the next run downloads it again
        raise
