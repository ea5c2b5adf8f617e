"""Alembic environment: migrates the database named by the server settings."""

from alembic import context
from sqlmodel import SQLModel

import server.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from server.db import build_engine, disable_sqlite_foreign_keys
from server.config import get_settings

target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connectable = context.config.attributes.get("connection")
    if connectable is None:
        engine = build_engine(get_settings().effective_database_url)
        with engine.connect() as connection:
            _run(connection)
            connection.commit()
        engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    if not connection.in_transaction():
        disable_sqlite_foreign_keys(connection)
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most column properties; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
