"""Benchmark pushing 1,000 queued mutations: HTTP round trips and time of one `SyncClient.sync_once()`.

    .venv/bin/python bench/sync_push_roundtrips.py [--runs 3] [--backends sqlite,postgres]

Starts the API server on a database with one rep who owns 100 customers. Each run makes a
new device (an empty LocalStore), downloads the 100 customers, then queues 1,000 mutations:
200 new customers, 300 new visits, 300 new follow-ups and 200 patches of existing customers.
One `sync_once()` pushes them and pulls the result; an httpx event hook counts its requests.
The target is at most 10 round trips.
"""

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

import harness
import httpx
from sqlalchemy import func
from sqlmodel import Session, select

from core.wire import PUSH_BATCH_SIZE
from mobile.offline.store import LocalStore
from mobile.offline.sync import SyncClient
from server.db import build_engine
from server.models import Customer, Followup, SyncRejection, Visit

TARGET_ROUND_TRIPS = 10
EXISTING_CUSTOMERS = 100
NEW_CUSTOMERS = 200
NEW_VISITS = 300
NEW_FOLLOWUPS = 300
PATCHES = 200
MUTATIONS = NEW_CUSTOMERS + NEW_VISITS + NEW_FOLLOWUPS + PATCHES


def queue_mutations(store: LocalStore, rep: harness.Rep, run_number: int) -> dict[str, list[str]]:
    """Write the 1,000 local changes of one run; return the ids of the rows it created, by entity."""
    existing = [row["id"] for row in store.query("SELECT id FROM customers ORDER BY name")]
    captured_at = datetime.now(timezone.utc).isoformat()
    created: dict[str, list[str]] = {"customers": [], "visits": [], "followups": []}
    for number in range(NEW_CUSTOMERS):
        created["customers"].append(store.put("customers", {
            "name": f"宁波某某精密机械有限公司{run_number}-{number}", "industry": "精密机械",
            "address": f"浙江省宁波市鄞州区某路{number}号", "province": "浙江省", "city": "宁波市", "district": "鄞州区",
            "latitude": 29.8 + number * 0.0001, "longitude": 121.5 + number * 0.0001, "coord_system": "gcj02",
            "owner_id": str(rep.user_id), "region_id": str(rep.region_id),
        }))
    customers = existing + created["customers"]
    for number in range(NEW_VISITS):
        created["visits"].append(store.put("visits", {
            "customer_id": customers[number % len(customers)], "rep_id": str(rep.user_id), "visit_type": "routine",
            "checked_in_at": captured_at, "checked_out_at": None, "summary": "带了新样品，更新了竞品陈列照片",
        }))
    for number in range(NEW_FOLLOWUPS):
        created["followups"].append(store.put("followups", {
            "customer_id": customers[(number * 7) % len(customers)], "author_id": str(rep.user_id),
            "text": "客户关心付款账期，希望90天", "captured_at": captured_at,
        }))
    for number in range(PATCHES):
        store.patch("customers", existing[number % len(existing)], {"address": f"浙江省杭州市滨江区新路{run_number}-{number}号"})
    return created


async def push_and_pull(store: LocalStore, base_url: str, token: str) -> tuple[float, Counter, object]:
    """Run one sync_once with a request-counting hook; return seconds, requests by endpoint and the report."""
    requests: Counter = Counter()

    async def count_request(request: httpx.Request) -> None:
        requests[f"{request.method} {request.url.path}"] += 1

    async with httpx.AsyncClient(base_url=base_url, timeout=120, event_hooks={"request": [count_request]}) as http:
        client = SyncClient(store, http, token)
        started = time.perf_counter()
        report = await client.sync_once()
        seconds = time.perf_counter() - started
    return seconds, requests, report


async def download(store: LocalStore, base_url: str, token: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
        await SyncClient(store, http, token).sync_once()


def count_on_server(engine, created: dict[str, list[str]]) -> dict[str, int]:
    """Count the created rows present on the server, and the rejections stored."""
    models = {"customers": Customer, "visits": Visit, "followups": Followup}
    counts = {}
    with Session(engine) as session:
        for entity, ids in created.items():
            model = models[entity]
            expected_ids = [uuid.UUID(value) for value in ids]
            counts[entity] = sum(
                session.exec(select(func.count()).select_from(model).where(model.id.in_(expected_ids[start:start + 500]))).one()
                for start in range(0, len(expected_ids), 500)
            )
        counts["rejections"] = session.exec(select(func.count()).select_from(SyncRejection)).one()
    return counts


def measure_backend(backend: str, runs: int, work_dir: Path) -> list[dict]:
    database_url = harness.create_postgres_database() if backend == "postgres" else f"sqlite:///{work_dir / 'push.sqlite3'}"
    engine = build_engine(database_url)
    server = None
    results = []
    try:
        from server.cli import migrate

        migrate(engine)
        rep, _ = harness.load_dataset(engine, customers=EXISTING_CUSTOMERS, visits=0, followups=0)
        server = harness.start_server(database_url, work_dir / f"server-{backend}")
        for run_number in range(1, runs + 1):
            store = LocalStore(work_dir / f"device-{backend}-{run_number}.sqlite3")
            asyncio.run(download(store, server.base_url, rep.token))
            created = queue_mutations(store, rep, run_number)
            queued = store.pending_count()
            seconds, requests, report = asyncio.run(push_and_pull(store, server.base_url, rep.token))
            on_server = count_on_server(engine, created)
            result = {
                "backend": backend,
                "run": run_number,
                "mutations": queued,
                "seconds": seconds,
                "mutations_per_s": queued / seconds,
                "round_trips": sum(requests.values()),
                "requests": dict(requests),
                "applied": report.pushed,
                "rejected": report.rejected,
                "pulled": report.pulled,
                "outbox_left": store.pending_count(),
                "created_rows_on_server": {entity: on_server[entity] for entity in created},
                "rejections_on_server": on_server["rejections"],
            }
            result["all_applied"] = (
                result["applied"] == MUTATIONS and result["rejected"] == 0 and result["outbox_left"] == 0
                and all(on_server[entity] == len(ids) for entity, ids in created.items())
            )
            store.close()
            results.append(result)
            print(
                f"{backend} run {run_number}: {queued} mutations in {seconds:.2f} s, {result['round_trips']} round trips "
                f"{dict(requests)}, applied {report.pushed}, rejected {report.rejected}, all applied: {result['all_applied']}",
                flush=True,
            )
    finally:
        if server is not None:
            harness.stop_server(server)
        engine.dispose()
        if backend == "postgres":
            harness.drop_postgres_database(database_url)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per backend (default 3)")
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both; postgres is skipped if unreachable)")
    parser.add_argument("--output", default="sync_push_roundtrips", help="result file name in bench/results/ (default sync_push_roundtrips)")
    args = parser.parse_args(argv)
    backends = [backend.strip() for backend in args.backends.split(",")]

    skipped = {}
    if "postgres" in backends:
        reason = harness.postgres_unreachable_reason()
        if reason is not None:
            print(f"PostgreSQL at {harness.POSTGRES_ADMIN_URL} is not reachable ({reason}); measuring SQLite only", flush=True)
            skipped["postgres"] = reason
            backends.remove("postgres")

    runs = []
    with tempfile.TemporaryDirectory(prefix="bench-push-") as directory:
        for backend in backends:
            runs += measure_backend(backend, args.runs, Path(directory))

    summary = []
    for backend in backends:
        of_backend = [run for run in runs if run["backend"] == backend]
        seconds = measure.median([run["seconds"] for run in of_backend])
        round_trips = measure.median([run["round_trips"] for run in of_backend])
        summary.append({
            "backend": backend,
            "runs": len(of_backend),
            "median_seconds": seconds,
            "median_mutations_per_s": MUTATIONS / seconds,
            "median_round_trips": round_trips,
            "max_round_trips": max(run["round_trips"] for run in of_backend),
            "all_applied": all(run["all_applied"] for run in of_backend),
            "meets_target": max(run["round_trips"] for run in of_backend) <= TARGET_ROUND_TRIPS,
        })

    machine = measure.machine_info()
    results = {
        "benchmark": "sync_push_roundtrips",
        "command": " ".join([".venv/bin/python bench/sync_push_roundtrips.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "mutations": {"new_customers": NEW_CUSTOMERS, "new_visits": NEW_VISITS, "new_followups": NEW_FOLLOWUPS, "customer_patches": PATCHES},
        "push_batch_size": PUSH_BATCH_SIZE,
        "target_round_trips": TARGET_ROUND_TRIPS,
        "skipped_backends": skipped,
        "runs": runs,
        "summary": summary,
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}")
    print("| backend | runs | median s | mutations/s | round trips (median, max) | all applied once |")
    print("|---|---|---|---|---|---|")
    for row in summary:
        print(
            f"| {row['backend']} | {row['runs']} | {row['median_seconds']:.2f} | {row['median_mutations_per_s']:,.0f} "
            f"| {row['median_round_trips']:.0f}, {row['max_round_trips']} | {row['all_applied']} |"
        )
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
