"""Benchmark how the server time of a small pull grows with the size of the table and the change log.

    .venv/bin/python bench/sync_pull_scaling.py [--sizes 10000,1000000] [--backends sqlite,postgres]

For each size N, fills the customers table with N rows owned by one rep and the change log
with one entry per row (sequence numbers 1..N, built with INSERT ... SELECT in the database),
then times a pull from cursor N-10, which returns the 10 newest changes:
in-process, by calling `server.sync.pull.read_pull` with a real session, and over HTTP,
by GET /api/sync/pull against the API server started on the same database.
The target is that the 1,000,000-row pull takes at most twice as long as the 10,000-row pull.
"""

import argparse
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

import harness
import httpx
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from core.wire import DEFAULT_PULL_LIMIT
from server.cli import migrate
from server.db import build_engine
from server.models import User
from server.sync.pull import read_pull

TARGET_RATIO = 2.0
CHANGES_PULLED = 10
# Timed runs per size, spread over ROUNDS alternating rounds, after WARMUP_RUNS untimed ones.
IN_PROCESS_RUNS = 300
HTTP_RUNS = 200
ROUNDS = 5
WARMUP_RUNS = 20

_CUSTOMER_COLUMNS = (
    "id, name, industry, address, province, city, district, latitude, longitude, coord_system, "
    "owner_id, region_id, created_at, updated_at, version, deleted, field_versions, server_updated_at"
)

# One row per i in 1..:count, with sequence number i. SQLite stores UUIDs as 32 hex digits
# and times as text, which is how SQLAlchemy writes them there.
_SQLITE_FILL = f"""
INSERT INTO customers ({_CUSTOMER_COLUMNS})
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count)
SELECT lower(hex(randomblob(16))), '杭州某某自动化设备有限公司' || i, '工业自动化', '浙江省杭州市滨江区某路' || i || '号',
       '浙江省', '杭州市', '滨江区', 30.15 + (i % 1000) * 0.00025, 120.05 + (i % 997) * 0.0003, 'gcj02',
       :owner_id, :region_id, :now, :now, i, 0, '{{}}', :now
FROM n
"""

_POSTGRES_FILL = f"""
INSERT INTO customers ({_CUSTOMER_COLUMNS})
SELECT gen_random_uuid(), '杭州某某自动化设备有限公司' || i, '工业自动化', '浙江省杭州市滨江区某路' || i || '号',
       '浙江省', '杭州市', '滨江区', 30.15 + (i % 1000) * 0.00025, 120.05 + (i % 997) * 0.0003, 'gcj02',
       CAST(:owner_id AS uuid), CAST(:region_id AS uuid), :now, :now, i, false, '{{}}', :now
FROM generate_series(1, :count) AS i
"""

_LOG_FILL = """
INSERT INTO sync_changes (seq, entity, entity_id, op, owner_id, region_id, store_id, changed_at)
SELECT version, 'customers', id, 'put', owner_id, region_id, NULL, server_updated_at FROM customers
"""


def fill_database(engine, backend: str, count: int) -> harness.Rep:
    """Insert a region, one rep, `count` customers and their change-log entries; set the counter to `count`."""
    with Session(engine) as session:
        region = harness.insert_region(session)
        (rep,) = harness.insert_reps(session, region, 1)
        session.commit()

    started = time.perf_counter()
    with engine.begin() as connection:
        if backend == "sqlite":
            now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")
            parameters = {"count": count, "owner_id": rep.user_id.hex, "region_id": rep.region_id.hex, "now": now}
            connection.execute(text(_SQLITE_FILL), parameters)
        else:
            parameters = {"count": count, "owner_id": str(rep.user_id), "region_id": str(rep.region_id), "now": datetime.now(timezone.utc)}
            connection.execute(text(_POSTGRES_FILL), parameters)
        connection.execute(text(_LOG_FILL))
        connection.execute(text("UPDATE sync_counter SET value = :count WHERE id = 1"), {"count": count})
    if backend == "postgres":
        # A production database has been vacuumed and analysed by autovacuum; a fresh bulk load has not.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    print(f"  filled {count:,} customers and change-log entries in {time.perf_counter() - started:.1f} s", flush=True)
    return rep


def time_in_process(engine, rep: harness.Rep, cursor: int, expected: int, runs: int) -> list[float]:
    """Time `read_pull` from `cursor` in a new session per run, as each request has; return milliseconds."""
    client_id = uuid.uuid4()
    with Session(engine) as session:
        user = session.get(User, rep.user_id)
        session.expunge(user)
    timings = []
    for _ in range(runs):
        with Session(engine) as session:
            started = time.perf_counter()
            page = read_pull(session, user, client_id, cursor, DEFAULT_PULL_LIMIT)
            elapsed = time.perf_counter() - started
        if len(page.changes) != expected or page.has_more:
            raise AssertionError(f"pull from cursor {cursor} returned {len(page.changes)} changes (has_more={page.has_more}), expected {expected}")
        timings.append(elapsed * 1000)
    return timings


def time_http(http: httpx.Client, cursor: int, expected: int, runs: int) -> list[float]:
    """Time GET /api/sync/pull from `cursor` on `http`'s keep-alive connection; return milliseconds."""
    params = {"client_id": str(uuid.uuid4()), "cursor": cursor, "limit": DEFAULT_PULL_LIMIT}
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        response = http.get("/api/sync/pull", params=params)
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        received = len(response.json()["changes"])
        if received != expected:
            raise AssertionError(f"HTTP pull from cursor {cursor} returned {received} changes, expected {expected}")
        timings.append(elapsed * 1000)
    return timings


@dataclass
class SizedDatabase:
    """One filled database of the comparison, with its API server and the timings collected so far."""

    count: int
    database_url: str
    engine: Engine
    rep: harness.Rep
    server: harness.ServerProcess | None = None
    newest: list[float] = field(default_factory=list)
    nothing_new: list[float] = field(default_factory=list)
    over_http: list[float] = field(default_factory=list)


def measure_backend(backend: str, sizes: list[int], work_dir: Path) -> list[dict]:
    """Fill one database per size, then time all of them in alternating rounds.

    Alternating rounds spread slow periods of the shared machine over every size, so
    the ratio compares sizes and not moments.
    """
    databases: list[SizedDatabase] = []
    try:
        for count in sizes:
            if backend == "sqlite":
                database_url = f"sqlite:///{work_dir / f'scaling-{count}.sqlite3'}"
            else:
                database_url = harness.create_postgres_database()
            engine = build_engine(database_url)
            print(f"{backend}, {count:,} rows:", flush=True)
            migrate(engine)
            databases.append(SizedDatabase(count, database_url, engine, fill_database(engine, backend, count)))
        for database in databases:
            database.server = harness.start_server(database.database_url, work_dir / f"server-{backend}-{database.count}")

        clients = {
            database.count: httpx.Client(base_url=database.server.base_url, headers={"Authorization": f"Bearer {database.rep.token}"}, timeout=30)
            for database in databases
        }
        try:
            for database in databases:
                time_in_process(database.engine, database.rep, database.count - CHANGES_PULLED, CHANGES_PULLED, WARMUP_RUNS)
                time_http(clients[database.count], database.count - CHANGES_PULLED, CHANGES_PULLED, WARMUP_RUNS)
            for _ in range(ROUNDS):
                for database in databases:
                    cursor = database.count - CHANGES_PULLED
                    database.newest += time_in_process(database.engine, database.rep, cursor, CHANGES_PULLED, IN_PROCESS_RUNS // ROUNDS)
                    database.nothing_new += time_in_process(database.engine, database.rep, database.count, 0, IN_PROCESS_RUNS // ROUNDS)
                    database.over_http += time_http(clients[database.count], cursor, CHANGES_PULLED, HTTP_RUNS // ROUNDS)
        finally:
            for client in clients.values():
                client.close()
    finally:
        for database in databases:
            if database.server is not None:
                harness.stop_server(database.server)
            database.engine.dispose()
            if backend == "postgres":
                harness.drop_postgres_database(database.database_url)

    return [
        {
            "backend": backend,
            "rows": database.count,
            "change_log_entries": database.count,
            "in_process_ms": _summarise(database.newest),
            "in_process_nothing_new_ms": _summarise(database.nothing_new),
            "http_ms": _summarise(database.over_http),
        }
        for database in databases
    ]


def _summarise(timings: list[float]) -> dict:
    return {"median": measure.median(timings), "p95": measure.percentile(timings, 0.95), "runs": len(timings)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,1000000", help="comma-separated row counts; the first is the baseline (default 10000,1000000)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both; postgres is skipped if unreachable)")
    parser.add_argument("--output", default="sync_pull_scaling", help="result file name in bench/results/ (default sync_pull_scaling)")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",")]
    backends = [backend.strip() for backend in args.backends.split(",")]

    skipped = {}
    if "postgres" in backends:
        reason = harness.postgres_unreachable_reason()
        if reason is not None:
            print(f"PostgreSQL at {harness.POSTGRES_ADMIN_URL} is not reachable ({reason}); measuring SQLite only", flush=True)
            skipped["postgres"] = reason
            backends.remove("postgres")

    measurements = []
    with tempfile.TemporaryDirectory(prefix="bench-pull-scaling-") as directory:
        for backend in backends:
            results_of_backend = measure_backend(backend, sizes, Path(directory))
            measurements += results_of_backend
            for result in results_of_backend:
                print(
                    f"{backend}, {result['rows']:,} rows: read_pull median {result['in_process_ms']['median']:.2f} ms (p95 {result['in_process_ms']['p95']:.2f}), "
                    f"nothing new {result['in_process_nothing_new_ms']['median']:.2f} ms, "
                    f"HTTP median {result['http_ms']['median']:.2f} ms (p95 {result['http_ms']['p95']:.2f})",
                    flush=True,
                )

    ratios = []
    for backend in backends:
        by_size = {m["rows"]: m for m in measurements if m["backend"] == backend}
        baseline, largest = by_size[sizes[0]], by_size[sizes[-1]]
        for key in ("in_process_ms", "http_ms"):
            ratio = largest[key]["median"] / baseline[key]["median"]
            ratios.append({
                "backend": backend, "measure": key, "small_rows": sizes[0], "large_rows": sizes[-1],
                "ratio": ratio, "meets_target": ratio <= TARGET_RATIO,
            })

    machine = measure.machine_info()
    results = {
        "benchmark": "sync_pull_scaling",
        "command": " ".join([".venv/bin/python bench/sync_pull_scaling.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "changes_pulled": CHANGES_PULLED,
        "pull_limit": DEFAULT_PULL_LIMIT,
        "target_ratio": TARGET_RATIO,
        "skipped_backends": skipped,
        "measurements": measurements,
        "ratios": ratios,
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}")
    print("| backend | rows and log entries | read_pull median ms (p95) | nothing new ms | HTTP median ms (p95) |")
    print("|---|---|---|---|---|")
    for m in measurements:
        print(
            f"| {m['backend']} | {m['rows']:,} | {m['in_process_ms']['median']:.2f} ({m['in_process_ms']['p95']:.2f}) "
            f"| {m['in_process_nothing_new_ms']['median']:.2f} | {m['http_ms']['median']:.2f} ({m['http_ms']['p95']:.2f}) |"
        )
    for ratio in ratios:
        print(f"{ratio['backend']} {ratio['measure']}: {ratio['large_rows']:,} / {ratio['small_rows']:,} = {ratio['ratio']:.2f} (target <= {TARGET_RATIO}: {'met' if ratio['meets_target'] else 'missed'})")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
