"""A database lock per job, so that of several runner processes only one runs a given job at a time.

PostgreSQL: a session-level advisory lock (pg_try_advisory_lock) on a connection held for
the job's run. The database releases it when the connection closes, so a runner that dies
never leaves a job locked.

SQLite (development, one machine): a lease in the job's job_state row. A runner takes it
with one conditional UPDATE (free, or its lease expired) and clears it when done. A runner
that dies keeps the job locked until its lease expires, so the lease must be longer than
the job's longest run.
"""

import hashlib
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from server.db import writing_session
from server.jobs.models import JobState

log = logging.getLogger(__name__)


def advisory_key(name: str) -> int:
    """Return a stable signed 64-bit key for the job's PostgreSQL advisory lock."""
    return int.from_bytes(hashlib.sha256(f"fieldsales.job.{name}".encode()).digest()[:8], "big", signed=True)


def ensure_state_row(engine: Engine, name: str) -> None:
    with writing_session(engine) as session:
        if session.get(JobState, name) is None:
            session.add(JobState(name=name))
            try:
                session.commit()
            except IntegrityError:
                session.rollback()


@contextmanager
def job_lock(engine: Engine, name: str, holder: str, lease: timedelta) -> Iterator[bool]:
    """Try to take the job's lock; yield whether this runner holds it, and release it afterwards."""
    ensure_state_row(engine, name)
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, name) as acquired:
            yield acquired
        return
    acquired = _take_lease(engine, name, holder, lease)
    try:
        yield acquired
    finally:
        if acquired:
            _release_lease(engine, name, holder)


@contextmanager
def _advisory_lock(engine: Engine, name: str) -> Iterator[bool]:
    key = advisory_key(name)
    with engine.connect() as connection:
        acquired = bool(connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar())
        connection.commit()
        try:
            yield acquired
        finally:
            if acquired:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
                connection.commit()


def _take_lease(engine: Engine, name: str, holder: str, lease: timedelta) -> bool:
    now = datetime.now(timezone.utc)
    with writing_session(engine) as session:
        rows_updated = session.execute(
            update(JobState)
            .where(JobState.name == name, (JobState.holder.is_(None)) | (JobState.lease_expires_at < now) | (JobState.holder == holder))
            .values(holder=holder, lease_expires_at=now + lease)
        ).rowcount
        session.commit()
    return rows_updated == 1


def _release_lease(engine: Engine, name: str, holder: str) -> None:
    with writing_session(engine) as session:
        session.execute(update(JobState).where(JobState.name == name, JobState.holder == holder).values(holder=None, lease_expires_at=None))
        session.commit()
