"""Start real server processes for tests: the API on SQLite or PostgreSQL, and the Flet web client."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine

from server.db import build_engine

REPO_ROOT = Path(__file__).resolve().parent.parent
POSTGRES_ADMIN_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The X-Api-Key that test servers accept from integrations (POST /api/events, /api/leads).
TEST_INTEGRATION_API_KEY = "test-integration-key-0123456789"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, log_path: Path, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process for {url} exited with {process.returncode}:\n{log_path.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout_s} s:\n{log_path.read_text()[-4000:]}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def postgres_reachable() -> str | None:
    """Return None if the test PostgreSQL server answers, else the reason it does not."""
    engine = build_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable" here
        return str(getattr(error, "orig", error)).strip().splitlines()[0]
    finally:
        engine.dispose()


def create_postgres_database() -> str:
    """Create an empty database on the test server and return its URL."""
    name = f"fieldsales_test_{uuid.uuid4().hex[:12]}"
    engine = build_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    engine = build_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class ApiServer:
    """A running API server process and a direct connection to its database."""

    backend: str
    base_url: str
    database_url: str
    process: subprocess.Popen
    engine: Engine = field(init=False)

    def __post_init__(self) -> None:
        self.engine = build_engine(self.database_url)


def start_api_server(backend: str, work_dir: Path) -> ApiServer:
    work_dir.mkdir(parents=True, exist_ok=True)
    if backend == "postgres":
        database_url = create_postgres_database()
    else:
        database_url = f"sqlite:///{work_dir / 'fieldsales.sqlite3'}"

    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(work_dir), "LOG_LEVEL": "WARNING",
           "INTEGRATION_API_KEY": TEST_INTEGRATION_API_KEY}
    log_path = work_dir / "server.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    wait_until_up(f"{base_url}/api/health", process, log_path)
    return ApiServer(backend=backend, base_url=base_url, database_url=database_url, process=process)


def stop_api_server(server: ApiServer) -> None:
    stop(server.process)
    server.engine.dispose()
    if server.backend == "postgres":
        drop_postgres_database(server.database_url)


def run_coroutine(coroutine_function, *args):
    """Run `coroutine_function(*args)` to completion on a new event loop in its own thread.

    Playwright's sync API keeps an event loop running on the test thread once a browser
    test ran in this worker, and asyncio.run() refuses to start inside it.
    """
    import concurrent.futures

    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine_function(*args)).result()
