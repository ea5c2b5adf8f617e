"""Benchmark the first sync of an empty device: 105,000 rows over HTTP into a new LocalStore.

    .venv/bin/python bench/sync_first_download.py [--runs 3] [--page-sizes 1000,2000,5000]

Builds a SQLite server database with one rep who owns 5,000 customers, 50,000 visits and
50,000 follow-ups, and starts the API server on it. Each run is `SyncClient.sync_once()` into
an empty LocalStore in a new process, so that process's peak RSS is the client's.
The floor is the same rows read from the server's SQLite file, JSON-encoded and decoded,
and inserted into a new SQLite file with the LocalStore schema, in one process without HTTP.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

from core.wire import DEFAULT_PULL_LIMIT, MAX_PULL_LIMIT, SYNCED_FIELDS

TARGET_SECONDS = 10.0
TARGET_PEAK_RSS_MB = 300.0
TARGET_FLOOR_RATIO = 3.0
SYNCED_ENTITIES = ("customers", "visits", "followups")
# Rows the floor reads, encodes and inserts per transaction, like one pull page.
FLOOR_CHUNK = 5000
# Customers changed on the server before each timed incremental sync, as in the PouchDB peer.
INCREMENTAL_CHANGES = 10


# ---- Client process -------------------------------------------------------------------------


def run_client(base_url: str, token: str, store_path: Path, pull_limit: int) -> dict:
    """Run one first sync into an empty store at `store_path`; return timings, counts and peak RSS."""
    import asyncio
    import resource

    import httpx

    from mobile.offline.store import LocalStore
    from mobile.offline.sync import SyncClient

    store = LocalStore(store_path)

    async def sync():
        async with httpx.AsyncClient(base_url=base_url, timeout=120) as http:
            client = SyncClient(store, http, token, pull_limit=pull_limit)
            return await client.sync_once()

    usage_before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    report = asyncio.run(sync())
    seconds = time.perf_counter() - started
    usage_after = resource.getrusage(resource.RUSAGE_SELF)

    counts = {entity: store.query(f"SELECT COUNT(*) AS n FROM {entity}")[0]["n"] for entity in SYNCED_ENTITIES}
    store.close()
    return {
        "seconds": seconds,
        "rows": report.pulled,
        "pages": report.pages,
        "local_counts": counts,
        "client_cpu_s": (usage_after.ru_utime + usage_after.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime),
        "client_peak_rss_mb": measure.peak_rss_mb(),
        "local_db_mb": store_path.stat().st_size / 1048576,
    }


# ---- Floor process --------------------------------------------------------------------------


def run_floor(server_db: Path, store_path: Path) -> dict:
    """Copy the synced rows from the server's SQLite file into a new LocalStore-schema file, without HTTP.

    Each chunk of rows is encoded to JSON and decoded again, standing in for the wire.
    Values are copied as SQLite stores them (ids as 32 hex digits, times as text), so the
    floor skips the conversions to wire format that a real pull does. Synced fields that
    the server derives from other tables (no column of that name in the server's table)
    are left NULL.
    """
    import sqlite3

    from mobile.offline.store import LocalStore

    LocalStore(store_path).close()
    source = sqlite3.connect(f"file:{server_db}?mode=ro", uri=True)
    target = sqlite3.connect(store_path, isolation_level=None)

    started = time.perf_counter()
    rows_copied = 0
    for entity in SYNCED_ENTITIES:
        names = ["id", "version", *SYNCED_FIELDS[entity]]
        stored = {row[1] for row in source.execute(f"PRAGMA table_info({entity})")}
        selected = ", ".join(f'"{name}"' if name in stored else f'NULL AS "{name}"' for name in names)
        quoted = ", ".join(f'"{name}"' for name in names)
        placeholders = ", ".join("?" for _ in names)
        cursor = source.execute(f"SELECT {selected} FROM {entity} WHERE deleted = 0 ORDER BY version")
        while True:
            chunk = cursor.fetchmany(FLOOR_CHUNK)
            if not chunk:
                break
            payload = json.dumps([dict(zip(names, row)) for row in chunk], ensure_ascii=False)
            decoded = json.loads(payload)
            target.execute("BEGIN IMMEDIATE")
            target.executemany(
                f"INSERT INTO {entity} ({quoted}) VALUES ({placeholders})",
                [[row[name] for name in names] for row in decoded],
            )
            target.execute("COMMIT")
            rows_copied += len(chunk)
    seconds = time.perf_counter() - started
    source.close()
    target.close()
    return {"seconds": seconds, "rows": rows_copied, "peak_rss_mb": measure.peak_rss_mb()}


# ---- Driver ---------------------------------------------------------------------------------


def measure_incremental(base_url: str, token: str, store_path: Path, runs: int) -> list[dict]:
    """Time an incremental sync after 10 customers changed on the server, and a sync with nothing new.

    `store_path` contains a completed first download. In each run another client of the
    same rep pushes patches of 10 customers that this store has not seen change. Then this
    store's `sync_once()` (one pull request, nothing to push) is timed, and a second
    `sync_once()` that finds nothing new.
    """
    import asyncio
    import uuid
    from datetime import datetime, timezone

    import httpx

    from mobile.offline.store import LocalStore
    from mobile.offline.sync import SyncClient

    store = LocalStore(store_path)
    customers = store.query("SELECT id, version FROM customers ORDER BY name LIMIT ?", (INCREMENTAL_CHANGES * runs,))
    headers = {"Authorization": f"Bearer {token}"}

    async def run_all() -> list[dict]:
        results = []
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            for run_number in range(1, runs + 1):
                batch = customers[(run_number - 1) * INCREMENTAL_CHANGES:run_number * INCREMENTAL_CHANGES]
                captured_at = datetime.now(timezone.utc).isoformat()
                mutations = [
                    {"id": number, "op": "patch", "entity": "customers", "entity_id": row["id"],
                     "fields": {"address": f"浙江省杭州市滨江区改址路{run_number}-{number}号"},
                     "base_version": row["version"], "captured_at": captured_at}
                    for number, row in enumerate(batch, start=1)
                ]
                response = await http.post("/api/sync/push", headers=headers, json={"client_id": str(uuid.uuid4()), "mutations": mutations})
                response.raise_for_status()
                applied = sum(1 for result in response.json()["results"] if result["status"] == "applied")
                if applied != len(batch):
                    raise RuntimeError(f"the server applied {applied} of {len(batch)} edits: {response.text[:500]}")

                client = SyncClient(store, http, token)
                started = time.perf_counter()
                incremental = await client.sync_once()
                incremental_seconds = time.perf_counter() - started
                started = time.perf_counter()
                nothing_new = await client.sync_once()
                nothing_new_seconds = time.perf_counter() - started
                results.append({
                    "run": run_number,
                    "incremental_seconds": incremental_seconds,
                    "incremental_changes": incremental.pulled,
                    "nothing_new_seconds": nothing_new_seconds,
                    "nothing_new_changes": nothing_new.pulled,
                })
        return results

    try:
        return asyncio.run(run_all())
    finally:
        store.close()


def run_subprocess(arguments: list[str]) -> dict:
    """Run this script in a child process with `arguments` and return the JSON it prints."""
    completed = subprocess.run(
        [sys.executable, __file__, *arguments], cwd=measure.REPO_ROOT, capture_output=True, text=True, timeout=600,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"benchmark child {arguments[0]} failed with exit code {completed.returncode}:\n{completed.stderr[-4000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


def build_server_database(work_dir: Path):
    """Create and fill the server's SQLite file; return its path, the rep and the seconds it took."""
    import harness
    from server.cli import migrate
    from server.db import build_engine

    database_path = work_dir / "server.sqlite3"
    engine = build_engine(f"sqlite:///{database_path}")
    started = time.perf_counter()
    migrate(engine)
    rep, logged = harness.load_dataset(engine)
    engine.dispose()
    seconds = time.perf_counter() - started
    print(f"built server database: {logged} rows with change-log entries in {seconds:.1f} s", flush=True)
    return database_path, rep, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="measured runs per page size (default 3)")
    parser.add_argument(
        "--page-sizes", default=f"1000,{DEFAULT_PULL_LIMIT},{MAX_PULL_LIMIT}",
        help=f"comma-separated pull page sizes to try (default 1000,{DEFAULT_PULL_LIMIT},{MAX_PULL_LIMIT})",
    )
    parser.add_argument("--app", help="serve this ASGI app (module:attribute) with uvicorn instead of `server.cli serve`")
    parser.add_argument("--output", default="sync_first_download", help="result file name in bench/results/ (default sync_first_download)")
    args = parser.parse_args(argv)
    # Imported here, not at the top, so the client and floor child processes do not load server code.
    import harness

    page_sizes = [int(size) for size in args.page_sizes.split(",")]
    expected_rows = harness.CUSTOMER_COUNT + harness.VISIT_COUNT + harness.FOLLOWUP_COUNT

    with tempfile.TemporaryDirectory(prefix="bench-first-download-") as directory:
        work_dir = Path(directory)
        database_path, rep, build_seconds = build_server_database(work_dir)
        server = harness.start_server(f"sqlite:///{database_path}", work_dir, app=args.app)
        runs = []
        try:
            # One unmeasured sync warms the server process and the page cache.
            run_subprocess(["client", server.base_url, rep.token, str(work_dir / "warmup.sqlite3"), str(DEFAULT_PULL_LIMIT)])
            for run_number in range(1, args.runs + 1):
                # Page sizes are interleaved so a slow period of the shared machine hits all of them.
                for page_size in page_sizes:
                    store_path = work_dir / f"client-{page_size}-{run_number}.sqlite3"
                    server_cpu_before = measure.process_cpu_seconds(server.process.pid)
                    result = run_subprocess(["client", server.base_url, rep.token, str(store_path), str(page_size)])
                    result["server_cpu_s"] = measure.process_cpu_seconds(server.process.pid) - server_cpu_before
                    result.update(page_size=page_size, run=run_number, rows_per_s=result["rows"] / result["seconds"])
                    runs.append(result)
                    store_path.unlink()
                    print(
                        f"page size {page_size:>5} run {run_number}: {result['seconds']:.2f} s, {result['rows_per_s']:,.0f} rows/s, "
                        f"{result['pages']} pages, client peak RSS {result['client_peak_rss_mb']:.0f} MB, "
                        f"client CPU {result['client_cpu_s']:.1f} s, server CPU {result['server_cpu_s']:.1f} s",
                        flush=True,
                    )
            incremental_runs = measure_incremental(server.base_url, rep.token, work_dir / "warmup.sqlite3", args.runs)
            for result in incremental_runs:
                print(
                    f"incremental run {result['run']}: {result['incremental_changes']} changes in {result['incremental_seconds'] * 1000:.1f} ms, "
                    f"nothing new in {result['nothing_new_seconds'] * 1000:.1f} ms",
                    flush=True,
                )
        finally:
            harness.stop_server(server)

        floor_runs = []
        for run_number in range(1, args.runs + 1):
            store_path = work_dir / f"floor-{run_number}.sqlite3"
            result = run_subprocess(["floor", str(database_path), str(store_path)])
            result["run"] = run_number
            floor_runs.append(result)
            store_path.unlink()
            print(f"floor run {run_number}: {result['seconds']:.2f} s, peak RSS {result['peak_rss_mb']:.0f} MB", flush=True)

    floor_median = measure.median([run["seconds"] for run in floor_runs])
    summary = []
    for page_size in page_sizes:
        sized = [run for run in runs if run["page_size"] == page_size]
        seconds = measure.median([run["seconds"] for run in sized])
        peak_rss = measure.median([run["client_peak_rss_mb"] for run in sized])
        summary.append({
            "page_size": page_size,
            "product_default": page_size == DEFAULT_PULL_LIMIT,
            "runs": len(sized),
            "median_seconds": seconds,
            "min_seconds": min(run["seconds"] for run in sized),
            "max_seconds": max(run["seconds"] for run in sized),
            "median_rows_per_s": expected_rows / seconds,
            "median_client_peak_rss_mb": peak_rss,
            "median_client_cpu_s": measure.median([run["client_cpu_s"] for run in sized]),
            "median_server_cpu_s": measure.median([run["server_cpu_s"] for run in sized]),
            "ratio_to_floor": seconds / floor_median,
            # The pull also carries rows for every user (the default checklist template),
            # so the check counts the benchmark's own tables.
            "all_rows_arrived": all(sum(run["local_counts"].values()) == expected_rows and run["rows"] >= expected_rows for run in sized),
            "meets_time_target": seconds <= TARGET_SECONDS,
            "meets_memory_target": peak_rss <= TARGET_PEAK_RSS_MB,
            "meets_floor_ratio_target": seconds / floor_median <= TARGET_FLOOR_RATIO,
        })

    machine = measure.machine_info()
    results = {
        "benchmark": "sync_first_download",
        "command": " ".join([".venv/bin/python bench/sync_first_download.py", *(argv if argv is not None else sys.argv[1:])]).strip(),
        "machine": machine,
        "app": args.app or "server.main:app (python -m server.cli serve)",
        "dataset": {"customers": harness.CUSTOMER_COUNT, "visits": harness.VISIT_COUNT, "followups": harness.FOLLOWUP_COUNT},
        "build_seconds": build_seconds,
        "targets": {"seconds": TARGET_SECONDS, "client_peak_rss_mb": TARGET_PEAK_RSS_MB, "ratio_to_floor": TARGET_FLOOR_RATIO},
        "floor": {"runs": floor_runs, "median_seconds": floor_median},
        "incremental": {
            "changes": INCREMENTAL_CHANGES,
            "runs": incremental_runs,
            "median_incremental_seconds": measure.median([run["incremental_seconds"] for run in incremental_runs]),
            "median_nothing_new_seconds": measure.median([run["nothing_new_seconds"] for run in incremental_runs]),
            # Each edited customer is rescored, so its score snapshot (and any alert) arrives with it.
            "all_changes_arrived": all(run["incremental_changes"] >= INCREMENTAL_CHANGES and run["nothing_new_changes"] == 0 for run in incremental_runs),
        },
        "runs": runs,
        "summary": summary,
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}")
    print(f"floor (SQLite to JSON to SQLite, one process): median {floor_median:.2f} s over {len(floor_runs)} runs")
    print("| page size | runs | median s (min-max) | rows/s | client peak RSS MB | ratio to floor | all rows |")
    print("|---|---|---|---|---|---|---|")
    for row in summary:
        default_mark = " (default)" if row["product_default"] else ""
        print(
            f"| {row['page_size']}{default_mark} | {row['runs']} | {row['median_seconds']:.2f} ({row['min_seconds']:.2f}-{row['max_seconds']:.2f}) "
            f"| {row['median_rows_per_s']:,.0f} | {row['median_client_peak_rss_mb']:.0f} | {row['ratio_to_floor']:.1f} | {row['all_rows_arrived']} |"
        )
    incremental = results["incremental"]
    print(
        f"incremental sync of {INCREMENTAL_CHANGES} changed customers: median {incremental['median_incremental_seconds'] * 1000:.1f} ms; "
        f"nothing new: median {incremental['median_nothing_new_seconds'] * 1000:.1f} ms; all changes arrived: {incremental['all_changes_arrived']}"
    )
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "client":
        _, _, base_url, token, store_path, pull_limit = sys.argv
        print(json.dumps(run_client(base_url, token, Path(store_path), int(pull_limit))))
    elif len(sys.argv) > 1 and sys.argv[1] == "floor":
        _, _, server_db, store_path = sys.argv
        print(json.dumps(run_floor(Path(server_db), Path(store_path))))
    else:
        sys.exit(main())
