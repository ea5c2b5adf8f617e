"""Benchmark one geofence decision: a GCJ-02 customer location converted to WGS-84 and judged against a phone fix.

    .venv/bin/python bench/geofence_decision.py [--runs 5] [--decisions 20000]

Each decision calls core.geofence.decide exactly as the check-in screen and the server do.
The customer's stored GCJ-02 point is converted to WGS-84 (prcoords). The geodesic distance
to the fix is computed on the WGS-84 ellipsoid (geopy). Fix age, accuracy and the mocked
flag are checked. Fixes are drawn around Shenzhen customers at 0 to 900 m, so
about half pass. A run times every decision separately; the median of the runs' medians
is the result. The target is a median of 1 ms or less.
"""

import argparse
import os
import random
import sys
import time
from datetime import datetime, timedelta, timezone

import measure  # imported first: it puts the repository root on sys.path

import prcoords  # noqa: E402
from geopy.distance import geodesic  # noqa: E402

from core.geofence import Fix, GeofencePolicy, Place, decide  # noqa: E402

TARGET_MEDIAN_MS = 1.0
SEED = 20261204
# Customer sites around Shenzhen (WGS-84), stored as AMap gives them: GCJ-02.
CENTRE = (22.543096, 114.057865)


def decision_inputs(count: int, seed: int) -> list[tuple[Place, Fix, datetime]]:
    rng = random.Random(seed)
    now = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)
    inputs = []
    for _ in range(count):
        site = geodesic(meters=rng.uniform(0, 20_000)).destination(CENTRE, rng.uniform(0, 360))
        gcj = prcoords.wgs_gcj(prcoords.Coords(site.latitude, site.longitude))
        fix_point = geodesic(meters=rng.uniform(0, 900)).destination((site.latitude, site.longitude), rng.uniform(0, 360))
        fix = Fix(fix_point.latitude, fix_point.longitude, rng.uniform(5, 60), now - timedelta(seconds=rng.uniform(0, 30)))
        inputs.append((Place(gcj.lat, gcj.lon, "gcj02"), fix, now))
    return inputs


def measure_run(inputs: list[tuple[Place, Fix, datetime]], run: int) -> dict:
    policy = GeofencePolicy()
    timings_ms = []
    allowed = 0
    for place, fix, now in inputs:
        started = time.perf_counter()
        decision = decide(place, fix, now, policy)
        timings_ms.append((time.perf_counter() - started) * 1000)
        allowed += decision.allowed
    return {
        "run": run,
        "decisions": len(inputs),
        "allowed": allowed,
        "median_ms": measure.median(timings_ms),
        "p95_ms": measure.percentile(timings_ms, 0.95),
        "p99_ms": measure.percentile(timings_ms, 0.99),
        "max_ms": max(timings_ms),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="measured runs (default 5)")
    parser.add_argument("--decisions", type=int, default=20_000, help="decisions per run (default 20000)")
    parser.add_argument("--output", default="geofence_decision", help="result file name in bench/results/ (default geofence_decision)")
    args = parser.parse_args(argv)

    load_before = os.getloadavg()
    inputs = decision_inputs(args.decisions, SEED)
    # One warm-up pass, so imports and first-call caches are not measured.
    measure_run(inputs[:1000], 0)
    runs = [measure_run(inputs, run) for run in range(1, args.runs + 1)]

    median_ms = measure.median([run["median_ms"] for run in runs])
    machine = measure.machine_info()
    results = {
        "benchmark": "geofence_decision",
        "command": " ".join([".venv/bin/python bench/geofence_decision.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "coord_system": "gcj02",
        "target_median_ms": TARGET_MEDIAN_MS,
        "runs": runs,
        "median_ms": median_ms,
        "median_p95_ms": measure.median([run["p95_ms"] for run in runs]),
        "meets_target": median_ms <= TARGET_MEDIAN_MS,
    }
    path = measure.write_results(args.output, results)

    print(f"machine: {measure.describe_machine(machine)}; load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print("| run | decisions | allowed | median ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['run']} | {run['decisions']} | {run['allowed']} | {run['median_ms']:.4f} | {run['p95_ms']:.4f} "
            f"| {run['p99_ms']:.4f} | {run['max_ms']:.3f} |"
        )
    print(f"median {median_ms:.4f} ms (target <= {TARGET_MEDIAN_MS:.0f} ms): {'met' if results['meets_target'] else 'NOT met'}")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
