"""Run the sync benchmarks one after another and print where their results are.

    .venv/bin/python bench/run_all.py [--pouchdb PEER_DIR] [--quick]

Runs, in order: the PouchDB peer (only with --pouchdb, about 6 minutes), the first download,
the pull scaling, the push round trips, 200 devices at once on PostgreSQL, and the two
check-in benchmarks (one geofence decision; nearby customers on the device). The set
takes about 9 minutes on a 2-core machine without the peer. Each benchmark writes
bench/results/NAME.json; the peer comparison is computed after the first download, so both
come from the same session. --quick runs smaller versions for a smoke test, writing
quick_*.json instead.
"""

import argparse
import subprocess
import sys
import time

import measure

FULL = [
    ["sync_first_download.py"],
    ["sync_pull_scaling.py"],
    ["sync_push_roundtrips.py"],
    ["sync_many_devices.py"],
    ["geofence_decision.py"],
    ["geofence_nearby.py"],
]
QUICK = [
    ["sync_first_download.py", "--runs", "1", "--page-sizes", "2000", "--output", "quick_sync_first_download"],
    ["sync_pull_scaling.py", "--sizes", "1000,20000", "--output", "quick_sync_pull_scaling"],
    ["sync_push_roundtrips.py", "--runs", "1", "--output", "quick_sync_push_roundtrips"],
    ["sync_many_devices.py", "--devices", "20", "--rounds", "1", "--output", "quick_sync_many_devices"],
    ["geofence_decision.py", "--runs", "1", "--decisions", "2000", "--output", "quick_geofence_decision"],
    ["geofence_nearby.py", "--runs", "1", "--queries", "100", "--output", "quick_geofence_nearby"],
]


def run(script_and_arguments: list[str]) -> tuple[int, float]:
    command = [sys.executable, str(measure.REPO_ROOT / "bench" / script_and_arguments[0]), *script_and_arguments[1:]]
    print(f"\n==== {' '.join(script_and_arguments)}", flush=True)
    started = time.monotonic()
    completed = subprocess.run(command, cwd=measure.REPO_ROOT, timeout=1800)
    return completed.returncode, time.monotonic() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pouchdb", metavar="PEER_DIR", help="also run the PouchDB peer from this directory (the one with run_all.sh)")
    parser.add_argument("--quick", action="store_true", help="smaller runs for a smoke test (results go to quick_*.json)")
    args = parser.parse_args(argv)

    print(f"machine: {measure.describe_machine(measure.machine_info())}", flush=True)
    benchmarks = QUICK if args.quick else FULL
    failures = []
    timings = []
    if args.pouchdb:
        # The peer runs first and alone, so the two systems never share the CPUs.
        code, seconds = run(["pouchdb_peer.py", args.pouchdb, "--runs", "1" if args.quick else "3"])
        timings.append(("pouchdb_peer.py", seconds))
        if code:
            failures.append("pouchdb_peer.py")
    for benchmark in benchmarks:
        code, seconds = run(benchmark)
        timings.append((benchmark[0], seconds))
        if code:
            failures.append(benchmark[0])
    if args.pouchdb and not args.quick and "pouchdb_peer.py" not in failures:
        # Recompute the ratios now that this session's first-download results exist.
        code, seconds = run(["pouchdb_peer.py", args.pouchdb, "--skip-run"])
        if code:
            failures.append("pouchdb_peer.py --skip-run")

    print("\n==== done")
    for name, seconds in timings:
        print(f"{name}: {seconds:.0f} s")
    print(f"results in {measure.RESULTS_DIR}")
    if failures:
        print(f"failed: {', '.join(failures)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
