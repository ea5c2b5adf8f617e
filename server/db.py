"""Database engine and sessions: SQLite (WAL) for development, PostgreSQL in production."""

from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from fastapi import Request
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlmodel import Session, create_engine

from server.config import get_settings


# Execution option: start SQLite transactions with BEGIN IMMEDIATE (ignored on PostgreSQL).
SQLITE_IMMEDIATE = "sqlite_immediate"


def build_engine(url: str) -> Engine:
    """Create an engine for `url`; SQLite files get WAL mode and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # 40 connections at most: one for each of the 40 threads that run FastAPI's
        # synchronous endpoints (AnyIO's default thread limiter).
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=30)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
        # Let SQLAlchemy emit BEGIN itself (below) instead of pysqlite, which
        # commits before DDL and so leaves a failed migration half applied.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection) -> None:
        # A writing transaction takes the write lock at BEGIN IMMEDIATE: a deferred
        # one that read first fails with "database is locked" instead of waiting
        # when another writer commits in between.
        immediate = connection.get_execution_options().get(SQLITE_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def disable_sqlite_foreign_keys(connection: Connection) -> None:
    """Stop enforcing foreign keys on this SQLite connection, for Alembic's batch table rebuilds.

    Must run before the connection begins a transaction: SQLite ignores the pragma inside one.
    """
    if connection.dialect.name == "sqlite":
        connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")


@lru_cache
def get_engine() -> Engine:
    return build_engine(get_settings().effective_database_url)


# HTTP methods whose endpoints may write: their SQLite transactions begin IMMEDIATE.
WRITING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def get_session(request: Request) -> Iterator[Session]:
    """Yield the request's session. A request that may write takes SQLite's write lock when its transaction begins.

    A deferred transaction that reads first and then writes fails at once with "database is
    locked" when another writer committed in between. Beginning IMMEDIATE waits for the lock
    (up to the connection's 30 s busy timeout) instead. PostgreSQL ignores the option.
    """
    engine = get_engine()
    if request.method in WRITING_METHODS:
        engine = engine.execution_options(**{SQLITE_IMMEDIATE: True})
    with Session(engine) as session:
        yield session


def writing_session(engine: Engine | None = None) -> Session:
    """Open a session for a writing transaction (BEGIN IMMEDIATE on SQLite)."""
    return Session((engine or get_engine()).execution_options(**{SQLITE_IMMEDIATE: True}))
