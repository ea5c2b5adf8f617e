"""Run the PouchDB peer benchmark from its directory and compare it with the product's first download.

    .venv/bin/python bench/pouchdb_peer.py PEER_DIR [--runs 3] [--work-dir DIR]

The peer's scripts are kept outside this repository. PEER_DIR is the directory with its
run_all.sh. That script copies the scripts to the work directory, installs pouchdb-node and
pouchdb-server there from the npm registry, and starts pouchdb-server on a free 127.0.0.1
port. It loads the same 105,000 rows (same seed and text), times full pulls into a new
LevelDB client database (default options, and batch_size 1000) and an incremental pull
after 10 server edits, and stops its server. It needs node and npm.

This script reads the peer's per-run results, writes their medians to
bench/results/pouchdb_peer.json, and, if bench/results/sync_first_download.json exists,
the ratios of the product's medians to the peer's.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import measure


def summarise_peer(results_dir: Path) -> dict:
    """Return the medians of the peer's full, incremental and no-op pulls, by option set."""
    runs = [json.loads(path.read_text()) for path in sorted(results_dir.glob("*.json")) if path.name.startswith(("full_", "incr_"))]
    if not runs:
        raise RuntimeError(f"no full_*.json or incr_*.json results in {results_dir}; the peer run failed")
    summary = {}
    for option in ("default", "tuned"):
        full = [run for run in runs if run["mode"] == "full" and run["opt"] == option]
        incremental = [run for run in runs if run["mode"] == "incr" and run["opt"] == option]
        summary[option] = {
            "options": full[0]["opts"] if full else None,
            "full_runs": [run["full"]["seconds"] for run in full],
            "median_full_seconds": measure.median([run["full"]["seconds"] for run in full]),
            "median_docs_per_s": measure.median([run["full"]["docs_per_s"] for run in full]),
            "median_client_peak_rss_mb": measure.median([run["client_peak_rss_kb"] / 1024 for run in full]),
            "median_client_cpu_s": measure.median([run["client_cpu_s"] for run in full]),
            "median_server_cpu_s": measure.median([run["server_cpu_s"] for run in full]),
            "incremental_runs": [run["incr"]["seconds"] for run in incremental],
            "median_incremental_seconds": measure.median([run["incr"]["seconds"] for run in incremental]),
            "median_nothing_new_seconds": measure.median([run["noop"]["seconds"] for run in incremental]),
            "all_docs_arrived": all(run["local_doc_count"] == 105000 and run["full"]["errors"] == 0 for run in full + incremental),
        }
    summary["versions"] = {"pouchdb": runs[0].get("pouchdb"), "node": runs[0].get("node")}
    return summary


def compare(peer: dict, ours_path: Path) -> list[dict]:
    """Return the ratios of the product's first-download and incremental medians to the peer's."""
    ours = json.loads(ours_path.read_text())
    rows = []
    for row in ours["summary"]:
        for option in ("default", "tuned"):
            rows.append({
                "measure": "first download",
                "product_page_size": row["page_size"],
                "peer_options": option,
                "product_seconds": row["median_seconds"],
                "peer_seconds": peer[option]["median_full_seconds"],
                "ratio_product_to_peer": row["median_seconds"] / peer[option]["median_full_seconds"],
            })
    incremental = ours.get("incremental")
    if incremental:
        for option in ("default", "tuned"):
            for name, peer_key, ours_key in (
                ("incremental pull of 10 changes", "median_incremental_seconds", "median_incremental_seconds"),
                ("sync with nothing new", "median_nothing_new_seconds", "median_nothing_new_seconds"),
            ):
                rows.append({
                    "measure": name,
                    "peer_options": option,
                    "product_seconds": incremental[ours_key],
                    "peer_seconds": peer[option][peer_key],
                    "ratio_product_to_peer": incremental[ours_key] / peer[option][peer_key],
                })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("peer_dir", type=Path, help="directory of the PouchDB peer's scripts (the one with run_all.sh)")
    parser.add_argument("--runs", type=int, default=3, help="runs per measurement, passed to the peer as RUNS (default 3)")
    parser.add_argument(
        "--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "pouch_bench",
        help="where the peer copies itself, installs its npm packages and keeps results (default $TMPDIR/pouch_bench)",
    )
    parser.add_argument("--skip-run", action="store_true", help="only summarise the results already in the work directory")
    args = parser.parse_args(argv)

    run_all = args.peer_dir / "run_all.sh"
    if not args.skip_run:
        if not run_all.is_file():
            print(f"error: {run_all} not found; pass the directory that contains the peer's run_all.sh", file=sys.stderr)
            return 2
        env = {**os.environ, "RUNS": str(args.runs), "POUCH_BENCH_DIR": str(args.work_dir)}
        completed = subprocess.run(["bash", str(run_all)], env=env, timeout=1800)
        if completed.returncode != 0:
            # The peer's stop script stops only the server whose process id the peer recorded.
            subprocess.run(["bash", str(args.work_dir / "stop_server.sh")], env=env, check=False)
            print(f"error: the peer's run_all.sh exited with {completed.returncode}", file=sys.stderr)
            return 1

    peer = summarise_peer(args.work_dir / "results")
    ours_path = measure.RESULTS_DIR / "sync_first_download.json"
    ratios = compare(peer, ours_path) if ours_path.exists() else []
    machine = measure.machine_info()
    results = {
        "benchmark": "pouchdb_peer",
        "command": f"RUNS={args.runs} {run_all}  (via .venv/bin/python bench/pouchdb_peer.py)",
        "machine": machine,
        "peer": peer,
        "ratios": ratios,
    }
    path = measure.write_results("pouchdb_peer", results)

    print(f"\nmachine: {measure.describe_machine(machine)}; PouchDB {peer['versions']['pouchdb']}, Node {peer['versions']['node']}")
    print("| peer options | full pull median s | docs/s | client peak RSS MB | incremental (10 changes) ms | nothing new ms |")
    print("|---|---|---|---|---|---|")
    for option in ("default", "tuned"):
        row = peer[option]
        print(
            f"| {option} {json.dumps(row['options'])} | {row['median_full_seconds']:.2f} | {row['median_docs_per_s']:,.0f} "
            f"| {row['median_client_peak_rss_mb']:.0f} | {row['median_incremental_seconds'] * 1000:.0f} | {row['median_nothing_new_seconds'] * 1000:.0f} |"
        )
    if ratios:
        print("\n| measure | product | peer options | product s | peer s | product / peer |")
        print("|---|---|---|---|---|---|")
        for row in ratios:
            product = f"page size {row['product_page_size']}" if "product_page_size" in row else "sync_once"
            print(f"| {row['measure']} | {product} | {row['peer_options']} | {row['product_seconds']:.3f} | {row['peer_seconds']:.3f} | {row['ratio_product_to_peer']:.2f} |")
    else:
        print(f"\n{ours_path} not found: run bench/sync_first_download.py in the same session to get the ratios")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
