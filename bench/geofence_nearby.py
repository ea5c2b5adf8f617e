"""Benchmark finding the customers near a fix among a rep's 5,000 in the device's local database.

    .venv/bin/python bench/geofence_nearby.py [--runs 5] [--customers 5000] [--queries 500]

Fills a real LocalStore (the client's SQLite database) in a temporary directory with a
rep's customers spread over Hangzhou's urban area (about 30 x 30 km), stored in GCJ-02
as AMap gives them. Each query is mobile.offline.visits.nearby_customers, as the check-in
screen calls it. A bounding box on the indexed stored coordinates, widened by the
coordinate systems' offsets, selects candidates. Each candidate is converted to WGS-84 and
its geodesic distance computed, and the query returns the customers within 500 m, nearest
first (at most 5).
Fixes are drawn next to random customers, so most queries find some. The first query of
each run, with a cold connection, is reported apart. The target is a median of 20 ms or less.
"""

import argparse
import math
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

import prcoords  # noqa: E402
from geopy.distance import geodesic  # noqa: E402

from core.wire import SYNCED_FIELDS  # noqa: E402
from mobile.offline.store import LocalStore  # noqa: E402
from mobile.offline.visits import ensure_location_index, nearby_customers  # noqa: E402

TARGET_MEDIAN_MS = 20.0
RADIUS_M = 500.0
NEARBY_LIMIT = 5
SEED = 20261204
# South-west corner of the area, WGS-84, and its size in degrees (about 30 km each way).
AREA_ORIGIN = (30.15, 120.0)
AREA_SPAN = (0.27, 0.31)


def fill_store(path: Path, count: int) -> tuple[LocalStore, list[tuple[float, float]]]:
    """Write `count` customers as pulled rows; return the store and their WGS-84 sites."""
    rng = random.Random(SEED)
    store = LocalStore(path)
    sites = []
    changes = []
    for number in range(count):
        latitude = AREA_ORIGIN[0] + rng.random() * AREA_SPAN[0]
        longitude = AREA_ORIGIN[1] + rng.random() * AREA_SPAN[1]
        sites.append((latitude, longitude))
        gcj = prcoords.wgs_gcj(prcoords.Coords(latitude, longitude))
        row = {name: None for name in SYNCED_FIELDS["customers"]}
        row.update({"name": f"杭州某某自动化设备有限公司{number}", "latitude": gcj.lat, "longitude": gcj.lon, "coord_system": "gcj02"})
        customer_id = f"customer-{number}"
        changes.append({"seq": number + 1, "entity": "customers", "id": customer_id, "op": "put", "row": {**row, "id": customer_id, "version": number + 1}})
    store.apply_pull_page(changes, cursor=count, last_mutation_id=None)
    ensure_location_index(store)
    return store, sites


def fixes_near(sites: list[tuple[float, float]], count: int, run: int) -> list[tuple[float, float]]:
    rng = random.Random(SEED + run)
    fixes = []
    for _ in range(count):
        site = rng.choice(sites)
        point = geodesic(meters=rng.uniform(0, 400)).destination(site, rng.uniform(0, 360))
        fixes.append((point.latitude, point.longitude))
    return fixes


def measure_run(path: Path, sites: list[tuple[float, float]], queries: int, run: int) -> dict:
    store = LocalStore(path)
    timings_ms = []
    found = []
    for latitude, longitude in fixes_near(sites, queries, run):
        started = time.perf_counter()
        nearby = nearby_customers(store, latitude, longitude, RADIUS_M, NEARBY_LIMIT)
        timings_ms.append((time.perf_counter() - started) * 1000)
        found.append(len(nearby))
    store.close()
    return {
        "run": run,
        "queries": queries,
        "mean_found": sum(found) / len(found),
        "first_query_ms": timings_ms[0],
        "median_ms": measure.median(timings_ms),
        "p95_ms": measure.percentile(timings_ms, 0.95),
        "max_ms": max(timings_ms),
    }


def candidates_per_query(store: LocalStore, sites: list[tuple[float, float]]) -> float:
    """Mean rows the bounding box selects, to show what the exact distance step costs."""
    reach = RADIUS_M + 2000.0
    total = 0
    fixes = fixes_near(sites, 100, 0)
    for latitude, longitude in fixes:
        dlat = reach / 111_320.0
        dlon = reach / (111_320.0 * math.cos(math.radians(latitude)))
        total += store.query(
            "SELECT COUNT(*) AS n FROM customers WHERE latitude BETWEEN ? AND ? AND longitude BETWEEN ? AND ?",
            (latitude - dlat, latitude + dlat, longitude - dlon, longitude + dlon),
        )[0]["n"]
    return total / len(fixes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs (default 5)")
    parser.add_argument("--customers", type=int, default=5000, help="customers on the device (default 5000)")
    parser.add_argument("--queries", type=int, default=500, help="queries per run (default 500)")
    parser.add_argument("--output", default="geofence_nearby", help="result file name in bench/results/ (default geofence_nearby)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-nearby-") as directory:
        path = Path(directory) / "local.sqlite3"
        store, sites = fill_store(path, args.customers)
        candidates = candidates_per_query(store, sites)
        query_plan = [row[3] for row in store.query(
            "EXPLAIN QUERY PLAN SELECT id FROM customers WHERE latitude BETWEEN 1 AND 2 AND longitude BETWEEN 1 AND 2"
        )]
        store.close()
        runs = [measure_run(path, sites, args.queries, run) for run in range(1, args.runs + 1)]

    median_ms = measure.median([run["median_ms"] for run in runs])
    machine = measure.machine_info()
    results = {
        "benchmark": "geofence_nearby",
        "command": " ".join([".venv/bin/python bench/geofence_nearby.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "customers": args.customers,
        "radius_m": RADIUS_M,
        "limit": NEARBY_LIMIT,
        "mean_bounding_box_candidates": candidates,
        "query_plan": query_plan,
        "target_median_ms": TARGET_MEDIAN_MS,
        "runs": runs,
        "median_ms": median_ms,
        "median_p95_ms": measure.median([run["p95_ms"] for run in runs]),
        "median_first_query_ms": measure.median([run["first_query_ms"] for run in runs]),
        "meets_target": median_ms <= TARGET_MEDIAN_MS,
    }
    path = measure.write_results(args.output, results)

    print(f"machine: {measure.describe_machine(machine)}; load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{args.customers} customers; bounding box selects {candidates:.1f} candidates on average; plan: {'; '.join(query_plan)}")
    print("| run | queries | mean found | first ms | median ms | p95 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['run']} | {run['queries']} | {run['mean_found']:.2f} | {run['first_query_ms']:.2f} | {run['median_ms']:.3f} "
            f"| {run['p95_ms']:.3f} | {run['max_ms']:.2f} |"
        )
    print(f"median {median_ms:.3f} ms (target <= {TARGET_MEDIAN_MS:.0f} ms): {'met' if results['meets_target'] else 'NOT met'}")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
