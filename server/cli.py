"""Command line of the server: migrate, load demo data, serve.

    python -m server.cli serve --host 127.0.0.1 --port 8000
    python -m server.cli migrate
    python -m server.cli seed
"""

import argparse
import logging
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlmodel import Session

from server.config import REPO_ROOT, get_settings
from server.db import disable_sqlite_foreign_keys, get_engine

log = logging.getLogger("server.cli")


class DatabaseUnavailable(RuntimeError):
    """The configured database cannot be reached or the URL is invalid."""


def configure_logging() -> None:
    logging.basicConfig(
        level=get_settings().log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def check_database() -> None:
    """Connect once, so an unreachable database fails with one clear line instead of a traceback later."""
    settings = get_settings()
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
    except (ArgumentError, NoSuchModuleError, ImportError) as error:
        raise DatabaseUnavailable(
            f"DATABASE_URL is not a supported database URL ({error}); "
            "use postgresql+psycopg://user@host:5432/dbname, or unset it for the embedded SQLite file"
        ) from None
    except (OperationalError, SQLAlchemyError, OSError) as error:
        target = get_engine().url.render_as_string(hide_password=True) if settings.database_url else str(settings.data_dir)
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        raise DatabaseUnavailable(
            f"cannot reach the database at {target}: {reason}. "
            "Check DATABASE_URL (or DATA_DIR for the embedded SQLite file) and that the server is running."
        ) from None


def migrate(engine: Engine | None = None) -> None:
    """Upgrade the database (the configured one, or `engine`'s) to the latest schema revision."""
    config = Config(str(REPO_ROOT / "alembic.ini"))
    with (engine or get_engine()).connect() as connection:
        disable_sqlite_foreign_keys(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        connection.commit()
    log.info("database schema is at the latest revision")


def seed() -> bool:
    from server.seed.demo import load_demo_organisation

    with Session(get_engine()) as session:
        loaded = load_demo_organisation(session)
    if loaded:
        log.info("demo organisation loaded into the empty database")
    else:
        log.info("database already has users; demo organisation not loaded")
    return bool(loaded)


def print_demo_logins(stream=sys.stdout) -> None:
    from server.seed.demo import DEMO_LOGINS, DEMO_PASSWORD

    print(f"Demo logins (password for all: {DEMO_PASSWORD}):", file=stream)
    for entry in DEMO_LOGINS:
        print(f"  {entry.role.value:<14} {entry.username:<12} phone {entry.phone}  {entry.display_name}", file=stream)


def serve(host: str, port: int, load_demo: bool) -> None:
    import uvicorn

    migrate()
    if load_demo:
        seed()
    print(f"API server: http://{host}:{port}  (OpenAPI docs: http://{host}:{port}/docs)", flush=True)
    uvicorn.run("server.main:app", host=host, port=port, log_level=get_settings().log_level.lower(), log_config=None)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.cli", description="外勤通 Field Sales server")
    commands = parser.add_subparsers(dest="command", required=True)

    serve_parser = commands.add_parser("serve", help="migrate, load demo data into an empty database, and serve the API")
    serve_parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    serve_parser.add_argument("--port", type=int, default=8000, help="TCP port (default 8000)")
    serve_parser.add_argument("--no-demo", action="store_true", help="do not load the demo organisation")
    commands.add_parser("migrate", help="upgrade the database schema to the latest revision")
    commands.add_parser("seed", help="load the demo organisation if the database has no users")
    commands.add_parser("logins", help="print the demo logins")
    args = parser.parse_args(argv)

    configure_logging()
    if args.command == "logins":
        print_demo_logins()
        return 0
    try:
        check_database()
        if args.command == "migrate":
            migrate()
        elif args.command == "seed":
            migrate()
            seed()
        elif args.command == "serve":
            serve(args.host, args.port, load_demo=not args.no_demo)
    except DatabaseUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
