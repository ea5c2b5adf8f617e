"""Measurement helpers with no imports beyond the standard library: machine facts, statistics, memory, CPU time.

Client processes import only this module, so their peak memory is not inflated by server code.
Importing it puts the repository root on sys.path.
"""

import json
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

# Directory of the result files. BENCH_RESULTS_DIR overrides it, for example when measuring an exported copy.
RESULTS_DIR = Path(os.environ.get("BENCH_RESULTS_DIR", REPO_ROOT / "bench" / "results"))


def machine_info() -> dict:
    """Return the CPU count, CPU model, RAM and software versions of this machine."""
    cpu_model = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    ram_mb = None
    with open("/proc/meminfo", encoding="utf-8") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                ram_mb = int(line.split()[1]) // 1024
                break
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu_model,
        "ram_mb": ram_mb,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "kernel": platform.release(),
        "source_revision": source_revision(),
    }


def source_revision() -> str:
    """Return the commit the measured code comes from, with "-dirty" if the work tree has uncommitted changes.

    A copy exported with `git archive` has no .git, so it names its commit in BENCH_SOURCE_REVISION.
    """
    if "BENCH_SOURCE_REVISION" in os.environ:
        return os.environ["BENCH_SOURCE_REVISION"]
    try:
        described = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--exclude", "*"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"unknown ({error})"
    return described.stdout.strip() if described.returncode == 0 else "unknown (not a git work tree)"


def describe_machine(info: dict) -> str:
    return f"{info['nproc']} CPUs ({info['cpu_model']}), {info['ram_mb']} MB RAM, Python {info['python']}, SQLite {info['sqlite']}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def percentile(values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile, for example fraction=0.95 for p95."""
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered) - 1e-9))
    return ordered[rank - 1]


def peak_rss_mb() -> float:
    """Return this process's peak resident set size in MB, from VmHWM in /proc/self/status.

    getrusage's ru_maxrss is not used: after fork and exec, Linux carries the parent's
    peak into the child's ru_maxrss, so a child started by a large parent reports the
    parent's size.
    """
    with open("/proc/self/status", encoding="utf-8") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("VmHWM not found in /proc/self/status; peak RSS needs Linux")


def process_cpu_seconds(pid: int) -> float:
    """Return the user plus system CPU time of process `pid` and its reaped children, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the command name, fields 12-15 (0-based 11-14) are utime, stime, cutime, cstime in clock ticks.
    ticks = sum(int(value) for value in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree_cpu_seconds(pid: int) -> float:
    """Return the CPU time of process `pid` and all its living descendants (such as uvicorn's workers)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent and child not in tree]
        tree.update(children)
        frontier += children
    total = 0.0
    for member in tree:
        try:
            total += process_cpu_seconds(member)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def write_results(name: str, results: dict) -> Path:
    """Write one benchmark's results as JSON to bench/results/NAME.json and return the path."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path
