"""Purge old tombstones and evictions from the change log.

A client whose cursor is older than the newest purged entry must download its data
again (the pull answers 410 with "resync_required"), because it could otherwise miss
a deletion.
"""

import logging
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, func, update
from sqlmodel import Session, select

from server.models import SyncChange, SyncCounter

log = logging.getLogger(__name__)

DEFAULT_RETENTION = timedelta(days=30)


def purge_tombstones(session: Session, retention_seconds: float = DEFAULT_RETENTION.total_seconds()) -> int:
    """Delete delete and evict entries older than the retention; return how many were purged."""
    cutoff = datetime.now(timezone.utc) - timedelta(seconds=retention_seconds)
    old = (SyncChange.op.in_(("delete", "evict")), SyncChange.changed_at <= cutoff)
    newest_purged = session.exec(select(func.max(SyncChange.seq)).where(*old)).one()
    if newest_purged is None:
        return 0
    purged = session.execute(delete(SyncChange).where(*old, SyncChange.seq <= newest_purged)).rowcount
    session.execute(
        update(SyncCounter).where(SyncCounter.id == 1, SyncCounter.tombstone_floor < newest_purged).values(tombstone_floor=newest_purged)
    )
    session.commit()
    log.info("change log compaction purged %d tombstones and evictions up to change %d", purged, newest_purged)
    return purged
