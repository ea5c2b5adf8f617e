"""Benchmark 200 devices syncing at the same moment against one API server on PostgreSQL.

    .venv/bin/python bench/sync_many_devices.py [--devices 200] [--rounds 3] [--workers 2]

Creates a database bench_<random> on the local PostgreSQL server, migrates it with
`python -m server.cli migrate`, inserts one rep per device (each owning 20 customers,
20 visits and 20 follow-ups) and serves it with `uvicorn server.main:app --workers N`.
Every device is the real client code (a LocalStore file and a SyncClient) with its own
client id and its own HTTP connection. Round 0 is every device's first download. In each
measured round, every device queues 4 mutations (a new customer, a visit to it, a
follow-up on an existing customer and a patch of an existing customer), then all devices
run `sync_once()` (push, then pull) at once. Afterwards the database is checked: every
mutation applied exactly once, no rejections, and every device has exactly the server's rows.
The database is dropped at the end.
"""

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

import harness
import httpx
from sqlalchemy import func, text
from sqlmodel import Session, select

from mobile.offline.store import LocalStore
from mobile.offline.sync import SyncClient, SyncError
from server.db import build_engine
from server.models import Customer, Followup, SyncClient as SyncClientRow, SyncConflict, SyncRejection, Visit
from server.sync.changes import log_bulk_inserted_rows

TARGET_P95_MS = 300.0
ROWS_PER_ENTITY = 20
MUTATIONS_PER_ROUND = 4
SYNC_ENTITIES = ("customers", "visits", "followups")


class TimedAsyncClient(httpx.AsyncClient):
    """An httpx.AsyncClient that records the latency of every request, from sending to the last body byte."""

    def __init__(self, *args, samples: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.samples = samples
        self.round = 0

    async def send(self, request: httpx.Request, **kwargs) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await super().send(request, **kwargs)
        except httpx.HTTPError as error:
            self.samples.append(Sample(self.round, request.url.path, (time.perf_counter() - started) * 1000, None, type(error).__name__))
            raise
        self.samples.append(Sample(self.round, request.url.path, (time.perf_counter() - started) * 1000, response.status_code, None))
        return response


@dataclass
class Sample:
    """One HTTP request of a device: its round, path, latency in milliseconds, status code or error."""

    round: int
    path: str
    latency_ms: float
    status: int | None
    error: str | None


@dataclass
class Device:
    """One simulated installation: a rep, a local database, its HTTP client and what it wrote."""

    number: int
    rep: harness.Rep
    store: LocalStore
    http: TimedAsyncClient
    # Per entity, the (mutation id, row id) of each row the device created.
    created: dict[str, list[tuple[int, str]]] = field(default_factory=lambda: {entity: [] for entity in SYNC_ENTITIES})
    # The (mutation id, customer id, new address) of each patch.
    patches: list[tuple[int, str, str]] = field(default_factory=list)
    queued: int = 0


def seed(engine, device_count: int) -> list[harness.Rep]:
    """Insert a region, one rep per device and each rep's customers, visits and follow-ups; log them for sync."""
    now = datetime.now(timezone.utc)
    synced_defaults = {"version": 0, "deleted": False, "field_versions": {}, "server_updated_at": None}
    with Session(engine) as session:
        region = harness.insert_region(session)
        reps = harness.insert_reps(session, region, device_count)
        customers, visits, followups = [], [], []
        for rep in reps:
            own = []
            for number in range(ROWS_PER_ENTITY):
                customer_id = uuid.uuid4()
                own.append(customer_id)
                customers.append({
                    "id": customer_id, "name": f"杭州某某自动化设备有限公司{rep.username}-{number}", "industry": "工业自动化",
                    "address": f"浙江省杭州市滨江区某路{number}号", "province": "浙江省", "city": "杭州市", "district": "滨江区",
                    "latitude": 30.2 + number * 0.001, "longitude": 120.2 + number * 0.001, "coord_system": "gcj02",
                    "owner_id": rep.user_id, "region_id": rep.region_id, "created_at": now, "updated_at": now, **synced_defaults,
                })
            for number in range(ROWS_PER_ENTITY):
                visits.append({
                    "id": uuid.uuid4(), "customer_id": own[number], "rep_id": rep.user_id, "visit_type": "routine",
                    "checked_in_at": now, "checked_out_at": None, "summary": "带了新样品，更新了竞品陈列照片", **synced_defaults,
                })
                followups.append({
                    "id": uuid.uuid4(), "customer_id": own[number], "author_id": rep.user_id,
                    "text": "客户关心付款账期，希望90天", "captured_at": now, **synced_defaults,
                })
        harness.insert_rows(session, Customer, customers)
        harness.insert_rows(session, Visit, visits)
        harness.insert_rows(session, Followup, followups)
        log_bulk_inserted_rows(session)
        session.commit()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    return reps


def queue_round(device: Device, round_number: int) -> None:
    """Queue one round's 4 mutations on the device: 2 creates, 1 create on an existing row's parent, 1 patch."""
    store, rep = device.store, device.rep
    now = datetime.now(timezone.utc).isoformat()
    customer_id = store.put("customers", {
        "name": f"宁波某某精密机械有限公司{device.number}-{round_number}", "industry": "精密机械",
        "address": f"浙江省宁波市鄞州区某路{round_number}号", "province": "浙江省", "city": "宁波市", "district": "鄞州区",
        "latitude": 29.8, "longitude": 121.5, "coord_system": "gcj02", "owner_id": str(rep.user_id), "region_id": str(rep.region_id),
    })
    visit_id = store.put("visits", {
        "customer_id": customer_id, "rep_id": str(rep.user_id), "visit_type": "routine",
        "checked_in_at": now, "checked_out_at": None, "summary": f"第{round_number}轮拜访：介绍新品",
    })
    # A pulled customer; a device whose first download failed has none and uses the one it just created.
    pulled = store.query("SELECT id FROM customers WHERE name LIKE '杭州%' ORDER BY name LIMIT 1 OFFSET ?", (round_number,))
    existing = pulled[0]["id"] if pulled else customer_id
    followup_id = store.put("followups", {
        "customer_id": existing, "author_id": str(rep.user_id), "text": f"第{round_number}轮跟进：客户要求报价", "captured_at": now,
    })
    address = f"浙江省杭州市滨江区新路{device.number}-{round_number}号"
    store.patch("customers", existing, {"address": address})
    # LocalStore numbers mutations 1, 2, 3, ... in the order they were written.
    first = device.queued + 1
    device.created["customers"].append((first, customer_id))
    device.created["visits"].append((first + 1, visit_id))
    device.created["followups"].append((first + 2, followup_id))
    device.patches.append((first + 3, existing, address))
    device.queued += MUTATIONS_PER_ROUND


async def sync_device(device: Device, delay_s: float) -> str | None:
    """Wait `delay_s`, run one sync_once on the device; return None, or the error it raised."""
    if delay_s:
        await asyncio.sleep(delay_s)
    client = SyncClient(device.store, device.http, device.rep.token)
    try:
        await client.sync_once()
    except SyncError as error:
        return f"{type(error).__name__}: {error}"
    return None


async def run_rounds(devices: list[Device], rounds: int, spread_s: float) -> tuple[list[dict], list[str]]:
    """Run round 0 (first download) and `rounds` measured rounds; return per-round facts and errors.

    With `spread_s` 0, all devices start each round at once. Otherwise each starts after a
    random delay of up to `spread_s` seconds (fixed seed), like devices on their own timers.
    """
    rng = random.Random(7)
    round_facts, errors = [], []
    for round_number in range(rounds + 1):
        if round_number > 0:
            for device in devices:
                queue_round(device, round_number)
        for device in devices:
            device.http.round = round_number
        started = time.perf_counter()
        outcomes = await asyncio.gather(*(sync_device(device, rng.uniform(0, spread_s)) for device in devices))
        wall_s = time.perf_counter() - started
        failed = [f"device {device.number} round {round_number}: {outcome}" for device, outcome in zip(devices, outcomes) if outcome]
        errors += failed
        round_facts.append({"round": round_number, "wall_s": wall_s, "failed_syncs": len(failed)})
        print(f"round {round_number}: {len(devices)} devices synced in {wall_s:.2f} s, {len(failed)} failed", flush=True)
        for message in failed[:3]:
            print(f"  {message[:300]}", flush=True)
    return round_facts, errors


_ENTITY_MODELS = {"customers": Customer, "visits": Visit, "followups": Followup}
_OWNER_COLUMNS = {"customers": Customer.owner_id, "visits": Visit.rep_id, "followups": Followup.author_id}
# The column whose text differs for every row a device creates: two rows with one such text are one mutation applied twice.
_TEXT_FIELDS = {"customers": "name", "visits": "summary", "followups": "text"}
_CREATED_TEXT_MARKS = ("宁波", "轮")


def verify(engine, devices: list[Device]) -> dict:
    """Check in the database that every mutation the server acknowledged was applied exactly once.

    For each device, the server's last applied mutation id splits its mutations into applied
    ones, whose rows and values must be on the server once, and undelivered ones, which must
    still be in the device's outbox and must not be on the server. A device with an empty
    outbox must have exactly the server's rows and versions.
    """
    problems = {"lost": [], "duplicated": [], "undelivered": [], "applied_unacknowledged": [], "device_differs": []}
    with Session(engine) as session:
        last_ids = {row.client_id: row.last_mutation_id for row in session.exec(select(SyncClientRow)).all()}
        for device in devices:
            applied_up_to = last_ids.get(uuid.UUID(device.store.client_id), 0)
            _check_device(session, device, applied_up_to, problems)

        rejections = session.exec(select(func.count()).select_from(SyncRejection)).one()
        conflicts = session.exec(select(func.count()).select_from(SyncConflict)).one()
        duplicate_log_entries = session.execute(text(
            "SELECT COUNT(*) FROM (SELECT entity_id FROM sync_changes WHERE op <> 'evict' "
            "GROUP BY entity_id, owner_id, region_id, store_id HAVING COUNT(*) > 1) AS duplicated"
        )).scalar_one()
    if duplicate_log_entries:
        problems["duplicated"].append(f"{duplicate_log_entries} rows have more than one change-log entry per audience")
    return {
        "mutations_queued": sum(device.queued for device in devices),
        "mutations_applied": sum(min(last_ids.get(uuid.UUID(device.store.client_id), 0), device.queued) for device in devices),
        "rejections": rejections,
        "conflicts": conflicts,
        "problem_counts": {kind: len(found) for kind, found in problems.items()},
        "problems": {kind: found[:20] for kind, found in problems.items()},
        "no_loss_no_duplicates": not problems["lost"] and not problems["duplicated"] and not problems["applied_unacknowledged"],
        "exactly_once": not any(problems.values()) and not rejections,
    }


def _check_device(session: Session, device: Device, applied_up_to: int, problems: dict[str, list[str]]) -> None:
    """Append to `problems` what is wrong with one device's mutations, given the server's last applied id."""
    # The outbox keeps applied entries until a pull confirms them, so it may contain more than the undelivered ones.
    outbox_ids = {row["mutation_id"] for row in device.store.query("SELECT mutation_id FROM outbox")}
    dropped = [mutation_id for mutation_id in range(applied_up_to + 1, device.queued + 1) if mutation_id not in outbox_ids]
    if dropped:
        problems["lost"].append(f"device {device.number}: mutations {dropped} were neither applied nor kept in the outbox")
    if applied_up_to < device.queued:
        problems["undelivered"].append(f"device {device.number}: mutations {applied_up_to + 1}-{device.queued} not applied yet")

    for entity, model in _ENTITY_MODELS.items():
        server_rows = session.exec(
            select(model).where(_OWNER_COLUMNS[entity] == device.rep.user_id, model.deleted == False)  # noqa: E712
        ).all()
        server_ids = {str(row.id) for row in server_rows}
        for mutation_id, row_id in device.created[entity]:
            if mutation_id <= applied_up_to and row_id not in server_ids:
                problems["lost"].append(f"device {device.number}: {entity} {row_id} (mutation {mutation_id}) acknowledged but missing")
            if mutation_id > applied_up_to and row_id in server_ids:
                problems["applied_unacknowledged"].append(f"device {device.number}: {entity} {row_id} (mutation {mutation_id}) on the server")

        texts = Counter(getattr(row, _TEXT_FIELDS[entity]) for row in server_rows)
        repeated = [value for value, count in texts.items() if count > 1 and any(mark in value for mark in _CREATED_TEXT_MARKS)]
        if repeated:
            problems["duplicated"].append(f"device {device.number}: {entity} created twice: {repeated[:3]}")

        if not outbox_ids:
            local_versions = {row["id"]: row["version"] for row in device.store.query(f"SELECT id, version FROM {entity}")}
            server_versions = {str(row.id): row.version for row in server_rows}
            if local_versions != server_versions:
                problems["device_differs"].append(
                    f"device {device.number}: local {entity} differ from the server's ({len(local_versions)} vs {len(server_versions)} rows)"
                )

    applied_patches = [patch for patch in device.patches if patch[0] <= applied_up_to]
    if applied_patches:
        mutation_id, customer_id, address = applied_patches[-1]
        stored = session.get(Customer, uuid.UUID(customer_id))
        if stored is None or stored.address != address:
            problems["lost"].append(f"device {device.number}: patch {mutation_id} of customer {customer_id} acknowledged but not stored")


def latency_summary(samples: list[Sample]) -> dict:
    latencies = [sample.latency_ms for sample in samples]
    if not latencies:
        return {"requests": 0}
    return {
        "requests": len(latencies),
        "median_ms": measure.median(latencies),
        "p95_ms": measure.percentile(latencies, 0.95),
        "max_ms": max(latencies),
    }


async def simulate(base_url: str, reps: list[harness.Rep], rounds: int, spread_s: float, work_dir: Path) -> tuple[list[Device], list[Sample], list[dict], list[str]]:
    samples: list[Sample] = []
    devices = []
    for number, rep in enumerate(reps, start=1):
        http = TimedAsyncClient(base_url=base_url, timeout=60, samples=samples)
        devices.append(Device(number, rep, LocalStore(work_dir / f"device-{number}.sqlite3"), http))
    try:
        round_facts, errors = await run_rounds(devices, rounds, spread_s)
    finally:
        for device in devices:
            await device.http.aclose()
    return devices, samples, round_facts, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=200, help="simulated devices, one rep each (default 200)")
    parser.add_argument("--rounds", type=int, default=3, help="measured rounds after the first download (default 3)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="uvicorn worker processes (default: the CPU count)")
    parser.add_argument(
        "--spread-seconds", type=float, default=0.0,
        help="start each device's sync after a random delay of up to this many seconds (default 0: all at once)",
    )
    parser.add_argument("--app", default="server.main:app", help="ASGI app for uvicorn as module:attribute (default server.main:app)")
    parser.add_argument("--output", default="sync_many_devices", help="result file name in bench/results/ (default sync_many_devices)")
    args = parser.parse_args(argv)

    reason = harness.postgres_unreachable_reason()
    if reason is not None:
        print(f"error: PostgreSQL at {harness.POSTGRES_ADMIN_URL} is not reachable ({reason}); set BENCH_POSTGRES_URL", file=sys.stderr)
        return 2

    database_url = harness.create_postgres_database()
    server = None
    client_cpu_before = measure.process_cpu_seconds(os.getpid())
    try:
        with tempfile.TemporaryDirectory(prefix="bench-many-devices-") as directory:
            work_dir = Path(directory)
            subprocess.run(
                [sys.executable, "-m", "server.cli", "migrate"], cwd=measure.REPO_ROOT, check=True,
                env={**os.environ, "DATABASE_URL": database_url, "LOG_LEVEL": "WARNING"},
            )
            engine = build_engine(database_url)
            reps = seed(engine, args.devices)
            server = harness.start_server(database_url, work_dir / "server", workers=args.workers, app=args.app)
            server_cpu_before = measure.process_tree_cpu_seconds(server.process.pid)
            devices, samples, round_facts, errors = asyncio.run(simulate(server.base_url, reps, args.rounds, args.spread_seconds, work_dir))
            server_cpu_s = measure.process_tree_cpu_seconds(server.process.pid) - server_cpu_before
            client_cpu_s = measure.process_cpu_seconds(os.getpid()) - client_cpu_before
            harness.stop_server(server)
            server = None
            server_log = harness.keep_server_log(work_dir / "server", args.output)
            checks = verify(engine, devices)
            for device in devices:
                device.store.close()
            engine.dispose()
    finally:
        if server is not None:
            harness.stop_server(server)
        harness.drop_postgres_database(database_url)

    measured = [sample for sample in samples if sample.round > 0]
    http_errors = [sample for sample in samples if sample.error is not None or (sample.status or 0) >= 400]
    summary = {
        "all_requests": latency_summary(measured),
        "push": latency_summary([sample for sample in measured if sample.path.endswith("/push")]),
        "pull": latency_summary([sample for sample in measured if sample.path.endswith("/pull")]),
        "first_download": latency_summary([sample for sample in samples if sample.round == 0]),
        "http_errors": len(http_errors),
        "failed_syncs": len(errors),
    }
    summary["meets_latency_target"] = summary["all_requests"].get("p95_ms", float("inf")) <= TARGET_P95_MS
    summary["meets_error_target"] = not http_errors and not errors
    summary["meets_exactly_once"] = checks["exactly_once"]

    machine = measure.machine_info()
    results = {
        "benchmark": "sync_many_devices",
        "command": " ".join([".venv/bin/python bench/sync_many_devices.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "devices": args.devices,
        "rounds": args.rounds,
        "spread_seconds": args.spread_seconds,
        "uvicorn_workers": args.workers,
        "app": args.app,
        "target_p95_ms": TARGET_P95_MS,
        "rounds_facts": round_facts,
        "summary": summary,
        "checks": checks,
        "errors": errors[:50],
        "server_cpu_s": server_cpu_s,
        "client_process_cpu_s": client_cpu_s,
        "server_log": str(server_log),
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}")
    start = "all at once" if not args.spread_seconds else f"starts spread over {args.spread_seconds:g} s"
    print(f"{args.devices} devices, {args.rounds} measured rounds ({start}), {args.workers} uvicorn workers on PostgreSQL")
    print("| requests | count | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for name in ("all_requests", "push", "pull", "first_download"):
        row = summary[name]
        if row["requests"]:
            print(f"| {name} | {row['requests']} | {row['median_ms']:.0f} | {row['p95_ms']:.0f} | {row['max_ms']:.0f} |")
    print(f"HTTP errors: {summary['http_errors']}, failed syncs: {summary['failed_syncs']}")
    print(f"server CPU {server_cpu_s:.1f} s, device-simulator CPU {client_cpu_s:.1f} s")
    print(
        f"every mutation applied exactly once: {checks['exactly_once']} ({checks['mutations_applied']} of {checks['mutations_queued']} applied; "
        f"none lost or duplicated: {checks['no_loss_no_duplicates']}; problems by kind: {checks['problem_counts']})"
    )
    for kind, found in checks["problems"].items():
        for problem in found[:3]:
            print(f"  {kind}: {problem}")
    for error in errors[:5]:
        print(f"  {error}")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
