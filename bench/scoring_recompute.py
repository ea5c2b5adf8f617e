"""Benchmark the health-score recompute on SQLite: full, one customer at a time through the ORM, and incremental.

    .venv/bin/python bench/scoring_recompute.py [--customers 100000] [--runs 3] [--orm-sample 2000]

Builds a database of N customers (with contacts, visits, follow-ups and about 8 customer
events each) in a temporary directory, then measures:
- full recompute (server.scoring.engine.recompute_all) when every latest score changes
  (snapshots and latest scores emptied before each run), and when none changes;
- the ORM baseline (server.scoring.reference.recompute_one_at_a_time) on a random sample,
  extrapolated linearly to N customers;
- incremental recompute of the one customer a pushed contact touched
  (server.scoring.engine.recompute_customers, as the sync push calls it).
Prints the medians and writes them with the machine description to
bench/results/scoring_recompute.json. Targets: full <= 5 s for 100,000 customers,
at least 10x faster than the ORM baseline, incremental <= 50 ms.
"""

import argparse
import json
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from server.cli import migrate  # noqa: E402
from server.db import build_engine, writing_session  # noqa: E402
from server.models import Contact  # noqa: E402
from server.scoring.engine import recompute_all, recompute_customers  # noqa: E402
from server.scoring.health_models import ensure_active_model  # noqa: E402
from server.scoring.reference import recompute_one_at_a_time  # noqa: E402
from server.sync.changes import ChangeRecorder  # noqa: E402

RESULTS_PATH = REPO_ROOT / "bench" / "results" / "scoring_recompute.json"
SEED = 20261204
REPS = 200
INDUSTRIES = ("automotive_parts", "electronics", "packaging", "solar", "batteries", "pharma", "textiles", "appliances")
BANDS = ("under_500k", "500k_2m", "2m_10m", "over_10m", None)
ROLES = ("technical", "purchasing", "finance", "other")
EVENT_KINDS = (
    ("document_download", 3), ("proposal_sent", 1), ("proposal_open", 1), ("meeting_invited", 1), ("meeting_attended", 1),
    ("requirement_confirmed", 0.3), ("competitor_sheet_submitted", 0.3), ("objection_raised", 0.3), ("objection_resolved", 0.2),
)


def machine() -> dict:
    cpu = "unknown"
    with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "cpu_model": cpu, "python": platform.python_version(), "sqlite": sqlite3.sqlite_version}


def stamp(moment: datetime) -> str:
    """Format a UTC timestamp as SQLAlchemy stores it on SQLite."""
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def build_dataset(path: Path, customers: int, now: datetime) -> None:
    """Migrate an empty SQLite database at `path` and fill it with a synthetic sales organisation."""
    engine = build_engine(f"sqlite:///{path}")
    migrate(engine)
    engine.dispose()

    rng = random.Random(SEED)
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA journal_mode=WAL")
    region = uuid.uuid4().hex
    connection.execute("INSERT INTO regions (id, code, name) VALUES (?, 'bench', 'bench')", (region,))
    reps = [uuid.uuid4().hex for _ in range(REPS)]
    connection.executemany(
        "INSERT INTO users (id, username, display_name, role, region_id, password_hash, is_active, created_at) VALUES (?, ?, ?, 'rep', ?, '', 1, ?)",
        [(rep, f"bench_rep{i:03d}", f"rep {i}", region, stamp(now)) for i, rep in enumerate(reps)],
    )

    customer_rows, contact_rows, visit_rows, followup_rows, event_rows = [], [], [], [], []
    for number in range(customers):
        customer = uuid.uuid4().hex
        owner = reps[number % REPS]
        customer_rows.append((customer, f"customer {number}", rng.choice(INDUSTRIES), owner, region, rng.choice(BANDS), stamp(now), stamp(now)))
        for role in rng.sample(ROLES, rng.randint(1, 4)):
            contact_rows.append((uuid.uuid4().hex, customer, f"contact {number}", role))
        checked_in = now - timedelta(days=rng.randint(1, 200))
        visit_rows.append((uuid.uuid4().hex, customer, owner, rng.choice(("routine", "demo", "requirement_confirmation")), stamp(checked_in)))
        followup_rows.append((uuid.uuid4().hex, customer, owner, "call", stamp(now - timedelta(days=rng.randint(0, 60)))))
        for kind, mean_count in EVENT_KINDS:
            count = int(mean_count) + (1 if rng.random() < mean_count % 1 else 0)
            for index in range(count):
                occurred = now - timedelta(days=rng.uniform(0, 170))
                due = stamp(occurred + timedelta(days=rng.uniform(-3, 3))) if kind == "competitor_sheet_submitted" else None
                ref = f"{kind.split('_')[0]}-{index}"
                value = round(rng.uniform(0.5, 1.0), 2) if kind == "requirement_confirmed" else None
                event_rows.append((uuid.uuid4().hex, customer, kind, stamp(occurred), ref, due, value, stamp(now)))

    connection.executemany(
        "INSERT INTO customers (id, name, industry, owner_id, region_id, purchase_band, created_at, updated_at, address, province, city, "
        "district, coord_system, version, deleted, field_versions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, '', '', '', '', 'wgs84', 1, 0, '{}')",
        customer_rows,
    )
    connection.executemany(
        "INSERT INTO contacts (id, customer_id, name, title, decision_role, phone, version, deleted, field_versions) "
        "VALUES (?, ?, ?, '', ?, '', 1, 0, '{}')",
        contact_rows,
    )
    visit_columns = {row[1] for row in connection.execute("PRAGMA table_info(visits)")}
    extra = ", checkin_coord_system, checkin_mocked, status" if "status" in visit_columns else ""
    extra_values = ", 'wgs84', 0, 'completed'" if extra else ""
    connection.executemany(
        f"INSERT INTO visits (id, customer_id, rep_id, visit_type, checked_in_at, summary, version, deleted, field_versions{extra}) "
        f"VALUES (?, ?, ?, ?, ?, '', 1, 0, '{{}}'{extra_values})",
        visit_rows,
    )
    connection.executemany(
        "INSERT INTO followups (id, customer_id, author_id, text, captured_at, version, deleted, field_versions) VALUES (?, ?, ?, ?, ?, 1, 0, '{}')",
        followup_rows,
    )
    connection.executemany(
        "INSERT INTO customer_events (id, customer_id, kind, occurred_at, ref, due_at, value, payload, source, recorded_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, '{}', 'bench', ?)",
        event_rows,
    )
    connection.commit()
    connection.close()
    print(f"dataset: {customers} customers, {len(contact_rows)} contacts, {len(visit_rows)} visits, "
          f"{len(followup_rows)} follow-ups, {len(event_rows)} events", flush=True)


def reset_scores(engine) -> None:
    with writing_session(engine) as session:
        session.execute(text("DELETE FROM sync_changes WHERE entity = 'score_snapshots'"))
        session.execute(text("DELETE FROM latest_scores"))
        session.execute(text("DELETE FROM score_snapshots"))
        session.commit()


def time_full(engine, runs: int, now: datetime) -> tuple[list[float], list[float], list[float], int]:
    """Wall seconds of full recomputes when every score changes and when none does, and CPU seconds of the former."""
    cold, cold_cpu, warm = [], [], []
    customers = 0
    for run in range(runs):
        reset_scores(engine)
        moment = now + timedelta(seconds=run)
        cpu_started = time.process_time()
        report = recompute_all(engine, now=moment)
        cold_cpu.append(time.process_time() - cpu_started)
        cold.append(report.seconds)
        customers = report.customers
        report = recompute_all(engine, now=moment + timedelta(milliseconds=500))
        warm.append(report.seconds)
        print(
            f"full run {run + 1}: every score changed {cold[-1]:.2f} s ({cold_cpu[-1]:.2f} s CPU); "
            f"nothing changed {warm[-1]:.2f} s ({report.changed} changed)",
            flush=True,
        )
    return cold, cold_cpu, warm, customers


def time_orm(engine, sample_size: int, runs: int, now: datetime) -> list[float]:
    """Seconds per customer of the one-at-a-time ORM path, one figure per run."""
    with Session(engine) as session:
        ids = [uuid.UUID(row[0]) for row in session.execute(text("SELECT id FROM customers ORDER BY id")).all()]
        model = ensure_active_model(session)
    per_customer = []
    rng = random.Random(SEED)
    for run in range(runs):
        reset_scores(engine)
        sample = rng.sample(ids, sample_size)
        with writing_session(engine) as session:
            started = time.perf_counter()
            recompute_one_at_a_time(session, sample, model, now + timedelta(seconds=run))
            elapsed = time.perf_counter() - started
        per_customer.append(elapsed / sample_size)
        print(f"ORM run {run + 1}: {sample_size} customers in {elapsed:.2f} s", flush=True)
    return per_customer


def time_incremental(engine, runs: int) -> list[float]:
    """Milliseconds to rescore the customer of one pushed contact, as the sync push does after commit."""
    with Session(engine) as session:
        rows = session.execute(text("SELECT id FROM customers ORDER BY id LIMIT :n"), {"n": runs}).all()
    timings = []
    for (customer_hex,) in rows:
        customer_id = uuid.UUID(customer_hex)
        with writing_session(engine) as session:
            contact = Contact(customer_id=customer_id, name="bench", decision_role="finance")
            session.add(contact)
            ChangeRecorder(session).put("contacts", contact, {"customer_id", "name", "decision_role"})
            session.commit()
            started = time.perf_counter()
            recompute_customers(session, [customer_id])
            timings.append((time.perf_counter() - started) * 1000)
    return timings


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark the health-score recompute on SQLite.")
    parser.add_argument("--customers", type=int, default=100_000, help="customers in the synthetic database (default 100000)")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of each measurement (default 3)")
    parser.add_argument("--orm-sample", type=int, default=2000, help="customers scored one at a time per ORM run (default 2000)")
    parser.add_argument("--incremental-runs", type=int, default=21, help="single-customer recomputes timed (default 21)")
    args = parser.parse_args()

    now = datetime.now(timezone.utc)
    with tempfile.TemporaryDirectory(prefix="bench-scoring-") as directory:
        path = Path(directory) / "bench.sqlite3"
        started = time.perf_counter()
        build_dataset(path, args.customers, now)
        print(f"dataset built in {time.perf_counter() - started:.1f} s", flush=True)
        engine = build_engine(f"sqlite:///{path}")
        cold, cold_cpu, warm, customers = time_full(engine, args.runs, now)
        orm = time_orm(engine, min(args.orm_sample, customers), args.runs, now)
        incremental = time_incremental(engine, args.incremental_runs)
        engine.dispose()

    full_median = statistics.median(cold)
    orm_extrapolated = statistics.median(orm) * customers
    result = {
        "command": " ".join([".venv/bin/python", "bench/scoring_recompute.py", *sys.argv[1:]]),
        "machine": machine(),
        "measured_at": now.isoformat(timespec="seconds"),
        # Other processes compete for the CPUs; the 1-minute load average at the end shows how much.
        "load_average_1m": os.getloadavg()[0],
        "customers": customers,
        "full_recompute_all_changed_s": {"median": full_median, "runs": cold},
        "full_recompute_all_changed_cpu_s": {"median": statistics.median(cold_cpu), "runs": cold_cpu},
        "full_recompute_none_changed_s": {"median": statistics.median(warm), "runs": warm},
        "orm_one_at_a_time_s_per_customer": {"median": statistics.median(orm), "runs": orm, "sample": min(args.orm_sample, customers)},
        "orm_one_at_a_time_extrapolated_s": orm_extrapolated,
        "speedup": orm_extrapolated / full_median,
        "incremental_one_customer_ms": {"median": statistics.median(incremental), "max": max(incremental), "runs": len(incremental)},
    }
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
