"""Benchmark the store tablet's member lookup: scanned code to profile data, on a 100,000-member cache.

    .venv/bin/python bench/member_lookup.py [--source local_store] [--runs 3] [--members 100000] [--lookups 2000]

Builds a temporary device database with 100,000 members, five purchases and two follow-ups
each (500,000 and 200,000 rows). --source local_store (the default, the app's path) fills
the synced tables of a LocalStore the way a pull does and looks members up with
mobile.offline.store_members.StoreMembers; --source member_cache uses the standalone
MemberCache tables instead. Each run opens the database anew and looks up random member
codes: one in ten as a QR payload ("FSM:<code>") and one in twenty a code that is not
cached. A lookup is timed from the code string to the finished MemberProfile (validation,
three queries, profile building). The first lookup of each run, with a cold connection, is
reported apart. The target is p95 at most 20 ms.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import measure  # imported first: it puts the repository root on sys.path

from mobile.offline.members import MemberCache, ean13_check_digit
from mobile.offline.store import LocalStore
from mobile.offline.store_members import StoreMembers

TARGET_P95_MS = 20.0
PURCHASES_PER_MEMBER = 5
FOLLOWUPS_PER_MEMBER = 2
SEED = 20261202
TODAY = date(2026, 12, 2)
PRODUCTS = ("婴儿配方奶粉二段 800g", "藻油DHA滴剂", "益生菌粉 30袋", "纸尿裤L码 52片", "高铁米粉", "乳铁蛋白粉", "手口湿巾 80抽")
ALLERGEN_NOTES = ("", "", "", "", "", "", "牛奶蛋白过敏", "鸡蛋过敏", "乳糖不耐受、海鲜过敏")
INSERT_CHUNK = 10000


def member_code(number: int) -> str:
    first_twelve = f"2901{number:08d}"
    return first_twelve + ean13_check_digit(first_twelve)


def build_cache(path: Path, member_count: int) -> float:
    """Fill the cache at `path`; return the seconds it took."""
    rng = random.Random(SEED)
    started = time.perf_counter()
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    with MemberCache(path) as cache:
        for chunk_start in range(0, member_count, INSERT_CHUNK):
            numbers = range(chunk_start, min(chunk_start + INSERT_CHUNK, member_count))
            cache.upsert_members(
                {
                    "id": f"m{number}", "store_id": "s1", "member_code": member_code(number), "name": f"会员{number}",
                    "phone": f"138{number:08d}", "baby_birth_date": TODAY - timedelta(days=rng.randint(-200, 1100)),
                    "allergens": rng.choice(ALLERGEN_NOTES),
                }
                for number in numbers
            )
            cache.add_purchases(
                {
                    "id": f"p{number}-{index}", "member_id": f"m{number}",
                    "purchased_at": moment - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 600)),
                    "product_name": rng.choice(PRODUCTS), "quantity": rng.randint(1, 4), "amount_fen": rng.randint(2000, 80000),
                }
                for number in numbers for index in range(PURCHASES_PER_MEMBER)
            )
            cache.add_followups(
                {
                    "id": f"f{number}-{index}", "member_id": f"m{number}",
                    "captured_at": moment - timedelta(days=rng.randint(0, 300)),
                    "text": "宝宝6个月，想了解DHA补充剂", "author_name": "店员小张",
                }
                for number in numbers for index in range(FOLLOWUPS_PER_MEMBER)
            )
    return time.perf_counter() - started


def build_local_store(path: Path, member_count: int) -> float:
    """Fill a LocalStore at `path` with pulled member rows; return the seconds it took."""
    rng = random.Random(SEED)
    started = time.perf_counter()
    moment = datetime(2026, 12, 1, 10, 0, tzinfo=timezone.utc)
    store = LocalStore(path)
    StoreMembers(store)
    for chunk_start in range(0, member_count, INSERT_CHUNK):
        numbers = range(chunk_start, min(chunk_start + INSERT_CHUNK, member_count))
        changes = [
            _put("members", f"m{number}", {
                "store_id": "s1", "member_code": member_code(number), "name": f"会员{number}",
                "phone": f"138****{number % 10000:04d}",
                "baby_birth_date": (TODAY - timedelta(days=rng.randint(-200, 1100))).isoformat(),
                "allergens": rng.choice(ALLERGEN_NOTES), "created_at": moment.isoformat(),
            })
            for number in numbers
        ]
        changes += [
            _put("member_purchases", f"p{number}-{index}", {
                "member_id": f"m{number}", "store_id": "s1",
                "purchased_at": (moment - timedelta(days=rng.randint(0, 700), minutes=rng.randint(0, 600))).isoformat(),
                "product_name": rng.choice(PRODUCTS), "quantity": rng.randint(1, 4), "amount_fen": rng.randint(2000, 80000),
            })
            for number in numbers for index in range(PURCHASES_PER_MEMBER)
        ]
        changes += [
            _put("member_followups", f"f{number}-{index}", {
                "member_id": f"m{number}", "store_id": "s1", "author_name": "店员小张",
                "captured_at": (moment - timedelta(days=rng.randint(0, 300))).isoformat(), "text": "宝宝6个月，想了解DHA补充剂",
            })
            for number in numbers for index in range(FOLLOWUPS_PER_MEMBER)
        ]
        store.apply_pull_page(changes, cursor=chunk_start + 1, last_mutation_id=None)
    store.close()
    return time.perf_counter() - started


def _put(entity: str, row_id: str, row: dict) -> dict:
    return {"entity": entity, "id": row_id, "op": "put", "row": {"id": row_id, "version": 1, **row}}


def lookup_codes(member_count: int, lookups: int, run: int) -> list[str]:
    rng = random.Random(SEED + run)
    codes = []
    for _ in range(lookups):
        draw = rng.random()
        if draw < 0.05:
            codes.append(member_code(member_count + rng.randint(0, 10**6)))
        elif draw < 0.15:
            codes.append(f"FSM:{member_code(rng.randrange(member_count))}")
        else:
            codes.append(member_code(rng.randrange(member_count)))
    return codes


def measure_run(path: Path, member_count: int, lookups: int, run: int, source: str) -> dict:
    codes = lookup_codes(member_count, lookups, run)
    timings_ms = []
    found = 0
    if source == "local_store":
        store = LocalStore(path)
        lookup, close = StoreMembers(store).lookup, store.close
    else:
        cache = MemberCache(path)
        lookup, close = cache.lookup, cache.close
    try:
        for code in codes:
            started = time.perf_counter()
            profile = lookup(code, today=TODAY)
            timings_ms.append((time.perf_counter() - started) * 1000)
            found += profile is not None
    finally:
        close()
    return {
        "run": run,
        "lookups": lookups,
        "found": found,
        "first_lookup_ms": timings_ms[0],
        "p50_ms": measure.percentile(timings_ms, 0.50),
        "p95_ms": measure.percentile(timings_ms, 0.95),
        "p99_ms": measure.percentile(timings_ms, 0.99),
        "max_ms": max(timings_ms),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", choices=("local_store", "member_cache"), default="local_store",
                        help="local_store: the synced tables the app reads (default); member_cache: the MemberCache tables")
    parser.add_argument("--runs", type=int, default=3, help="measured runs (default 3)")
    parser.add_argument("--members", type=int, default=100_000, help="members in the cache (default 100000)")
    parser.add_argument("--lookups", type=int, default=2000, help="lookups per run (default 2000)")
    parser.add_argument("--output", default="member_lookup", help="result file name in bench/results/ (default member_lookup)")
    args = parser.parse_args(argv)

    # The machine may be shared; a high load average makes the timings pessimistic.
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-members-") as directory:
        path = Path(directory) / "device.sqlite3"
        print(f"building a cache of {args.members:,} members ...", flush=True)
        build = build_local_store if args.source == "local_store" else build_cache
        build_seconds = build(path, args.members)
        database_mb = sum(file.stat().st_size for file in Path(directory).iterdir()) / 1e6
        runs = [measure_run(path, args.members, args.lookups, run, args.source) for run in range(1, args.runs + 1)]

    median_p95 = measure.median([run["p95_ms"] for run in runs])
    machine = measure.machine_info()
    results = {
        "benchmark": "member_lookup",
        "command": " ".join([".venv/bin/python bench/member_lookup.py", *(argv if argv is not None else sys.argv[1:])]),
        "machine": machine,
        "load_average_1_5_15_min": {"before": load_before, "after": os.getloadavg()},
        "source": args.source,
        "members": args.members,
        "purchases": args.members * PURCHASES_PER_MEMBER,
        "followups": args.members * FOLLOWUPS_PER_MEMBER,
        "build_seconds": build_seconds,
        "database_mb": database_mb,
        "target_p95_ms": TARGET_P95_MS,
        "runs": runs,
        "median_p50_ms": measure.median([run["p50_ms"] for run in runs]),
        "median_p95_ms": median_p95,
        "median_p99_ms": measure.median([run["p99_ms"] for run in runs]),
        "median_first_lookup_ms": measure.median([run["first_lookup_ms"] for run in runs]),
        "meets_target": median_p95 <= TARGET_P95_MS,
    }
    path = measure.write_results(args.output, results)

    print(f"\nmachine: {measure.describe_machine(machine)}; load average {load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"cache: {args.members:,} members, built in {build_seconds:.1f} s, database {database_mb:.0f} MB")
    print("| run | lookups | found | first ms | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---|---|---|---|---|---|---|")
    for run in runs:
        print(
            f"| {run['run']} | {run['lookups']} | {run['found']} | {run['first_lookup_ms']:.2f} | {run['p50_ms']:.3f} "
            f"| {run['p95_ms']:.3f} | {run['p99_ms']:.3f} | {run['max_ms']:.2f} |"
        )
    print(f"median p95 {median_p95:.3f} ms (target <= {TARGET_P95_MS:.0f} ms): {'met' if results['meets_target'] else 'NOT met'}")
    print(f"results written to {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
