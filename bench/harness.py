"""Shared parts of the sync benchmarks: the data set, server processes, timing statistics and result files.

The scripts in bench/ run from the repository root as `.venv/bin/python bench/NAME.py`.
Every server they start listens on 127.0.0.1 only and is stopped by process id.
"""

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from measure import REPO_ROOT  # imported first: it puts the repository root on sys.path

import httpx  # noqa: E402
from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import Engine  # noqa: E402
from sqlmodel import Session  # noqa: E402

from server.models import AuthToken, CoordSystem, Customer, Followup, Region, Role, User, Visit  # noqa: E402
from server.security import digest_token, hash_password  # noqa: E402
from server.sync.changes import log_bulk_inserted_rows  # noqa: E402

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BENCH_PASSWORD = "bench-password-1"

# Sizes and seed of the first-download data set; the PouchDB peer loads the same counts with the same seed.
CUSTOMER_COUNT = 5000
VISIT_COUNT = 50000
FOLLOWUP_COUNT = 50000
DATASET_SEED = 20261101

# Rows are inserted in chunks of this many, to bound the memory of one executemany.
INSERT_CHUNK = 5000


# ---- Server processes -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """An API server process started by a benchmark, and where its output goes."""

    process: subprocess.Popen
    base_url: str
    log_path: Path


def start_server(
    database_url: str, work_dir: Path, workers: int | None = None, app: str | None = None, log_level: str = "INFO",
) -> ServerProcess:
    """Start the API server on a free 127.0.0.1 port and wait until /api/health responds.

    Without `workers` and `app`, runs `python -m server.cli serve --no-demo`, which migrates first.
    Otherwise runs `uvicorn APP --workers N` (default app server.main:app, default 1 worker) on a
    database that must already be migrated. Another `app` (module:attribute, importable through
    PYTHONPATH) measures a candidate server change without editing server/.
    """
    work_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(work_dir), "LOG_LEVEL": log_level}
    if workers is None and app is None:
        command = [sys.executable, "-m", "server.cli", "serve", "--no-demo", "--host", "127.0.0.1", "--port", str(port)]
    else:
        command = [
            sys.executable, "-m", "uvicorn", app or "server.main:app", "--host", "127.0.0.1", "--port", str(port),
            "--workers", str(workers or 1), "--log-level", log_level.lower(),
        ]
    log_path = work_dir / f"server-{port}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT)
    server = ServerProcess(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    _wait_until_up(server, timeout_s=60)
    return server


def _wait_until_up(server: ServerProcess, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"API server exited with {server.process.returncode}:\n{server.log_path.read_text()[-4000:]}")
        try:
            if httpx.get(f"{server.base_url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise TimeoutError(f"API server at {server.base_url} did not respond within {timeout_s} s:\n{server.log_path.read_text()[-4000:]}")


def stop_server(server: ServerProcess) -> None:
    """Stop the server by its process id: SIGINT, then SIGKILL after 15 s."""
    process = server.process
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def keep_server_log(work_dir: Path, name: str) -> Path:
    """Copy the server logs in `work_dir` to bench/results/raw/NAME-server.log and return that path."""
    from measure import RESULTS_DIR

    target = RESULTS_DIR / "raw" / f"{name}-server.log"
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as combined:
        for log_path in sorted(work_dir.glob("server-*.log")):
            combined.write(log_path.read_bytes())
    return target


# ---- PostgreSQL databases -------------------------------------------------------------------


def create_postgres_database() -> str:
    """Create an empty database named bench_<random> on the local PostgreSQL server and return its URL."""
    from server.db import build_engine

    name = f"bench_{uuid.uuid4().hex[:12]}"
    engine = build_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(url: str) -> None:
    from server.db import build_engine

    name = url.rsplit("/", 1)[1]
    if not name.startswith("bench_"):
        raise ValueError(f"refusing to drop database {name!r}: benchmarks drop only the bench_* databases they create")
    engine = build_engine(POSTGRES_ADMIN_URL).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def postgres_unreachable_reason() -> str | None:
    """Return None if the local PostgreSQL server accepts a connection, else the reason it does not."""
    from server.db import build_engine

    engine = build_engine(POSTGRES_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return None
    except Exception as error:  # noqa: BLE001 - any failure means "not reachable" here
        return str(getattr(error, "orig", error)).strip().splitlines()[0]
    finally:
        engine.dispose()


# ---- Users and tokens -----------------------------------------------------------------------


@dataclass
class Rep:
    """A sales rep inserted for a benchmark, with a bearer token for the API."""

    user_id: uuid.UUID
    username: str
    region_id: uuid.UUID
    token: str


def insert_region(session: Session, code: str = "ZJ") -> Region:
    region = Region(code=code, name="浙江大区")
    session.add(region)
    session.flush()
    return region


def insert_reps(session: Session, region: Region, count: int, password_hash: str | None = None) -> list[Rep]:
    """Insert `count` reps in `region`, each with a bearer token valid for one day.

    Tokens are written directly as their SHA-256 digests, as POST /api/auth/login stores
    them, so a benchmark does not spend one Argon2 verification per device.
    """
    password_hash = password_hash or hash_password(BENCH_PASSWORD)
    now = datetime.now(timezone.utc)
    reps = []
    for number in range(1, count + 1):
        user = User(
            username=f"bench_rep{number}", display_name=f"基准业务员{number}", role=Role.REP,
            region_id=region.id, password_hash=password_hash,
        )
        session.add(user)
        session.flush()
        token = secrets.token_urlsafe(32)
        session.add(AuthToken(token_hash=digest_token(token), user_id=user.id, issued_at=now, expires_at=now + timedelta(days=1)))
        reps.append(Rep(user_id=user.id, username=user.username, region_id=region.id, token=token))
    session.flush()
    return reps


# ---- The first-download data set ------------------------------------------------------------


class Mulberry32:
    """The mulberry32 generator with 32-bit arithmetic, giving the same numbers as the JavaScript version."""

    MASK = 0xFFFFFFFF

    def __init__(self, seed: int) -> None:
        self.state = seed & self.MASK

    def random(self) -> float:
        mask = self.MASK
        self.state = (self.state + 0x6D2B79F5) & mask
        t = self.state
        t = ((t ^ (t >> 15)) * (t | 1)) & mask
        t = (t ^ ((t + ((t ^ (t >> 7)) * (t | 61))) & mask)) & mask
        return ((t ^ (t >> 14)) & mask) / 4294967296

    def uuid4(self) -> uuid.UUID:
        """Return a version-4 UUID built from 16 draws, as the peer's loader builds its document ids."""
        octets = bytearray(int(self.random() * 256) for _ in range(16))
        octets[6] = (octets[6] & 0x0F) | 0x40
        octets[8] = (octets[8] & 0x3F) | 0x80
        return uuid.UUID(bytes=bytes(octets))


# Visit and follow-up times of the data set: 2026-11-01 10:00 China Standard Time, stored in UTC as the server stores times.
_CAPTURED_AT = datetime(2026, 11, 1, 10, 0, tzinfo=timezone(timedelta(hours=8))).astimezone(timezone.utc)


def dataset_rows(rep: Rep, customers: int = CUSTOMER_COUNT, visits: int = VISIT_COUNT, followups: int = FOLLOWUP_COUNT):
    """Build the rows of the first-download data set, all owned by `rep`.

    The text, counts, seed and draw order follow the PouchDB peer's loader, so both
    systems store the same ids and the same Chinese strings. The peer's documents also
    carry a type tag and visit coordinates, which the product's schema has no column for.
    The product's customers carry province, city and district, which the peer's lack.
    Returns three lists of column dictionaries: customers, visits, follow-ups.
    """
    rng = Mulberry32(DATASET_SEED)
    now = datetime.now(timezone.utc)
    synced_defaults = {"version": 0, "deleted": False, "field_versions": {}, "server_updated_at": None}

    customer_rows = []
    for number in range(1, customers + 1):
        customer_id = rng.uuid4()
        latitude = round(30.15 + rng.random() * 0.25, 6)
        longitude = round(120.05 + rng.random() * 0.3, 6)
        customer_rows.append({
            "id": customer_id, "name": f"杭州某某自动化设备有限公司{number}", "industry": "工业自动化",
            "address": f"浙江省杭州市滨江区某路{number}号", "province": "浙江省", "city": "杭州市", "district": "滨江区",
            "latitude": latitude, "longitude": longitude, "coord_system": CoordSystem.GCJ02,
            "owner_id": rep.user_id, "region_id": rep.region_id, "created_at": now, "updated_at": now,
            **synced_defaults,
        })

    visit_rows = []
    for _ in range(visits):
        visit_id = rng.uuid4()
        customer = customer_rows[int(rng.random() * customers)]
        visit_rows.append({
            "id": visit_id, "customer_id": customer["id"], "rep_id": rep.user_id, "visit_type": "routine",
            "checked_in_at": _CAPTURED_AT, "checked_out_at": None, "summary": "带了新样品，更新了竞品陈列照片",
            **synced_defaults,
        })

    followup_rows = []
    for _ in range(followups):
        followup_id = rng.uuid4()
        customer = customer_rows[int(rng.random() * customers)]
        followup_rows.append({
            "id": followup_id, "customer_id": customer["id"], "author_id": rep.user_id,
            "text": "客户关心付款账期，希望90天", "captured_at": _CAPTURED_AT,
            **synced_defaults,
        })
    return customer_rows, visit_rows, followup_rows


def insert_rows(session: Session, model, rows: list[dict]) -> None:
    """Insert `rows` with SQLAlchemy core INSERTs in chunks of INSERT_CHUNK."""
    table = model.__table__
    for start in range(0, len(rows), INSERT_CHUNK):
        session.execute(insert(table), rows[start:start + INSERT_CHUNK])


def load_dataset(engine: Engine, customers: int = CUSTOMER_COUNT, visits: int = VISIT_COUNT, followups: int = FOLLOWUP_COUNT) -> tuple[Rep, int]:
    """Insert a region, one rep and the data set into a migrated, empty database.

    Returns the rep and the number of change-log entries written.
    """
    with Session(engine) as session:
        region = insert_region(session)
        (rep,) = insert_reps(session, region, 1)
        customer_rows, visit_rows, followup_rows = dataset_rows(rep, customers, visits, followups)
        insert_rows(session, Customer, customer_rows)
        insert_rows(session, Visit, visit_rows)
        insert_rows(session, Followup, followup_rows)
        logged = log_bulk_inserted_rows(session)
        session.commit()
    return rep, logged
